package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
	"github.com/hrgate/hrgate/sqlstore"
)

// limitsConfig returns a configuration for a limited test server on a
// free loopback port, with limit keys of its own (limits.key_prefix), so
// that tests sharing a Redis never share a limit.
func limitsConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Limits.KeyPrefix = "test-limhttp-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	return cfg
}

// openLimitsDB returns a store and gate with a consumer "payroll" that
// may read companies, and one of its keys.
func openLimitsDB(t *testing.T) (*sqlstore.DB, *gate.Gate, string) {
	t.Helper()
	db := storetest.Open(t, storetest.SQLite(t))
	g := gate.New(db)
	mustConsumer(t, g, "payroll", "companies:*")
	return db, g, mustKey(t, g, "payroll", false)
}

// startLimited opens a server on store with the limits of cfg over
// limiter.
func startLimited(t *testing.T, cfg *config.Config, store hrgate.Store, g *gate.Gate, limiter limits.Limiter, opts ...hrhttp.Option) (*hrhttp.Server, *hrhttp.Limits) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	lim, err := hrhttp.NewLimits(cfg.Limits, limiter, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() })
	srv, err := hrhttp.NewServer(context.Background(), cfg, store, g, slog.New(slog.DiscardHandler), append(opts, hrhttp.WithLimits(lim))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, lim
}

// call performs a request, validates the answer against the OpenAPI
// document and returns it. hdr are header name/value pairs.
func call(t *testing.T, c *http.Client, method, url, key string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	loadDoc(t).Validate(t, resp, body)
	return response{resp.StatusCode, resp.Header, body}
}

func problemType(t *testing.T, r response) string {
	t.Helper()
	var p struct{ Type string }
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem document: %s", r.body)
	}
	return p.Type
}

// checkRateLimitHeaders asserts that an answer of a limited route carries
// the four RateLimit headers, and a refusal Retry-After too.
func checkRateLimitHeaders(t *testing.T, r response) {
	t.Helper()
	for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} {
		if r.header.Get(h) == "" {
			t.Errorf("status %d without %s", r.status, h)
		}
	}
	if r.status == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("429 with Retry-After %q", r.header.Get("Retry-After"))
		}
	}
}

// driveAccuracy sends requests with key to every server from four
// goroutines each, each at up to 100 a second, for window, and returns the requests admitted, the
// requests sent, and how long the run took. Any answer other than 200
// and 429 fails the test.
func driveAccuracy(t *testing.T, servers []*hrhttp.Server, key string, window time.Duration) (admitted, sent int64, elapsed time.Duration) {
	t.Helper()
	var ok, total atomic.Int64
	var checked sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for _, srv := range servers {
		client := tlsClient(t, srv.CertFile, nil)
		url := srv.URL() + "/v1/companies"
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Paced, not flat out: 100 requests/s per goroutine is
				// well over the limit and leaves the CPU free, so that
				// no pause of the whole process starves the limiter of
				// arrivals for longer than the burst covers.
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for ; time.Since(start) < window; <-tick.C {
					req, _ := http.NewRequest(http.MethodGet, url, nil)
					req.Header.Set("Authorization", "Bearer "+key)
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					total.Add(1)
					switch resp.StatusCode {
					case http.StatusOK:
						ok.Add(1)
					case http.StatusTooManyRequests:
						checked.Do(func() {
							r := response{resp.StatusCode, resp.Header, body}
							loadDoc(t).Validate(t, resp, body)
							checkRateLimitHeaders(t, r)
							if typ := problemType(t, r); typ != "urn:hrgate:problem:rate_limited" {
								t.Errorf("refusal of type %s, want rate_limited", typ)
							}
						})
					default:
						t.Errorf("status %d: %s", resp.StatusCode, body)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	return ok.Load(), total.Load(), time.Since(start)
}

// checkAccuracy asserts the bound: the burst plus 50 a second over
// the run, within 2%. The driver must have offered well over the limit,
// or the test proves nothing.
func checkAccuracy(t *testing.T, admitted, sent int64, elapsed time.Duration, burst int) {
	t.Helper()
	want := float64(burst) + 50*elapsed.Seconds()
	if offered := float64(sent) / elapsed.Seconds(); offered < 100 {
		t.Fatalf("the driver offered only %.0f requests/s; the test needs well over 50", offered)
	}
	lo, hi := int64(want*0.98), int64(want*1.02+1)
	t.Logf("admitted %d of %d in %v; want %d..%d (burst %d + 50/s)", admitted, sent, elapsed, lo, hi, burst)
	if admitted < lo || admitted > hi {
		t.Fatalf("admitted %d in %v at 50/s with a burst of %d; want %d..%d", admitted, elapsed, burst, lo, hi)
	}
}

// TestRateLimitAccuracyMemory drives one instance in memory for 10 s
// against a 50/s credential limit with a burst of 5.
func TestRateLimitAccuracyMemory(t *testing.T) {
	db, g, key := openLimitsDB(t)
	cfg := limitsConfig(t)
	cfg.Limits.Credential = config.RateLimit{Rate: "50/s", Burst: 5}
	srv, _ := startLimited(t, cfg, db, g, limits.NewMemory(nil))
	admitted, sent, elapsed := driveAccuracy(t, []*hrhttp.Server{srv}, key, 10*time.Second)
	checkAccuracy(t, admitted, sent, elapsed, 5)
}

// testRedisURL returns the test Redis, skipping when none is configured.
func testRedisURL(t *testing.T) string {
	u := os.Getenv("HRGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("HRGATE_TEST_REDIS is not set in CI")
		}
		t.Skip("HRGATE_TEST_REDIS is not set; skipping the tests of limits shared through Redis")
	}
	return u
}

// redisLimiter returns a limiter through the Redis at url as serve builds
// it: the Redis limiter behind a failover.
func redisLimiter(t *testing.T, url string, instances int) *limits.Failover {
	t.Helper()
	client, err := limits.NewRedisClient(url, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	f := limits.NewFailover(limits.NewRedis(client), func(ctx context.Context) error { return client.Ping(ctx).Err() },
		instances, limits.NewMemory(nil), nil)
	t.Cleanup(func() {
		_ = f.Close()
		_ = client.Close()
	})
	return f
}

// TestRateLimitAccuracyRedis drives three instances sharing one Redis, each
// a real listener with its own limiter, concurrently for 10 s against one
// 50/s credential limit with a burst of 5: together they admit what one
// would.
func TestRateLimitAccuracyRedis(t *testing.T) {
	url := testRedisURL(t)
	db, g, key := openLimitsDB(t)
	cfg := limitsConfig(t)
	cfg.Limits.Credential = config.RateLimit{Rate: "50/s", Burst: 5}
	cfg.Limits.Instances = 3
	var servers []*hrhttp.Server
	var failovers []*limits.Failover
	for range 3 {
		f := redisLimiter(t, url, 3)
		srv, _ := startLimited(t, cfg, db, g, f)
		servers, failovers = append(servers, srv), append(failovers, f)
	}
	admitted, sent, elapsed := driveAccuracy(t, servers, key, 10*time.Second)
	for i, f := range failovers {
		if st := f.Stats(); st.Fallbacks != 0 {
			t.Fatalf("instance %d decided %d requests locally: the run did not test Redis", i, st.Fallbacks)
		}
	}
	checkAccuracy(t, admitted, sent, elapsed, 5)
}

// TestQuotaAndHeaders checks the answers of limited routes: the headers
// on admitted requests too, and a daily quota told apart from a rate.
func TestQuotaAndHeaders(t *testing.T) {
	db, g, key := openLimitsDB(t)
	cfg := limitsConfig(t)
	cfg.Limits.Credential = config.RateLimit{Quota: "3/day"}
	srv, _ := startLimited(t, cfg, db, g, limits.NewMemory(nil))
	c := tlsClient(t, srv.CertFile, nil)
	for i := range 3 {
		r := call(t, c, http.MethodGet, srv.URL()+"/v1/companies", key)
		if r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		checkRateLimitHeaders(t, r)
		if got, want := r.header.Get("RateLimit-Remaining"), strconv.Itoa(2-i); got != want {
			t.Errorf("request %d: RateLimit-Remaining %s, want %s", i, got, want)
		}
	}
	r := call(t, c, http.MethodGet, srv.URL()+"/v1/companies", key)
	if r.status != http.StatusTooManyRequests || problemType(t, r) != "urn:hrgate:problem:quota_exceeded" {
		t.Fatalf("past the quota: %d %s", r.status, r.body)
	}
	checkRateLimitHeaders(t, r)
	if got := r.header.Get("RateLimit-Policy"); got != "3;w=86400" {
		t.Errorf("RateLimit-Policy %q, want 3;w=86400", got)
	}
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 86400 {
		t.Errorf("Retry-After %d is not the time to midnight UTC", ra)
	}
	// A refusal consumes nothing: another key of the same consumer is
	// untouched by the first key's quota.
	other := mustKey(t, g, "payroll", false)
	if r := call(t, c, http.MethodGet, srv.URL()+"/v1/companies", other); r.status != http.StatusOK {
		t.Fatalf("another key: %d %s", r.status, r.body)
	}
}

// TestRouteClassLimit limits single-record reads apart from lists.
func TestRouteClassLimit(t *testing.T) {
	db, g, key := openLimitsDB(t)
	cfg := limitsConfig(t)
	cfg.Limits.Routes = map[string]config.RateLimit{"single": {Quota: "1/day"}}
	srv, _ := startLimited(t, cfg, db, g, limits.NewMemory(nil))
	c := tlsClient(t, srv.CertFile, nil)
	one := srv.URL() + "/v1/companies/" + "cmp_00000000000000000000000000"
	if r := call(t, c, http.MethodGet, one, key); r.status != http.StatusNotFound {
		t.Fatalf("first single read: %d %s", r.status, r.body)
	}
	if r := call(t, c, http.MethodGet, one, key); r.status != http.StatusTooManyRequests {
		t.Fatalf("second single read: %d %s", r.status, r.body)
	}
	if r := call(t, c, http.MethodGet, srv.URL()+"/v1/companies", key); r.status != http.StatusOK {
		t.Fatalf("a list after the single-read quota: %d %s", r.status, r.body)
	}
}

// blockingStore holds every company look-up until release is closed, so
// that requests stay in flight.
type blockingStore struct {
	hrgate.Store
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) FindCompanies(ctx context.Context, f hrgate.CompanyFilter) ([]*hrgate.Company, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.FindCompanies(ctx, f)
}

// TestConcurrencyCap holds requests of one credential in flight: past
// limits.max_concurrent the next one is refused, another credential is
// not, and once they finish the credential is served again.
func TestConcurrencyCap(t *testing.T) {
	db, g, key := openLimitsDB(t)
	other := mustKey(t, g, "payroll", false)
	cfg := limitsConfig(t)
	cfg.Limits.MaxConcurrent = 2
	store := &blockingStore{Store: db, entered: make(chan struct{}, 16), release: make(chan struct{})}
	srv, _ := startLimited(t, cfg, store, g, limits.NewMemory(nil))
	c := tlsClient(t, srv.CertFile, nil)
	url := srv.URL() + "/v1/companies"

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := call(t, c, http.MethodGet, url, key); r.status != http.StatusOK {
				t.Errorf("held request: %d %s", r.status, r.body)
			}
		}()
		<-store.entered
	}
	r := call(t, c, http.MethodGet, url, key)
	if r.status != http.StatusTooManyRequests || problemType(t, r) != "urn:hrgate:problem:too_many_concurrent" || r.header.Get("Retry-After") == "" {
		t.Fatalf("third concurrent request: %d %v %s", r.status, r.header, r.body)
	}
	// Another credential has slots of its own.
	done := make(chan response)
	go func() { done <- call(t, c, http.MethodGet, url, other) }()
	close(store.release)
	if r := <-done; r.status != http.StatusOK {
		t.Fatalf("another credential: %d %s", r.status, r.body)
	}
	wg.Wait()
	if r := call(t, c, http.MethodGet, url, key); r.status != http.StatusOK {
		t.Fatalf("after the held requests finished: %d %s", r.status, r.body)
	}
}

// brokenLimiter fails every decision, as no limiter of hrgate's does
// unless the request went away.
type brokenLimiter struct{}

func (brokenLimiter) Allow(context.Context, []limits.Rule) (limits.Decision, error) {
	return limits.Decision{}, errors.New("broken")
}

// TestLimiterFailureAdmits: a limiter that fails, rather than refusing,
// admits the authenticated request (docs/limits.md) and says so in the
// log; the answer carries no RateLimit headers, there being no decision
// to describe.
func TestLimiterFailureAdmits(t *testing.T) {
	db, g, key := openLimitsDB(t)
	cfg := limitsConfig(t)
	logs := &lockedBuffer{}
	lim, err := hrhttp.NewLimits(cfg.Limits, brokenLimiter{}, slog.New(slog.NewTextHandler(logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() })
	srv, err := hrhttp.NewServer(context.Background(), cfg, db, g, slog.New(slog.DiscardHandler), hrhttp.WithLimits(lim))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := tlsClient(t, srv.CertFile, nil)
	r := call(t, c, http.MethodGet, srv.URL()+"/v1/companies", key)
	if r.status != http.StatusOK {
		t.Fatalf("with a failing limiter: %d %s; want the request admitted", r.status, r.body)
	}
	if h := r.header.Get("RateLimit-Limit"); h != "" {
		t.Errorf("RateLimit-Limit %q without a decision", h)
	}
	if !strings.Contains(logs.String(), "the rate limiter failed") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
}

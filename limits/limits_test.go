package limits_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
)

var ctx = context.Background()

// clock is a settable clock for the memory limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMemoryRate(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	m := limits.NewMemory(c.now)
	rule := []limits.Rule{{Key: "cred:a", Limit: limits.Limit{Rate: 10, Burst: 5}}}
	admitted := 0
	for range 20 {
		d, _ := m.Allow(ctx, rule)
		if d.Allowed {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("admitted %d of 20 at once; want the burst, 5", admitted)
	}
	d, _ := m.Allow(ctx, rule)
	if d.Allowed || d.RetryAfter != 100*time.Millisecond || d.Limit != 5 || d.Remaining != 0 {
		t.Fatalf("refusal = %+v; want retry after 100ms, limit 5, none remaining", d)
	}
	// Over 10 seconds at exactly the rate, every request fits.
	for range 100 {
		c.add(100 * time.Millisecond)
		if d, _ := m.Allow(ctx, rule); !d.Allowed {
			t.Fatalf("a request at the sustained rate was refused: %+v", d)
		}
	}
}

func TestMemoryQuota(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 23, 59, 0, 0, time.UTC)}
	m := limits.NewMemory(c.now)
	rule := []limits.Rule{{Key: "cons:payroll", Limit: limits.Limit{Quota: 3}}}
	for i := range 3 {
		if d, _ := m.Allow(ctx, rule); !d.Allowed || d.Remaining != int64(2-i) {
			t.Fatalf("request %d: %+v; want admitted with %d remaining", i, d, 2-i)
		}
	}
	d, _ := m.Allow(ctx, rule)
	if d.Allowed || !d.QuotaExceeded || d.RetryAfter != time.Minute {
		t.Fatalf("over quota: %+v; want a quota refusal until midnight UTC", d)
	}
	c.add(time.Minute)
	if d, _ := m.Allow(ctx, rule); !d.Allowed {
		t.Fatalf("the quota did not reset at midnight UTC: %+v", d)
	}
}

// testAtomicAcrossRules checks that a request refused by one rule counts
// against none of the others.
func testAtomicAcrossRules(t *testing.T, l limits.Limiter, prefix string) {
	tight := limits.Rule{Key: prefix + "cred:tight", Limit: limits.Limit{Quota: 1}}
	shared := limits.Rule{Key: prefix + "cons:shared", Limit: limits.Limit{Quota: 3}}
	if d, err := l.Allow(ctx, []limits.Rule{tight, shared}); err != nil || !d.Allowed {
		t.Fatalf("first = %+v, %v", d, err)
	}
	for range 5 {
		if d, err := l.Allow(ctx, []limits.Rule{tight, shared}); err != nil || d.Allowed || d.Rule != 0 {
			t.Fatalf("over the tight quota = %+v, %v; want refused by rule 0", d, err)
		}
	}
	other := limits.Rule{Key: prefix + "cred:other", Limit: limits.Limit{Quota: 10}}
	for i := range 2 {
		if d, err := l.Allow(ctx, []limits.Rule{other, shared}); err != nil || !d.Allowed {
			t.Fatalf("shared quota request %d = %+v, %v; refusals elsewhere consumed it", i, d, err)
		}
	}
	if d, _ := l.Allow(ctx, []limits.Rule{other, shared}); d.Allowed || !d.QuotaExceeded || d.Rule != 1 {
		t.Fatalf("fourth on the shared quota = %+v; want refused by rule 1", d)
	}
}

func TestMemoryAtomicAcrossRules(t *testing.T) {
	testAtomicAcrossRules(t, limits.NewMemory(nil), "")
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{{"50/s", 50, true}, {"120/m", 2, true}, {"3600/h", 1, true}, {"0/s", 0, false}, {"-1/s", 0, false},
		{"50", 0, false}, {"50/d", 0, false}, {"x/s", 0, false}, {"NaN/s", 0, false}, {"Inf/s", 0, false}} {
		got, err := limits.ParseRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v", tt.in, got, err)
		}
	}
	if q, err := limits.ParseQuota("20000/day"); err != nil || q != 20000 {
		t.Errorf("ParseQuota = %d, %v", q, err)
	}
	for _, bad := range []string{"20000", "1.5/day", "0/day", "5/h"} {
		if _, err := limits.ParseQuota(bad); err == nil {
			t.Errorf("ParseQuota(%q) accepted", bad)
		}
	}
	if err := (limits.Limit{Rate: 5}).Validate(); err == nil {
		t.Error("a rate without a burst validated")
	}
	// A rate so slow that a burst's tolerance overflows must not
	// validate; the slowest that does must still decide sensibly.
	if err := (limits.Limit{Rate: 1e-10, Burst: 10_000}).Validate(); err == nil {
		t.Error("a rate of one request in 300 years validated")
	}
	slowest := limits.Limit{Rate: 1.0 / 86400, Burst: 1_000_000}
	if err := slowest.Validate(); err != nil {
		t.Fatalf("one request a day: %v", err)
	}
	m := limits.NewMemory(nil)
	for i := range 2 {
		d, _ := m.Allow(ctx, []limits.Rule{{Key: "slow", Limit: slowest}})
		if !d.Allowed || d.Remaining != int64(slowest.Burst-1-i) || d.Reset <= 0 {
			t.Fatalf("decision %d at one request a day = %+v; want admitted, %d remaining", i, d, slowest.Burst-1-i)
		}
	}
}

// redisURL returns the test Redis, skipping when none is configured.
func redisURL(t testing.TB) string {
	u := os.Getenv("HRGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("HRGATE_TEST_REDIS is not set in CI")
		}
		t.Skip("HRGATE_TEST_REDIS is not set; skipping the Redis limiter tests")
	}
	return u
}

func newClient(t testing.TB, url string) *redis.Client {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// prefix makes the keys of one test run unique on a shared server.
func prefix() string { return "test" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":" }

func TestRedisAtomicAcrossRules(t *testing.T) {
	testAtomicAcrossRules(t, limits.NewRedis(newClient(t, redisURL(t))), prefix())
}

// TestRedisSharedAccuracy drives three limiters (three instances) on one
// Redis against one 50/s limit with a burst of 5: together they admit the
// burst and then 50 a second, give or take one request at each edge. The
// burst is what absorbs the jitter of request timing: with a burst of 1 a
// request that arrives late loses its slot for good.
func TestRedisSharedAccuracy(t *testing.T) {
	url := redisURL(t)
	rule := []limits.Rule{{Key: prefix() + "cred:accuracy", Limit: limits.Limit{Rate: 50, Burst: 5}}}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	window := 2 * time.Second
	for range 3 {
		l := limits.NewRedis(newClient(t, url))
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < window {
					d, err := l.Allow(ctx, rule)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The bound: within 2% of the burst plus 50 a second over
	// the time the run took.
	want := 5 + 50*elapsed.Seconds()
	lo, hi := int64(want*0.98), int64(want*1.02+1)
	if n := admitted.Load(); n < lo || n > hi {
		t.Fatalf("three instances admitted %d in %v at 50/s; want %d..%d", n, elapsed, lo, hi)
	}
}

// startRedis runs a private redis-server on a free port, so that the test
// can stop and restart it without disturbing the shared one.
func startRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestFailover stops Redis under a running limiter: no decision fails,
// the per-instance fallback engages, and when Redis returns the limits are
// shared again.
func TestFailover(t *testing.T) {
	redisURL(t)
	port := freePort(t)
	srv := startRedis(t, port)
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port),
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	f := limits.NewFailover(limits.NewRedis(client), func(ctx context.Context) error { return client.Ping(ctx).Err() },
		2, limits.NewMemory(nil), nil)
	t.Cleanup(func() { _ = f.Close() })
	rule := []limits.Rule{{Key: "cred:failover", Limit: limits.Limit{Quota: 1000}}}

	decide := func() limits.Decision {
		t.Helper()
		d, err := f.Allow(ctx, rule)
		if err != nil {
			t.Fatalf("Allow failed: %v", err)
		}
		return d
	}
	if d := decide(); !d.Allowed || d.Remaining != 999 || f.Stats().Down {
		t.Fatalf("through Redis: %+v, %+v", d, f.Stats())
	}

	_ = srv.Process.Kill()
	_ = srv.Wait()
	// While Redis is down every decision is local, with the quota split
	// between the two instances.
	for range 10 {
		if d := decide(); !d.Allowed || d.Limit != 500 {
			t.Fatalf("during the outage: %+v; want admitted under the halved quota", d)
		}
	}
	if st := f.Stats(); !st.Down || st.Outages != 1 || st.Fallbacks < 10 {
		t.Fatalf("stats during the outage = %+v", st)
	}

	srv = startRedis(t, port)
	deadline := time.Now().Add(15 * time.Second)
	for f.Stats().Down {
		if time.Now().After(deadline) {
			t.Fatal("the failover did not notice that Redis is back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Redis restarted empty (no persistence): shared counting resumes
	// from its state.
	if d := decide(); !d.Allowed || d.Limit != 1000 || d.Remaining != 999 {
		t.Fatalf("after Redis returned: %+v; want the shared quota again", d)
	}
}

func TestBruteForce(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	b := limits.NewBruteForce(c.now)
	attacker := limits.AddrSource(netip.MustParseAddr("2001:db8:1:2::1"))
	sameHost := limits.AddrSource(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	other := limits.AddrSource(netip.MustParseAddr("192.0.2.7"))
	if attacker != sameHost {
		t.Fatalf("two addresses of one /64 are two sources: %s, %s", attacker, sameHost)
	}
	var lockouts []time.Duration
	for range 1000 {
		if wait := b.Locked(attacker); wait > 0 {
			c.add(wait) // a patient attacker waits out each lockout
			continue
		}
		if d := b.Fail(attacker); d > 0 {
			lockouts = append(lockouts, d)
		}
	}
	if len(lockouts) < 5 || lockouts[0] != time.Second || lockouts[1] != 2*time.Second || lockouts[4] != 16*time.Second {
		t.Fatalf("lockouts = %v; want 1s, 2s, 4s, 8s, 16s, ...", lockouts)
	}
	if max := lockouts[len(lockouts)-1]; max > 15*time.Minute {
		t.Fatalf("lockout grew to %v, past the cap", max)
	}
	if b.Locked(other) != 0 {
		t.Fatal("another address is locked out by the attacker's failures")
	}
	b.Fail(attacker)
	for range 9 {
		b.Fail(attacker)
	}
	if b.Locked(attacker, other) == 0 {
		t.Fatal("a request naming a locked source is not locked")
	}
}

// TestWithDefaultBurst: a rate set without a burst gets one second's
// worth, rounded up, and at least 1; a burst set, or no rate, is kept.
func TestWithDefaultBurst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        limits.Limit
		wantBurst int
	}{
		{"RateOnly", limits.Limit{Rate: 7.5}, 8},
		{"SlowestRate", limits.Limit{Rate: hrgate.MinRate}, 1},
		{"BurstKept", limits.Limit{Rate: 5, Burst: 2}, 2},
		{"NoRate", limits.Limit{Quota: 3}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.WithDefaultBurst()
			if want := (limits.Limit{Rate: tc.in.Rate, Burst: tc.wantBurst, Quota: tc.in.Quota}); got != want {
				t.Fatalf("%+v.WithDefaultBurst() = %+v, want %+v", tc.in, got, want)
			}
		})
	}
}

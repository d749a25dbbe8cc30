package http

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/limits"
)

// TestOwnLimit checks how a credential's or consumer's own allowance
// falls back to the configured default, field by field.
func TestOwnLimit(t *testing.T) {
	def := limits.Limit{Rate: 50, Burst: 100, Quota: 1000}
	for _, tc := range []struct {
		name    string
		own     hrgate.RateLimit
		want    limits.Limit
		invalid bool
	}{
		{"ZeroIsTheDefault", hrgate.RateLimit{}, def, false},
		{"RateWithoutBurstGetsOneSecond", hrgate.RateLimit{Rate: 7.5}, limits.Limit{Rate: 7.5, Burst: 8, Quota: 1000}, false},
		{"RateAndBurst", hrgate.RateLimit{Rate: 5, Burst: 2}, limits.Limit{Rate: 5, Burst: 2, Quota: 1000}, false},
		{"QuotaOnly", hrgate.RateLimit{Quota: 20}, limits.Limit{Rate: 50, Burst: 100, Quota: 20}, false},
		{"InvalidGivesWayToTheDefault", hrgate.RateLimit{Rate: 5, Burst: 2_000_000}, def, true},
		{"RateBelowOneADayGivesWayToTheDefault", hrgate.RateLimit{Rate: 1e-9}, def, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := own(tc.own, def)
			if got != tc.want || (err != nil) != tc.invalid {
				t.Fatalf("own(%+v) = %+v, %v; want %+v, invalid %v", tc.own, got, err, tc.want, tc.invalid)
			}
		})
	}
	// own has no case for a burst without a rate: no operator can set
	// one, the gate refuses it (and the store, sqlstore's badLimits).
	t.Run("BurstWithoutRateIsRefusedBeforeOwn", func(t *testing.T) {
		err := gate.CheckRateLimit(hrgate.RateLimit{Burst: 10}, gate.LimitFields{Rate: "rate", Burst: "burst", Quota: "quota"})
		if hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("CheckRateLimit of a burst without a rate = %v; want EINVALID", err)
		}
	})
}

// TestInvalidOwnLimitLoggedOnce: a stored limit that does not validate
// comes with every request of its credential; the default applies to
// each, and the log says so once, not per request.
func TestInvalidOwnLimitLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	cfg := config.Default()
	l, err := NewLimits(cfg.Limits, limits.NewMemory(nil), slog.New(slog.NewTextHandler(&buf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	p := &gate.Principal{KeyID: "key_0123456789abcdefghij", ConsumerID: "con_0123456789abcdefghij",
		RateLimit: hrgate.RateLimit{Rate: 1e-9}, ConsumerRateLimit: hrgate.RateLimit{Rate: 5, Burst: 2_000_000}}
	for range 3 {
		var rules [4]limits.Rule
		seen := 0
		for _, r := range l.apiRules(rules[:0], p, "list") {
			switch r.Key {
			case l.credential.key:
				seen++
				if r.Limit != l.credential.limit {
					t.Fatalf("credential rule %+v; want the default %+v", r.Limit, l.credential.limit)
				}
			case l.consumer.key:
				seen++
				if r.Limit != l.consumer.limit {
					t.Fatalf("consumer rule %+v; want the default %+v", r.Limit, l.consumer.limit)
				}
			}
		}
		if seen != 2 {
			t.Fatalf("%d credential and consumer rules; want both", seen)
		}
	}
	if n := strings.Count(buf.String(), "a stored rate limit is invalid"); n != 1 {
		t.Fatalf("logged the invalid limit %d times over 3 requests; want once:\n%s", n, buf.String())
	}
}

// TestNoTokenQuota: the token endpoint's limit applies before the client
// is authenticated, so it takes no quota (see NewLimits).
func TestNoTokenQuota(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.Routes = map[string]config.RateLimit{"token": {Rate: "5/s", Burst: 20, Quota: "1000/day"}}
	if _, err := NewLimits(cfg.Limits, limits.NewMemory(nil), nil, nil); err == nil || !strings.Contains(err.Error(), "limits.routes.token") || !strings.Contains(err.Error(), "not a quota") {
		t.Fatalf("NewLimits with a token quota = %v; want an error naming limits.routes.token", err)
	}
	cfg.Limits.Routes["list"] = config.RateLimit{Quota: "1000/day"}
	cfg.Limits.Routes["token"] = config.RateLimit{Rate: "5/s", Burst: 20}
	l, err := NewLimits(cfg.Limits, limits.NewMemory(nil), nil, nil)
	if err != nil {
		t.Fatalf("NewLimits with a list quota and a token rate: %v", err)
	}
	_ = l.Close()
}

func TestRateLimitHeaders(t *testing.T) {
	rules := []limits.Rule{{Key: "a", Limit: limits.Limit{Rate: 50, Burst: 100}}, {Key: "b", Limit: limits.Limit{Quota: 500}}}
	h := http.Header{}
	setRateLimitHeaders(h, limits.Decision{Allowed: true, Rule: 0, Limit: 100, Remaining: 42, Reset: 1500 * time.Millisecond}, rules)
	for k, want := range map[string]string{"RateLimit-Limit": "100", "RateLimit-Remaining": "42", "RateLimit-Reset": "2", "RateLimit-Policy": "100;w=2"} {
		if got := h.Get(k); got != want {
			t.Errorf("rate: %s = %q, want %q", k, got, want)
		}
	}
	h = http.Header{}
	setRateLimitHeaders(h, limits.Decision{QuotaExceeded: true, Quota: true, Rule: 1, Limit: 500, Reset: time.Hour}, rules)
	if got := h.Get("RateLimit-Policy"); got != "500;w=86400" {
		t.Errorf("quota: RateLimit-Policy = %q", got)
	}
	// One rule whose burst and quota are the same figure: the decision,
	// not the figure, says which of the two decided.
	both := []limits.Rule{{Key: "c", Limit: limits.Limit{Rate: 10, Burst: 100, Quota: 100}}}
	for _, tc := range []struct {
		quota bool
		want  string
	}{{false, "100;w=10"}, {true, "100;w=86400"}} {
		h = http.Header{}
		setRateLimitHeaders(h, limits.Decision{Allowed: true, Quota: tc.quota, Rule: 0, Limit: 100, Remaining: 98, Reset: time.Hour}, both)
		if got := h.Get("RateLimit-Policy"); got != tc.want {
			t.Errorf("burst = quota, quota decided %v: RateLimit-Policy = %q, want %q", tc.quota, got, tc.want)
		}
	}
	h = http.Header{}
	setRateLimitHeaders(h, limits.Decision{Allowed: true, Rule: -1}, rules)
	if len(h) != 0 {
		t.Errorf("no rule decided, yet headers %v", h)
	}
	if routeClass("GET /v1/employees/{id}") != "single" || routeClass("GET /v1/employees") != "list" {
		t.Error("route classes")
	}
}

// TestLimitsAllocations: the limits' share of every API request, its
// rules and its RateLimit headers, stays off the garbage collector's
// path: the rules join no strings, the headers cost two allocations.
func TestLimitsAllocations(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.KeyPrefix = "deploy:"
	cfg.Limits.Routes["list"] = config.RateLimit{Rate: "5/s", Burst: 10, Quota: "20000/day"}
	l, err := NewLimits(cfg.Limits, limits.NewMemory(nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	p := &gate.Principal{KeyID: "key_0123456789abcdefghij", ConsumerID: "con_0123456789abcdefghij"}
	var buf [4]limits.Rule
	rules := l.apiRules(buf[:0], p, "list")
	if len(rules) != 4 || rules[0].Key+rules[0].ID != "deploy:cred:"+p.KeyID || rules[2].Key+rules[2].ID != "deploy:route:list:"+p.KeyID {
		t.Fatalf("rules = %+v", rules)
	}
	if n := testing.AllocsPerRun(100, func() { _ = l.apiRules(buf[:0], p, "list") }); n != 0 {
		t.Errorf("a request's rules allocate %v times; want 0", n)
	}
	v6 := netip.MustParseAddr("2001:db8:1:2:3:4:5:6")
	if got := limits.AddrSource(v6); got != "addr:2001:db8:1:2::/64" {
		t.Errorf("AddrSource(%s) = %q", v6, got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = limits.AddrSource(v6) }); n > 1 {
		t.Errorf("a client address's source allocates %v times; want at most 1", n)
	}
	h := http.Header{}
	d := limits.Decision{Allowed: true, Rule: 2, Limit: 1000, Remaining: 999, Reset: 1500 * time.Second}
	if n := testing.AllocsPerRun(100, func() { setRateLimitHeaders(h, d, rules) }); n > 2 {
		t.Errorf("the RateLimit headers allocate %v times; want at most 2", n)
	}
	for k, want := range map[string]string{"RateLimit-Limit": "1000", "RateLimit-Remaining": "999", "RateLimit-Reset": "1500", "RateLimit-Policy": "1000;w=2"} {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

package http

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
)

// TestOwnLimit checks how a credential's or consumer's own allowance
// falls back to the configured default, field by field.
func TestOwnLimit(t *testing.T) {
	def := limits.Limit{Rate: 50, Burst: 100, Quota: 1000}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name string
		own  hrgate.RateLimit
		want limits.Limit
	}{
		{"ZeroIsTheDefault", hrgate.RateLimit{}, def},
		{"RateWithoutBurstGetsOneSecond", hrgate.RateLimit{Rate: 7.5}, limits.Limit{Rate: 7.5, Burst: 8, Quota: 1000}},
		{"RateAndBurst", hrgate.RateLimit{Rate: 5, Burst: 2}, limits.Limit{Rate: 5, Burst: 2, Quota: 1000}},
		{"BurstOnlyKeepsTheDefaultRate", hrgate.RateLimit{Burst: 10}, limits.Limit{Rate: 50, Burst: 10, Quota: 1000}},
		{"QuotaOnly", hrgate.RateLimit{Quota: 20}, limits.Limit{Rate: 50, Burst: 100, Quota: 20}},
		{"InvalidGivesWayToTheDefault", hrgate.RateLimit{Rate: 5, Burst: 2_000_000}, def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := own(tc.own, def, log); got != tc.want {
				t.Fatalf("own(%+v) = %+v, want %+v", tc.own, got, tc.want)
			}
		})
	}
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
	setRateLimitHeaders(h, limits.Decision{QuotaExceeded: true, Rule: 1, Limit: 500, Reset: time.Hour}, rules)
	if got := h.Get("RateLimit-Policy"); got != "500;w=86400" {
		t.Errorf("quota: RateLimit-Policy = %q", got)
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

package limits_test

import (
	"testing"
	"time"

	"github.com/hrgate/hrgate/limits"
)

// testDecisions runs one table of requests against a limiter. Memory and
// Redis each implement GCRA and the daily quota (memory.go, gcra.lua), so
// they pass the same table: every field of every decision must agree.
// The rates are slow enough that the real time a run takes moves no
// decision, and the durations are compared to within a second.
func testDecisions(t *testing.T, l limits.Limiter, prefix string) {
	const slack = time.Second
	hourly := limits.Limit{Rate: 1.0 / 3600, Burst: 3}
	// Slower than a day, so that its wait outlasts any quota's.
	twoDaily := limits.Limit{Rate: 1.0 / (48 * 3600), Burst: 1}
	now := time.Now().UTC()
	untilMidnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(now)
	// quota: the rule's daily quota decided, not its rate (refused by
	// it when not allowed).
	type want struct {
		allowed, quota   bool
		rule             int
		limit, remaining int64
		reset, retry     time.Duration
		resetApprox      bool
	}
	for _, tc := range []struct {
		name  string
		rules []limits.Rule
		want  []want
	}{
		{"Burst", []limits.Rule{{Key: prefix + "burst", Limit: hourly}}, []want{
			{allowed: true, rule: 0, limit: 3, remaining: 2, reset: time.Hour},
			{allowed: true, rule: 0, limit: 3, remaining: 1, reset: 2 * time.Hour},
			{allowed: true, rule: 0, limit: 3, remaining: 0, reset: 3 * time.Hour},
			// Refused: the TAT stays at 3h ahead, one interval too far.
			{allowed: false, rule: 0, limit: 3, remaining: 0, reset: 3 * time.Hour, retry: time.Hour},
			{allowed: false, rule: 0, limit: 3, remaining: 0, reset: 3 * time.Hour, retry: time.Hour},
		}},
		{"QuotaDecidesWithLeastRoom", []limits.Rule{
			{Key: prefix + "roomy", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 10}},
			{Key: prefix + "quota", Limit: limits.Limit{Quota: 2}},
		}, []want{
			{allowed: true, quota: true, rule: 1, limit: 2, remaining: 1, reset: untilMidnight, resetApprox: true},
			{allowed: true, quota: true, rule: 1, limit: 2, remaining: 0, reset: untilMidnight, resetApprox: true},
			{allowed: false, quota: true, rule: 1, limit: 2, remaining: 0, reset: untilMidnight, retry: untilMidnight, resetApprox: true},
		}},
		{"RateDecidesWithLeastRoom", []limits.Rule{
			{Key: prefix + "tight", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 1}},
			{Key: prefix + "quota2", Limit: limits.Limit{Quota: 100}},
		}, []want{
			{allowed: true, rule: 0, limit: 1, remaining: 0, reset: time.Hour},
			{allowed: false, rule: 0, limit: 1, remaining: 0, reset: time.Hour, retry: time.Hour},
		}},
		{"LongestWaitRefuses", []limits.Rule{
			{Key: prefix + "daily", Limit: limits.Limit{Quota: 1}},
			{Key: prefix + "slow", Limit: twoDaily},
		}, []want{
			{allowed: true, quota: true, rule: 0, limit: 1, remaining: 0, reset: untilMidnight, resetApprox: true},
			{allowed: false, rule: 1, limit: 1, remaining: 0, reset: 48 * time.Hour, retry: 48 * time.Hour},
		}},
		// Rules with a rate, a quota, both or neither side by side: each
		// must be read and written under its own keys.
		{"MixedRules", []limits.Rule{
			{Key: prefix + "mixed:free"},
			{Key: prefix + "mixed:quota", Limit: limits.Limit{Quota: 3}},
			{Key: prefix + "mixed:both", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 2, Quota: 10}},
			{Key: prefix + "mixed:rate", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 4}},
		}, []want{
			{allowed: true, rule: 2, limit: 2, remaining: 1, reset: time.Hour},
			{allowed: true, rule: 2, limit: 2, remaining: 0, reset: 2 * time.Hour},
			{allowed: false, rule: 2, limit: 2, remaining: 0, reset: 2 * time.Hour, retry: time.Hour},
		}},
		{"MixedRulesQuotaRefuses", []limits.Rule{
			{Key: prefix + "mixed2:free"},
			{Key: prefix + "mixed2:quota", Limit: limits.Limit{Quota: 1}},
			{Key: prefix + "mixed2:both", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 2, Quota: 10}},
			{Key: prefix + "mixed2:rate", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 4}},
		}, []want{
			{allowed: true, quota: true, rule: 1, limit: 1, remaining: 0, reset: untilMidnight, resetApprox: true},
			{allowed: false, quota: true, rule: 1, limit: 1, remaining: 0, reset: untilMidnight, retry: untilMidnight, resetApprox: true},
		}},
		// A rule's ID is part of its key: another ID under the same
		// Key starts with its own burst.
		{"ID", []limits.Rule{{Key: prefix + "cred:", ID: "key_a", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 1}}}, []want{
			{allowed: true, rule: 0, limit: 1, remaining: 0, reset: time.Hour},
			{allowed: false, rule: 0, limit: 1, remaining: 0, reset: time.Hour, retry: time.Hour},
		}},
		{"OtherID", []limits.Rule{{Key: prefix + "cred:", ID: "key_b", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 1, Quota: 5}}}, []want{
			{allowed: true, rule: 0, limit: 1, remaining: 0, reset: time.Hour},
		}},
		{"NothingLimited", []limits.Rule{{Key: prefix + "free"}}, []want{
			{allowed: true, rule: -1, remaining: 0},
			{allowed: true, rule: -1, remaining: 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, w := range tc.want {
				d, err := l.Allow(ctx, tc.rules)
				if err != nil {
					t.Fatal(err)
				}
				near := func(got, want time.Duration) bool {
					s := slack
					if w.resetApprox {
						// Midnight may pass during the run.
						s = time.Minute
					}
					return got >= want-s && got <= want+s
				}
				if d.Allowed != w.allowed || d.Quota != w.quota || d.QuotaExceeded != (w.quota && !w.allowed) || d.Rule != w.rule ||
					d.Limit != w.limit || d.Remaining != w.remaining || !near(d.Reset, w.reset) || !near(d.RetryAfter, w.retry) {
					t.Fatalf("request %d = %+v; want %+v", i, d, w)
				}
			}
		})
	}
}

func TestMemoryDecisions(t *testing.T) {
	testDecisions(t, limits.NewMemory(nil), "")
}

func TestRedisDecisions(t *testing.T) {
	l, _ := newRedisLimiter(t, 0, nil)
	testDecisions(t, l, "")
}

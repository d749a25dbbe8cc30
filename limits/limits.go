// Package limits decides whether a request may proceed under rate limits
// and daily quotas that hold exactly, on one instance (in memory) and
// across many (in Redis).
//
// Rates use the generic cell rate algorithm (GCRA): each key keeps one
// number, its theoretical arrival time (TAT), and a request is admitted
// when the TAT it would push forward stays within the burst tolerance.
// Quotas are counters per UTC day. A request names up to a few keys at
// once (its credential, consumer, route class and the global limit); it is
// admitted only if every one of them admits it, and only then does any of
// them count it, atomically: a request refused by one level consumes
// nothing at the others.
package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// Limit is the allowance of one key: a rate with a burst, a daily quota,
// or both. The zero value limits nothing.
type Limit struct {
	// Rate is the sustained number of requests per second; 0 means no
	// rate limit.
	Rate float64
	// Burst is how many requests may arrive at once after a quiet
	// period; at least 1 when Rate is set.
	Burst int
	// Quota is the number of requests per UTC day; 0 means no quota.
	Quota int64
}

// Validate checks a limit as an operator wrote it.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 0 || math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate > 1e6:
		return errors.New("the rate must be between 0 and 1000000 requests per second")
	case l.Rate > 0 && l.Rate < hrgate.MinRate:
		// Slower, a full burst's tolerance in microseconds overflows
		// int64 and the limiter refuses or admits everything.
		return errors.New("the rate must be at least one request a day (0.0417/h)")
	case l.Rate > 0 && (l.Burst < 1 || l.Burst > 1_000_000):
		return errors.New("the burst must be between 1 and 1000000")
	case l.Rate == 0 && l.Burst != 0:
		return errors.New("a burst needs a rate")
	case l.Quota < 0 || l.Quota > 1e12:
		return errors.New("the daily quota must be between 0 and 1000000000000")
	}
	return nil
}

// WithDefaultBurst returns l with the burst a rate set without one gets:
// one second's worth of requests, rounded up. Operators may leave the
// burst out; the limiter needs one.
func (l Limit) WithDefaultBurst() Limit {
	if l.Rate > 0 && l.Burst == 0 {
		l.Burst = int(math.Ceil(l.Rate))
	}
	return l
}

// Divide returns l shared by n instances: each gets its part of the rate,
// burst and quota (at least 1 of each that is set). The fallback used while
// Redis is unreachable admits through it.
func (l Limit) Divide(n int) Limit {
	if n <= 1 {
		return l
	}
	out := l
	if l.Rate > 0 {
		out.Rate = l.Rate / float64(n)
		out.Burst = max(1, l.Burst/n)
	}
	if l.Quota > 0 {
		out.Quota = max(1, l.Quota/int64(n))
	}
	return out
}

// ParseRate reads a rate written as "N/s", "N/m" or "N/h" (e.g. "50/s").
func ParseRate(s string) (float64, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("rate %q: write it as N/s, N/m or N/h", s)
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("rate %q: %q is not a positive number", s, n)
	}
	switch unit {
	case "s":
		return v, nil
	case "m":
		return v / 60, nil
	case "h":
		return v / 3600, nil
	}
	return 0, fmt.Errorf("rate %q: the unit must be s, m or h", s)
}

// ParseQuota reads a quota written as "N/day" or "N/d".
func ParseQuota(s string) (int64, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || (unit != "day" && unit != "d") {
		return 0, fmt.Errorf("quota %q: write it as N/day", s)
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("quota %q: %q is not a positive whole number", s, n)
	}
	return v, nil
}

// Rule is one key with its limit.
type Rule struct {
	// Key and ID name what is limited: the limiter's key is Key followed
	// by ID, e.g. "cred:" and "key_…", or "global" and "". They are
	// given apart so that a caller can name a limit per credential
	// without building a string per request; a caller must split one
	// key the same way every time. Keys are opaque to the limiter.
	Key   string
	ID    string
	Limit Limit
}

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// QuotaExceeded says that a daily quota, not a rate, refused it.
	QuotaExceeded bool
	// Quota says that Limit, Remaining and Reset are the daily quota's of
	// Rule, not its rate's, admitted or not: a rule may have both, with
	// the same figure for its burst and its quota.
	Quota bool
	// Rule is the index of the rule that decided: the one that refused,
	// or when all admitted, the one with the least room left. -1 when no
	// rule limits anything.
	Rule int
	// Limit, Remaining and Reset describe Rule for the RateLimit headers:
	// the requests allowed in its window, how many are left, and when the
	// window is whole again.
	Limit     int64
	Remaining int64
	Reset     time.Duration
	// RetryAfter is how long to wait before a retry can succeed (zero
	// when admitted).
	RetryAfter time.Duration
}

// Limiter decides on requests. Implementations are safe for concurrent
// use.
type Limiter interface {
	// Allow admits a request under every rule, or refuses it; admitted
	// requests count against every rule, refused ones against none.
	Allow(ctx context.Context, rules []Rule) (Decision, error)
}

// maxRules bounds the rules of one decision.
const maxRules = 8

var errTooManyRules = fmt.Errorf("limits: at most %d rules per decision", maxRules)

// gcra applies one request to a key's TAT (microseconds) at now under l.
// It returns the new TAT, whether the request fits, and the headers'
// figures.
func gcra(tat, now int64, l Limit) (newTAT int64, ok bool, remaining int64, reset, retry time.Duration) {
	interval := int64(1e6 / l.Rate)
	if interval < 1 {
		interval = 1
	}
	tolerance := interval * int64(l.Burst)
	if tat < now {
		tat = now
	}
	newTAT = tat + interval
	if d := newTAT - now; d > tolerance {
		// Refused: it fits once the TAT has fallen back by the excess.
		return tat, false, 0, time.Duration(tat-now) * time.Microsecond, time.Duration(d-tolerance) * time.Microsecond
	}
	remaining = (tolerance - (newTAT - now)) / interval
	return newTAT, true, remaining, time.Duration(newTAT-now) * time.Microsecond, 0
}

// dayOf returns the UTC day number of a time in microseconds, and the time
// left until the day ends.
func dayOf(now int64) (day int64, left time.Duration) {
	const usPerDay = int64(24 * time.Hour / time.Microsecond)
	day = now / usPerDay
	return day, time.Duration((day+1)*usPerDay-now) * time.Microsecond
}

package hrgate

import (
	"math"
	"strconv"
)

// RateLimit is the allowance an operator sets on one credential or one
// consumer: a rate with a burst, a daily quota, or both. A zero field falls
// back to the configured default for that level (limits.credential,
// limits.consumer); the zero value therefore means "the defaults".
type RateLimit struct {
	// Rate is requests per second; 0 means the default.
	Rate float64
	// Burst is how many requests may arrive at once; 0 means the default
	// (or the rate, rounded up, when only the rate is set).
	Burst int
	// Quota is requests per UTC day; 0 means the default.
	Quota int64
}

// MinRate is the slowest rate, in requests per second, a limit may set,
// one request a day: its interval times the largest burst (8.64e16
// microseconds) still fits an int64, and a Lua number closely enough.
// The limiter, the gate and the store all hold rates to it.
const MinRate = 1.0 / 86400

// IsZero reports whether the allowance sets nothing of its own.
func (r RateLimit) IsZero() bool { return r == RateLimit{} }

// rateUnits are the units a rate is written in, as limits.ParseRate reads
// them, shortest first.
var rateUnits = []struct {
	suffix  string
	seconds float64
}{{"/s", 1}, {"/m", 60}, {"/h", 3600}}

// FormatRate writes a rate in requests per second as an operator writes
// it: "50/s", "50/m" or "50/h", in the shortest unit in which it is a whole
// number that reads back as exactly the same rate; any other rate is a
// decimal per second ("0.3/s"). It returns "" for 0, the default.
func FormatRate(perSecond float64) string {
	if perSecond == 0 {
		return ""
	}
	for _, u := range rateUnits {
		n := math.Round(perSecond * u.seconds)
		if n >= 1 && n/u.seconds == perSecond {
			return strconv.FormatFloat(n, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(perSecond, 'g', -1, 64) + "/s"
}

// FormatQuota writes a daily quota as "20000/day", or "" for 0, the
// default.
func FormatQuota(perDay int64) string {
	if perDay == 0 {
		return ""
	}
	return strconv.FormatInt(perDay, 10) + "/day"
}

// String describes the allowance for people: "50/s burst 100, 20000/day",
// with "default" for each part left to the configuration.
func (r RateLimit) String() string {
	rate := "default rate"
	if r.Rate != 0 {
		rate = FormatRate(r.Rate)
		if r.Burst != 0 {
			rate += " burst " + strconv.Itoa(r.Burst)
		}
	}
	quota := "default quota"
	if r.Quota != 0 {
		quota = FormatQuota(r.Quota)
	}
	return rate + ", " + quota
}

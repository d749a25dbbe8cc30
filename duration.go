package hrgate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDays and maxDuration bound the parts of a duration to 100 years.
const (
	maxDays     = 100 * 366
	maxDuration = maxDays * 24 * time.Hour
)

// ParseDuration reads a duration as operators write key lifetimes: Go
// duration text ("36h", "90m") optionally led by whole days ("90d",
// "1d12h"). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	var days int64
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > maxDays {
			return 0, fmt.Errorf("%q is not a duration (use e.g. 90d, 36h, 30m)", orig)
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		var err error
		if rest, err = time.ParseDuration(s); err != nil || rest < 0 {
			return 0, fmt.Errorf("%q is not a duration (use e.g. 90d, 36h, 30m)", orig)
		}
		// Both parts are bounded, so their sum cannot overflow.
		if rest > maxDuration {
			return 0, fmt.Errorf("%q is longer than 100 years", orig)
		}
	} else if days == 0 && !strings.HasSuffix(strings.TrimSpace(orig), "d") {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 90d, 36h, 30m)", orig)
	}
	return time.Duration(days)*24*time.Hour + rest, nil
}

// FormatDuration writes d the way ParseDuration reads it, with whole days
// as "d": 2160h becomes "90d", 36h becomes "1d12h".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	days := d / (24 * time.Hour)
	rest := d % (24 * time.Hour)
	switch {
	case days == 0:
		return rest.String()
	case rest == 0:
		return strconv.FormatInt(int64(days), 10) + "d"
	default:
		r := rest.String()
		if strings.HasSuffix(r, "m0s") {
			r = strings.TrimSuffix(r, "0s")
		}
		if strings.HasSuffix(r, "h0m") {
			r = strings.TrimSuffix(r, "0m")
		}
		return strconv.FormatInt(int64(days), 10) + "d" + r
	}
}

package sandbox

import "time"

// Dates are handled as days since 1970-01-01 (UTC), which keeps the
// arithmetic of a hundred thousand employees cheap and free of time zones;
// only the boundaries that depend on calendar years go through time.Time.

const secondsPerDay = 86400

// dayOf returns the day of t, in UTC.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return d
}

// dateOf returns midnight UTC of day d.
func dateOf(d int64) time.Time { return time.Unix(d*secondsPerDay, 0).UTC() }

// dayOfDate returns the day of a calendar date.
func dayOfDate(y int, m time.Month, d int) int64 {
	return dayOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// addYears returns day d moved by n calendar years.
func addYears(d int64, n int) int64 { return dayOf(dateOf(d).AddDate(n, 0, 0)) }

// weekday returns the day of the week of day d; 1970-01-01 was a Thursday.
func weekday(d int64) time.Weekday {
	w := (d + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// isWorkday reports whether day d is Monday to Friday.
func isWorkday(d int64) bool {
	w := weekday(d)
	return w != time.Saturday && w != time.Sunday
}

// formatDay returns day d as an ISO 8601 calendar date (YYYY-MM-DD).
func formatDay(d int64) string {
	y, m, dd := dateOf(d).Date()
	var b [10]byte
	b[0] = byte('0' + y/1000%10)
	b[1] = byte('0' + y/100%10)
	b[2] = byte('0' + y/10%10)
	b[3] = byte('0' + y%10)
	b[4] = '-'
	b[5] = byte('0' + int(m)/10)
	b[6] = byte('0' + int(m)%10)
	b[7] = '-'
	b[8] = byte('0' + dd/10)
	b[9] = byte('0' + dd%10)
	return string(b[:])
}

// stamp returns a timestamp on day d during office hours, in microseconds,
// never after limit (also in microseconds). Stored timestamps are
// microseconds because that is what both SQLite and PostgreSQL keep, so a
// round trip through the store gives back the value that was generated.
func (r *rng) stamp(d int64, limit int64) int64 {
	us := (d*secondsPerDay+int64(r.between(8*3600, 18*3600)))*1_000_000 + r.Int64N(1_000_000)
	return min(us, limit)
}

// after returns a microsecond timestamp uniformly in [from, limit].
func (r *rng) after(from, limit int64) int64 {
	if from >= limit {
		return limit
	}
	return r.between64(from, limit)
}

// micro turns microseconds since the epoch into a UTC time.
func micro(us int64) time.Time { return time.UnixMicro(us).UTC() }

package hrgate

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

// IsZero reports whether the allowance sets nothing of its own.
func (r RateLimit) IsZero() bool { return r == RateLimit{} }

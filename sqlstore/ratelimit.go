package sqlstore

import "github.com/hrgate/hrgate"

// checkRateLimit refuses a rate below hrgate.MinRate before it is written. The
// other bounds of a limit are the schema's CHECKs (0005), which translate
// answers EINVALID; this one came later (0013), and on SQLite it is held
// by triggers, whose failure would read as an internal error.
func checkRateLimit(r hrgate.RateLimit) error {
	if r.Rate > 0 && r.Rate < hrgate.MinRate {
		return invalid("A rate must be at least one request a day (0.0417/h).")
	}
	return nil
}

package sqlstore

import (
	"math"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
)

// The store's least rate is the limiter's: the one the limiter accepts
// is stored, the next slower one refused.
func TestMinRateIsTheLimiters(t *testing.T) {
	if err := checkRateLimit(hrgate.RateLimit{Rate: limits.MinRate}); err != nil {
		t.Fatalf("the limiter's least rate is refused: %v", err)
	}
	if err := checkRateLimit(hrgate.RateLimit{Rate: math.Nextafter(limits.MinRate, 0)}); err == nil {
		t.Fatal("a rate below the limiter's least is stored")
	}
}

package sqlstore

import (
	"math"
	"testing"

	"github.com/hrgate/hrgate"
)

// The store's least rate is hrgate.MinRate, the limiter's: that rate is
// stored, the next slower one refused.
func TestMinRateIsTheLimiters(t *testing.T) {
	if err := checkRateLimit(hrgate.RateLimit{Rate: hrgate.MinRate}); err != nil {
		t.Fatalf("the limiter's least rate is refused: %v", err)
	}
	if err := checkRateLimit(hrgate.RateLimit{Rate: math.Nextafter(hrgate.MinRate, 0)}); err == nil {
		t.Fatal("a rate below the limiter's least is stored")
	}
}

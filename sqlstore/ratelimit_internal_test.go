package sqlstore

import (
	"testing"

	"github.com/hrgate/hrgate/limits"
)

// The store's least rate is the limiter's.
func TestMinRateIsTheLimiters(t *testing.T) {
	if minRate != limits.MinRate {
		t.Fatalf("sqlstore's least rate %v differs from limits.MinRate %v", minRate, limits.MinRate)
	}
}

package hrgate_test

import (
	"testing"

	"github.com/hrgate/hrgate"
)

func TestValidCountry(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"DE", true}, {"GB", true}, {"US", true}, {"XK", true},
		{"de", false}, {"UK", false}, {"EU", false}, {"DEU", false}, {"", false}, {"ZZ", false},
	} {
		if got := hrgate.ValidCountry(tc.code); got != tc.want {
			t.Errorf("ValidCountry(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestValidCurrency(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"EUR", true}, {"USD", true}, {"GBP", true}, {"JPY", true},
		{"eur", false}, {"XAU", false}, {"XTS", false}, {"HRK", false}, {"EURO", false}, {"", false}, {"ABC", false},
	} {
		if got := hrgate.ValidCurrency(tc.code); got != tc.want {
			t.Errorf("ValidCurrency(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

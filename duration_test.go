package hrgate_test

import (
	"testing"
	"time"

	"github.com/hrgate/hrgate"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90d":    90 * 24 * time.Hour,
		"1d12h":  36 * time.Hour,
		"36h":    36 * time.Hour,
		"30m":    30 * time.Minute,
		"0d":     0,
		"0s":     0,
		" 14d ":  14 * 24 * time.Hour,
		"1d30m":  24*time.Hour + 30*time.Minute,
		"2h0m0s": 2 * time.Hour,
	} {
		got, err := hrgate.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "-5m", "1x", "1.5d", "d12h", "999999d", "12", "36600d2562047h", "2562047h"} {
		if got, err := hrgate.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * 24 * time.Hour:           "90d",
		36 * time.Hour:                "1d12h",
		30 * time.Minute:              "30m0s",
		24*time.Hour + 90*time.Minute: "1d1h30m",
		24*time.Hour + 5*time.Second:  "1d5s",
		-48 * time.Hour:               "-2d",
	} {
		if got := hrgate.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if d >= 0 {
			back, err := hrgate.ParseDuration(hrgate.FormatDuration(d))
			if err != nil || back != d {
				t.Errorf("round trip of %v: %v, %v", d, back, err)
			}
		}
	}
}

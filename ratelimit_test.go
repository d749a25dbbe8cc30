package hrgate_test

import (
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
)

// A rate is shown in the unit it reads best in, and what is shown reads
// back through limits.ParseRate as exactly the stored rate.
func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"50/s", "50/s"},
		{"1000000/s", "1000000/s"},
		{"60/m", "1/s"},
		{"50/m", "50/m"},
		{"30/m", "30/m"},
		{"1/h", "1/h"},
		{"7200/h", "2/s"},
		{"1.5/h", "0.0004166666666666667/s"},
		{"0.3/s", "18/m"},
		{"0.25/s", "15/m"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			rate, err := limits.ParseRate(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := hrgate.FormatRate(rate)
			if got != tc.want {
				t.Fatalf("FormatRate(%v) = %q, want %q", rate, got, tc.want)
			}
			back, err := limits.ParseRate(got)
			if err != nil || back != rate {
				t.Fatalf("%q reads back as %v, %v; want %v", got, back, err, rate)
			}
		})
	}
	if got := hrgate.FormatRate(0); got != "" {
		t.Errorf("FormatRate(0) = %q, want the empty default", got)
	}
}

func TestRateLimitString(t *testing.T) {
	for _, tc := range []struct {
		r    hrgate.RateLimit
		want string
	}{
		{hrgate.RateLimit{}, "default rate, default quota"},
		{hrgate.RateLimit{Rate: 50, Burst: 100, Quota: 20000}, "50/s burst 100, 20000/day"},
		{hrgate.RateLimit{Rate: 50.0 / 60}, "50/m, default quota"},
		{hrgate.RateLimit{Quota: 7}, "default rate, 7/day"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

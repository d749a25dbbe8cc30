package hrgate_test

import (
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

func TestRedactDSN(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"Password", "postgres://hrgate:s3cret@db:5432/hrgate?sslmode=require", "postgres://hrgate:xxxxx@db:5432/hrgate?sslmode=require"},
		{"PostgreSQLScheme", "postgresql://u:p%40ss@db/x", "postgresql://u:xxxxx@db/x"},
		{"NoPassword", "postgres://hrgate@db/hrgate", "postgres://hrgate@db/hrgate"},
		{"QueryPassword", "postgres://db/hrgate?password=s3cret&user=u", "postgres://db/hrgate?password=xxxxx&user=u"},
		{"Unparseable", "postgres://u:s3cr%t@db:5432/x?password=s3cret", "postgres://xxxxx@db:5432/x"},
		{"SQLitePath", "/var/lib/hrgate/hrgate.db", "/var/lib/hrgate/hrgate.db"},
		{"OtherScheme", "mysql://root:s3cret@db/hrgate", "mysql://root:xxxxx@db/hrgate"},
		{"SSLKeyAndPassword", "postgres://db/x?sslkey=s3cretkey&sslpassword=s3cret", "postgres://db/x?sslkey=xxxxx&sslpassword=xxxxx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := hrgate.RedactDSN(tt.in)
			if got != tt.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "s3cr") {
				t.Errorf("RedactDSN(%q) leaks the password: %q", tt.in, got)
			}
		})
	}
}

func TestIsPostgresDSN(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"postgres://u@db/x", true},
		{"postgresql://u@db/x", true},
		{"POSTGRES://u@db/x", true},
		{"/var/lib/hrgate/hrgate.db", false},
		{"postgres.db", false},
		{"mysql://u@db/x", false},
		{"", false},
	} {
		if got := hrgate.IsPostgresDSN(tt.in); got != tt.want {
			t.Errorf("IsPostgresDSN(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

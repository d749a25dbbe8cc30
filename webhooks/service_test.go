package webhooks_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/webhooks"
)

// TestCreateLogsRedactedURL: the log lines of a new endpoint name its URL
// without the query, where receivers put tokens, and an endpoint on plain
// http:// is logged as a warning; an https:// one is not.
func TestCreateLogsRedactedURL(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		var buf bytes.Buffer
		svc := webhooks.New(e.db, webhooks.WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
		for _, tc := range []struct {
			url  string
			warn bool
		}{
			{"http://hooks.example.com/hr?token=t0ps3cret", true},
			{"https://hooks.example.com/hr?token=t0ps3cret", false},
		} {
			buf.Reset()
			if _, _, err := svc.Create(ctx, webhooks.EndpointRequest{Consumer: "payroll", URL: tc.url,
				EventTypes: []string{hrgate.ChangeEmployeeCreated}, AllowHTTP: true}); err != nil {
				t.Fatal(err)
			}
			logs := buf.String()
			if strings.Contains(logs, "t0ps3cret") || !strings.Contains(logs, "/hr?redacted") {
				t.Errorf("%s: the logs do not redact the query:\n%s", tc.url, logs)
			}
			if got := strings.Contains(logs, `"level":"WARN"`) && strings.Contains(logs, "plain HTTP"); got != tc.warn {
				t.Errorf("%s: plain-HTTP warning logged = %v, want %v:\n%s", tc.url, got, tc.warn, logs)
			}
		}
	})
}

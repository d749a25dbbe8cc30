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

// TestCreateMode: an endpoint is full unless thin is asked for, and a mode
// that is neither is refused by the service itself, whichever front end
// (HTTP, CLI) passed it on.
func TestCreateMode(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		for _, tc := range []struct{ mode, want string }{
			{"", hrgate.WebhookFull},
			{hrgate.WebhookFull, hrgate.WebhookFull},
			{hrgate.WebhookThin, hrgate.WebhookThin},
		} {
			ep, _, err := e.svc.Create(ctx, webhooks.EndpointRequest{Consumer: "payroll", URL: "https://hooks.example.com/hr",
				EventTypes: []string{hrgate.ChangeEmployeeCreated}, Mode: tc.mode})
			if err != nil || ep.Mode != tc.want {
				t.Fatalf("mode %q: %+v, %v; want %s", tc.mode, ep, err, tc.want)
			}
		}
		_, _, err := e.svc.Create(ctx, webhooks.EndpointRequest{Consumer: "payroll", URL: "https://hooks.example.com/hr",
			EventTypes: []string{hrgate.ChangeEmployeeCreated}, Mode: "fat"})
		if hrgate.ErrorCode(err) != hrgate.EINVALID || !strings.Contains(hrgate.ErrorMessage(err), "full or thin") {
			t.Fatalf("mode \"fat\": %v, want EINVALID naming full or thin", err)
		}
		if es, err := e.db.ListWebhookEndpoints(ctx, ""); err != nil || len(es) != 3 {
			t.Fatalf("%d endpoints, %v; want the 3 valid ones", len(es), err)
		}
	})
}

package http_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
)

// TestAdminWebhooks manages an endpoint through the admin API: every
// answer matches the admin OpenAPI document, the secret appears in the
// create and rotate answers only, bad input is a 400 that names the
// problem, and each change is an audit event by the operator that never
// holds the secret or the URL's query.
func TestAdminWebhooks(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			a := mustOpenAdminWithAudit(t, dsn(t))
			ctx := context.Background()
			mustConsumer(t, a.gate, "payroll", "employees:read:identity companies:*")
			mustConsumer(t, a.gate, "audit-only", "audit:read")

			var created struct {
				ID, Secret, URL, Mode string
				Enabled               bool
			}
			status := a.call(t, "POST", "/admin/v1/webhooks",
				`{"consumer":"payroll","url":"https://hooks.example.com/hr?token=s3cr3t","event_types":["employee.updated","employee.created"],"mode":"thin"}`, &created)
			if status != 201 || !strings.HasPrefix(created.Secret, "whsec_") || created.Mode != "thin" || !created.Enabled {
				t.Fatalf("create: %d %+v", status, created)
			}
			id := created.ID

			t.Run("BadInput", func(t *testing.T) {
				for _, tc := range []struct{ body, detail string }{
					{`{"consumer":"payroll","url":"http://hooks.example.com/","event_types":["employee.created"]}`, "https://"},
					{`{"consumer":"payroll","url":"https://hooks.example.com/","event_types":["employee.hired"]}`, `"employee.hired"`},
					{`{"consumer":"payroll","url":"https://hooks.example.com/","event_types":[]}`, "at least one event type"},
					{`{"consumer":"payroll","url":"https://user:pw@hooks.example.com/","event_types":["employee.created"]}`, "user name"},
					{`{"consumer":"payroll","url":"https://hooks.example.com/","event_types":["employee.created"],"mode":"fat"}`, "full or thin"},
					{`{"consumer":"audit-only","url":"https://hooks.example.com/","event_types":["employee.created"]}`, "cannot read employees"},
					{`{"consumer":"payroll","url":"https://hooks.example.com/","event_types":["employee.created","time_off.created"]}`, "time_off:read"},
				} {
					var p problem
					if status := a.call(t, "POST", "/admin/v1/webhooks", tc.body, &p); status != 400 || !strings.Contains(p.Detail, tc.detail) {
						t.Errorf("%s: %d %q, want 400 naming %q", tc.body, status, p.Detail, tc.detail)
					}
					if strings.Contains(p.Detail, "pw@") {
						t.Errorf("the problem repeats the URL's credentials: %q", p.Detail)
					}
				}
				var p problem
				if status := a.call(t, "POST", "/admin/v1/webhooks", `{"consumer":"nobody","url":"https://hooks.example.com/","event_types":["employee.created"]}`, &p); status != 404 {
					t.Errorf("unknown consumer: %d %+v", status, p)
				}
			})

			var list struct{ Data []map[string]any }
			if status := a.call(t, "GET", "/admin/v1/webhooks?consumer=payroll", "", &list); status != 200 || len(list.Data) != 1 {
				t.Fatalf("list: %d %+v", status, list)
			}
			var one map[string]any
			if status := a.call(t, "GET", "/admin/v1/webhooks/"+id, "", &one); status != 200 || one["secret"] != nil {
				t.Fatalf("get: %d %+v", status, one)
			}
			if status := a.call(t, "POST", "/admin/v1/webhooks/"+id+"/disable", `{"reason":"receiver migrating"}`, &one); status != 200 ||
				one["enabled"] != false || one["disabled_reason"] != "receiver migrating" {
				t.Fatalf("disable: %d %+v", status, one)
			}
			if status := a.call(t, "POST", "/admin/v1/webhooks/"+id+"/enable", "", &one); status != 200 || one["enabled"] != true {
				t.Fatalf("enable: %d %+v", status, one)
			}
			var rot struct{ ID, Secret string }
			if status := a.call(t, "POST", "/admin/v1/webhooks/"+id+"/rotate-secret", "", &rot); status != 201 || rot.ID != id ||
				!strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == created.Secret {
				t.Fatalf("rotate: %d %+v", status, rot)
			}
			var ds struct{ Data []any }
			if status := a.call(t, "GET", "/admin/v1/webhook-deliveries?endpoint="+id+"&status=pending&limit=10", "", &ds); status != 200 || len(ds.Data) != 0 {
				t.Fatalf("deliveries: %d %+v", status, ds)
			}
			var p problem
			if status := a.call(t, "GET", "/admin/v1/webhook-deliveries?status=lost", "", &p); status != 400 {
				t.Fatalf("bad status filter: %d", status)
			}
			if status := a.call(t, "GET", "/admin/v1/webhook-deliveries/msg_nope", "", &p); status != 404 {
				t.Fatalf("unknown delivery: %d", status)
			}
			if status := a.call(t, "POST", "/admin/v1/webhook-replays", `{"event_id":"evt_0000000000000000000000abcd","since":"2026-01-01T00:00:00Z"}`, &p); status != 400 {
				t.Fatalf("replay both: %d", status)
			}
			if status := a.call(t, "POST", "/admin/v1/webhook-replays", `{"since":"2026-01-01T00:00:00Z"}`, &ds); status != 201 || len(ds.Data) != 0 {
				t.Fatalf("replay: %d %+v", status, ds)
			}
			if status := a.call(t, "DELETE", "/admin/v1/webhooks/"+id, "", nil); status != 204 {
				t.Fatalf("delete: %d", status)
			}
			if status := a.call(t, "GET", "/admin/v1/webhooks/"+id, "", &p); status != 404 {
				t.Fatalf("get after delete: %d", status)
			}

			evs, err := a.trail.FindAuditEvents(ctx, hrgate.AuditFilter{Types: []string{hrgate.AuditWebhookCreated, hrgate.AuditWebhookUpdated,
				hrgate.AuditWebhookRotated, hrgate.AuditWebhookReplayed, hrgate.AuditWebhookDeleted}, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, ev := range evs {
				types = append(types, ev.Type)
				all := string(ev.Before) + string(ev.After)
				if ev.ActorKind != hrgate.ActorAdmin || strings.Contains(all, "whsec_") || strings.Contains(all, "s3cr3t") ||
					strings.Contains(all, created.Secret[6:]) {
					t.Errorf("event %s by %s: %s", ev.Type, ev.ActorKind, all)
				}
			}
			if got := strings.Join(types, " "); got != "webhook.created webhook.updated webhook.updated webhook.rotated webhook.replayed webhook.deleted" {
				t.Errorf("audit events: %s", got)
			}

			t.Run("TimeOff", func(t *testing.T) {
				// A consumer reading time off only subscribes to time-off
				// events; the answer matches the document's event types.
				mustConsumer(t, a.gate, "leave", "time_off:read companies:*")
				var ep struct {
					EventTypes []string `json:"event_types"`
				}
				status := a.call(t, "POST", "/admin/v1/webhooks",
					`{"consumer":"leave","url":"https://hooks.example.com/leave","event_types":["time_off.updated","time_off.created","time_off.cancelled"]}`, &ep)
				if status != 201 || strings.Join(ep.EventTypes, ",") != "time_off.cancelled,time_off.created,time_off.updated" {
					t.Fatalf("create: %d %+v", status, ep)
				}
			})
		})
	}
}

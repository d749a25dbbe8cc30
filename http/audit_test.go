package http_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/storetest"
)

// TestAudit runs the audit suite once per database.
func TestAudit(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := MustOpenAuditEnv(t, dsn(t))
			mustConsumer(t, e.gate, "auditor", "audit:read")
			auditor := mustKey(t, e.gate, "auditor", false)
			t.Run("EveryRequestHasItsEvent", func(t *testing.T) { e.testEveryRequestHasItsEvent(t) })
			t.Run("AuthenticationFailures", e.testAuthFailureEvents)
			t.Run("WhoAccessedEmployee", func(t *testing.T) { e.testWhoAccessed(t, auditor) })
			t.Run("ReadingTheTrail", func(t *testing.T) { e.testReadingTheTrail(t, auditor) })
			t.Run("OAuth", e.testOAuthEvents)
			// Last: it makes the trail unwritable.
			t.Run("NoAnswerWithoutItsEvent", e.testNoAnswerWithoutEvent)
		})
	}
}

// events returns the trail's events by request id.
func (e *testEnv) events(t *testing.T) map[string]*hrgate.AuditEvent {
	t.Helper()
	evs, err := e.trail.AuditEvents(context.Background(), 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*hrgate.AuditEvent{}
	for _, ev := range evs {
		if ev.RequestID != "" {
			out[ev.RequestID] = ev
		}
	}
	return out
}

func ids(t *testing.T, r response) []string {
	t.Helper()
	if r.header.Get("Content-Type") == "application/json" && strings.HasPrefix(string(r.body), `{"data"`) {
		var out []string
		for _, it := range r.items(t) {
			out = append(out, it["id"].(string))
		}
		return out
	}
	if id, ok := r.object(t)["id"].(string); ok && r.status == 200 {
		return []string{id}
	}
	return nil
}

func (e *testEnv) testEveryRequestHasItsEvent(t *testing.T) {
	list := e.get(t, e.planner, "/v1/employees?limit=7")
	one := e.get(t, e.payroll, "/v1/employees/"+list.items(t)[0]["id"].(string))
	timeOff := e.get(t, e.planner, "/v1/time-off?limit=3")
	forbidden := e.get(t, e.planner, "/v1/teams")
	bad := e.get(t, e.payroll, "/v1/employees?limit=ten")
	unknown := e.get(t, e.payroll, "/v1/employees?compnay_id=x")
	notFound := e.get(t, e.payroll, "/v1/salaries")
	evs := e.events(t)
	for _, tc := range []struct {
		name   string
		r      response
		typ    string
		route  string
		object string
		groups []string
		actor  string
	}{
		{"List", list, hrgate.AuditAPIRequest, "GET /v1/employees", "employee", []string{"identity"}, "holiday-planner"},
		{"One", one, hrgate.AuditAPIRequest, "GET /v1/employees/{id}", "employee",
			[]string{"identity", "employment", "compensation", "banking:masked"}, "payroll"},
		{"OtherObject", timeOff, hrgate.AuditAPIRequest, "GET /v1/time-off", "time_off_request", nil, "holiday-planner"},
		{"Forbidden", forbidden, hrgate.AuditAPIRequest, "GET /v1/teams", "", nil, "holiday-planner"},
		{"BadInput", bad, hrgate.AuditAPIRequest, "GET /v1/employees", "", nil, "payroll"},
		// Refused before authentication: no credential to name.
		{"UnknownParameter", unknown, hrgate.AuditAPIRequest, "GET /v1/employees", "", nil, ""},
		{"NoRoute", notFound, hrgate.AuditAPIRequest, "", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid := tc.r.header.Get("X-Request-Id")
			ev := evs[rid]
			if ev == nil {
				t.Fatalf("no event for request %s", rid)
			}
			if ev.Type != tc.typ || ev.Route != tc.route || ev.Status != tc.r.status || ev.Method != "GET" ||
				ev.Object != tc.object || ev.Actor != tc.actor || ev.ClientAddr != "127.0.0.1" || ev.LatencyUS <= 0 {
				t.Fatalf("event %+v", ev)
			}
			if tc.actor != "" && (ev.ActorKind != hrgate.ActorConsumer || !strings.HasPrefix(ev.CredentialID, "key_") || !strings.HasPrefix(ev.ConsumerID, "con_")) {
				t.Fatalf("event names no credential: %+v", ev)
			}
			if !slices.Equal(ev.Groups, tc.groups) {
				t.Fatalf("groups %v, want %v", ev.Groups, tc.groups)
			}
			var want []string
			if tc.object != "" {
				want = ids(t, tc.r)
			}
			if !slices.Equal(ev.RecordIDs, want) {
				t.Fatalf("record ids %v, want %v", ev.RecordIDs, want)
			}
		})
	}
	t.Run("ProbesAreNotRecorded", func(t *testing.T) {
		r := e.get(t, "", "/healthz")
		if ev := e.events(t)[r.header.Get("X-Request-Id")]; ev != nil {
			t.Fatalf("a probe was recorded: %+v", ev)
		}
	})
}

func (e *testEnv) testAuthFailureEvents(t *testing.T) {
	ctx := context.Background()
	revoked, secret, err := e.gate.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", Test: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gate.RevokeKey(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	forged, _ := hrgate.GenerateAPIKey(hrgate.KeyTest, rand.Reader)
	for _, tc := range []struct {
		name, key, reason, credential string
	}{
		{"Missing", "", "no credentials", ""},
		{"Malformed", "hrg_live_nope", "malformed key", ""},
		{"Unknown", forged, "unknown key", ""},
		{"Revoked", secret, "revoked", revoked.ID},
		{"BadTokenSignature", "eyJhbGciOiJFZERTQSIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJ4In0.c2ln", "unknown or unpublished key id", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, tc.key, "/v1/employees")
			if r.status != 401 {
				t.Fatalf("status %d", r.status)
			}
			ev := e.events(t)[r.header.Get("X-Request-Id")]
			if ev == nil || ev.Type != hrgate.AuditAuthFailure || !strings.Contains(ev.Reason, tc.reason) ||
				ev.CredentialID != tc.credential || ev.Status != 401 || ev.Route != "GET /v1/employees" {
				t.Fatalf("event %+v", ev)
			}
			if tc.key != "" {
				b, _ := json.Marshal(ev)
				if strings.Contains(string(b), tc.key) {
					t.Fatal("the event holds the credential presented")
				}
			}
		})
	}
}

func (e *testEnv) testWhoAccessed(t *testing.T, auditor string) {
	// X is read by a single read, two lists that hold it and not by a
	// list that does not.
	first := e.get(t, e.payroll, "/v1/employees?limit=3")
	x := first.items(t)[1]["id"].(string)
	single := e.get(t, e.payroll, "/v1/employees/"+x)
	second := e.get(t, e.payroll, "/v1/employees?limit=200")
	after := e.get(t, e.payroll, "/v1/employees?limit=3&cursor="+url.QueryEscape(first.object(t)["next_cursor"].(string)))
	if slices.Contains(ids(t, after), x) || !slices.Contains(ids(t, second), x) {
		t.Fatal("fixture: pages do not hold what the test expects")
	}
	want := []string{first.header.Get("X-Request-Id"), single.header.Get("X-Request-Id"), second.header.Get("X-Request-Id")}
	for _, param := range []string{"employee_id", "record_id"} {
		t.Run(param, func(t *testing.T) {
			r := e.get(t, auditor, "/v1/audit/events?"+param+"="+x)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got []string
			for _, it := range r.items(t) {
				got = append(got, it["request_id"].(string))
			}
			// Earlier subtests read X too; only this subtest's requests
			// are known, and they must all be there.
			for _, rid := range want {
				if !slices.Contains(got, rid) {
					t.Fatalf("request %s read %s but is not in the answer %v", rid, x, got)
				}
			}
			if slices.Contains(got, after.header.Get("X-Request-Id")) {
				t.Fatal("a request that did not return X is in the answer")
			}
			for _, it := range r.items(t) {
				if !slices.Contains(toStrings(it["record_ids"]), x) {
					t.Fatalf("event %v did not return %s", it["seq"], x)
				}
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, s.(string))
	}
	return out
}

func (e *testEnv) testReadingTheTrail(t *testing.T, auditor string) {
	t.Run("NeedsAuditRead", func(t *testing.T) {
		if r := e.get(t, e.payrollLive, "/v1/audit/events"); r.status != http.StatusForbidden {
			t.Fatalf("payroll reads the trail: %d", r.status)
		}
		mustConsumer(t, e.gate, "sandbox-auditor", "audit:read")
		if r := e.get(t, mustKey(t, e.gate, "sandbox-auditor", true), "/v1/audit/events"); r.status != http.StatusForbidden {
			t.Fatalf("a test key reads the trail: %d", r.status)
		}
	})
	t.Run("BadFilters", func(t *testing.T) {
		for _, q := range []string{"from=yesterday", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "consumer_id=payroll",
			"credential_id=hrg_x", "credential_id=con_x", "type=API%20request", "employee_id=tor_x", "record_id=x", "employee_id=emp_a&record_id=emp_a", "limit=0"} {
			if r := e.get(t, auditor, "/v1/audit/events?"+q); r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d", q, r.status)
			}
		}
	})
	t.Run("SourceCredential", func(t *testing.T) {
		// A SCIM or webhook request is recorded with its source's id as
		// the credential; here, as an inbound webhook whose signature
		// failed is: the filter finds it, and nothing else.
		src, err := hrgate.NewID(hrgate.PrefixSource, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		// Its actor kind is a source's, which the API description lists:
		// the answer is checked against it.
		ev := &hrgate.AuditEvent{Type: hrgate.AuditAuthFailure, RequestID: "req_source_audit_filter", CredentialID: src,
			ActorKind: hrgate.ActorSource, Actor: "entra",
			Method: "POST", Route: "POST /v1/sources/{id}/events", Status: 401, Reason: "webhook: no matching signature"}
		if err := e.trail.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		r := e.get(t, auditor, "/v1/audit/events?credential_id="+src)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		items := r.items(t)
		if len(items) != 1 || items[0]["credential_id"] != src || items[0]["request_id"] != ev.RequestID {
			t.Fatalf("events of source %s: %v", src, items)
		}
	})
	t.Run("FiltersAndPages", func(t *testing.T) {
		var seen []float64
		path := "/v1/audit/events?type=auth.failure&limit=2"
		for path != "" {
			r := e.get(t, auditor, path)
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			for _, it := range r.items(t) {
				if it["type"] != "auth.failure" {
					t.Fatalf("filter on type returned %v", it["type"])
				}
				seen = append(seen, it["seq"].(float64))
			}
			path = ""
			if next, ok := r.object(t)["next_cursor"].(string); ok {
				path = "/v1/audit/events?type=auth.failure&limit=2&cursor=" + url.QueryEscape(next)
			}
		}
		if len(seen) < 5 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
			t.Fatalf("pages: %v", seen)
		}
		payroll, err := e.gate.Consumer(context.Background(), "payroll")
		if err != nil {
			t.Fatal(err)
		}
		r := e.get(t, auditor, "/v1/audit/events?limit=200&consumer_id="+payroll.ID+"&from=2000-01-01T00:00:00Z")
		for _, it := range r.items(t) {
			if it["consumer_id"] != payroll.ID {
				t.Fatalf("filter on consumer returned %v", it["consumer_id"])
			}
		}
		if len(r.items(t)) == 0 {
			t.Fatal("no events of payroll")
		}
	})
}

func (e *testEnv) testOAuthEvents(t *testing.T) {
	ctx := context.Background()
	cl, secret, err := e.gate.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll"})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}, "client_secret": {secret}}
	ok := e.postForm(t, "/oauth2/token", form, "", "")
	form.Set("client_secret", secret[:len(secret)-2]+"xx")
	bad := e.postForm(t, "/oauth2/token", form, "", "")
	evs := e.events(t)
	if ev := evs[ok.header.Get("X-Request-Id")]; ev == nil || ev.Type != hrgate.AuditTokenIssued || ev.CredentialID != cl.ID ||
		!strings.HasPrefix(ev.Target, "tok_") || ev.Status != 200 {
		t.Fatalf("token event %+v", ev)
	}
	if ev := evs[bad.header.Get("X-Request-Id")]; ev == nil || ev.Type != hrgate.AuditAuthFailure || ev.CredentialID != cl.ID ||
		!strings.Contains(ev.Reason, "client secret") {
		t.Fatalf("failure event %+v", ev)
	}
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), secret) || strings.Contains(string(b), secret[:len(secret)-2]) {
			t.Fatal("an event holds the client secret")
		}
		var tok map[string]any
		_ = json.Unmarshal(ok.body, &tok)
		if at, _ := tok["access_token"].(string); at != "" && strings.Contains(string(b), at) {
			t.Fatal("an event holds the access token")
		}
	}
}

func (e *testEnv) testNoAnswerWithoutEvent(t *testing.T) {
	if err := e.trailStore.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, e.payroll, "/v1/employees?limit=5")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d with an unwritable trail", r.status)
	}
	if strings.Contains(string(r.body), "emp_") {
		t.Fatal("the data went out without its event")
	}
	if r := e.get(t, "", "/healthz"); r.status != 200 {
		t.Fatalf("a probe, which is not recorded, answered %d", r.status)
	}
}

// Admin requests are recorded as the operator's, and so are the changes
// they make.
func TestAdminAudit(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			a := mustOpenAdminWithAudit(t, dsn(t))
			var c struct{ ID string }
			if status := a.call(t, "POST", "/admin/v1/consumers", `{"name":"payroll","scopes":["teams:read","companies:*"]}`, &c); status != 201 {
				t.Fatalf("create: %d", status)
			}
			saved := a.token
			a.token = "wrong"
			if status := a.call(t, "GET", "/admin/v1/consumers", "", nil); status != 401 {
				t.Fatalf("wrong token: %d", status)
			}
			a.token = saved
			evs, err := a.trail.AuditEvents(context.Background(), 0, 100)
			if err != nil || len(evs) != 3 {
				t.Fatalf("%d events: %v", len(evs), err)
			}
			change, req, failure := evs[0], evs[1], evs[2]
			if change.Type != hrgate.AuditConsumerCreated || change.ActorKind != hrgate.ActorAdmin || change.Actor != "admin-token" ||
				change.Target != c.ID || change.RequestID != req.RequestID || change.ClientAddr != "127.0.0.1" {
				t.Fatalf("change %+v", change)
			}
			if req.Type != hrgate.AuditAdminRequest || req.Route != "POST /admin/v1/consumers" || req.Status != 201 || req.Actor != "admin-token" {
				t.Fatalf("request %+v", req)
			}
			if failure.Type != hrgate.AuditAuthFailure || failure.Reason != "admin token mismatch" || failure.Status != 401 {
				t.Fatalf("failure %+v", failure)
			}
			b, _ := json.Marshal(evs)
			if strings.Contains(string(b), a.token) {
				t.Fatal("an event holds the admin token")
			}
		})
	}
}

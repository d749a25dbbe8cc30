package webhooks_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/webhooks"
)

var timeOffEvents = []string{hrgate.ChangeTimeOffCreated, hrgate.ChangeTimeOffUpdated, hrgate.ChangeTimeOffCancelled}

// pushSource creates a webhook source of the company and an employee of
// it, and returns a function applying the source's events.
func (e *env) pushSource(t *testing.T, company, name, employee string) func(id, typ string, data map[string]string) *sources.EventOutcome {
	t.Helper()
	ctx := context.Background()
	src, _, err := e.src.Create(ctx, name, company, hrgate.SourceWebhook)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(id, typ string, data map[string]string) *sources.EventOutcome {
		t.Helper()
		out, run, err := e.src.ApplyEvent(ctx, src, sources.Event{MessageID: id, Type: typ, Data: maps.Clone(data)})
		if err != nil {
			if run != nil {
				t.Fatalf("%s: %v %+v", id, err, run.Problems)
			}
			t.Fatalf("%s: %v", id, err)
		}
		return out
	}
	apply(name+"-hire", sources.EventEmployeeUpsert, map[string]string{"remote_id": employee, "first_name": "Ada", "last_name": "Lovelace"})
	return apply
}

// apiTimeOff returns the time-off request as GET /v1/time-off answers the
// consumer: read through its grant and written by the API's projection.
func (e *env) apiTimeOff(t *testing.T, consumer, id string) []byte {
	t.Helper()
	ctx := context.Background()
	c, err := e.db.FindConsumer(ctx, consumer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gate.ConsumerPrincipal(c)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := gate.NewReader(e.db, p).TimeOffRequests(ctx, hrgate.TimeOffFilter{ID: id, Page: hrgate.Page{Limit: 1}})
	if err != nil || len(rs) != 1 {
		t.Fatalf("the API's read of %s: %d requests, %v", id, len(rs), err)
	}
	return grant.AppendTimeOffRequest(nil, rs[0])
}

// TestTimeOffEvents: time_off.created, .updated and .cancelled reach an
// endpoint whose consumer reads time off in the event's company, signed
// (the receiver verifies with the official library), carrying the
// request as the API returns it at delivery time, a cancelled one with
// its last state; a thin endpoint gets ids only. A consumer that lost
// time_off:read, or whose grant covers another company, receives
// nothing, not even that an event happened.
func TestTimeOffEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		globex := &hrgate.Company{ID: "com_0000000000000000000000gbex", Slug: "globex", Name: "Globex", Country: "US",
			CreatedAt: e.clock.Now(), ModifiedAt: e.clock.Now()}
		if err := e.db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{globex}}); err != nil {
			t.Fatal(err)
		}
		e.consumer(t, "leave", "time_off:read companies:acme")
		e.consumer(t, "narrowed", "employees:read:identity time_off:read companies:acme")
		e.consumer(t, "globex-leave", "time_off:read companies:globex")
		full, thin, narrowed, other := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
		_, fs := e.endpoint(t, "leave", full.URL(), false, timeOffEvents...)
		_, ts := e.endpoint(t, "leave", thin.URL(), true, timeOffEvents...)
		// Every type, employee events included: it must still get none
		// of the time-off events once its grant loses time_off:read.
		nep, ns := e.endpoint(t, "narrowed", narrowed.URL(), false, hrgate.WebhookEventTypes...)
		oep, os := e.endpoint(t, "globex-leave", other.URL(), false, timeOffEvents...)
		full.setSecrets(fs)
		thin.setSecrets(ts)
		narrowed.setSecrets(ns)
		other.setSecrets(os)
		if _, err := e.gate.SetGrant(ctx, "narrowed", []string{"employees:read:identity companies:acme"}); err != nil {
			t.Fatal(err)
		}
		w := e.worker(t, webhooks.WorkerConfig{})

		apply := e.pushSource(t, "acme", "hris", "u1")
		e.pushSource(t, "globex", "globex-hris", "g1")("g-t1", sources.EventTimeOffUpsert, map[string]string{"remote_id": "gt1",
			"employee_remote_id": "g1", "type": "sick", "status": "approved", "start_date": "2026-11-02", "end_date": "2026-11-03",
			"amount": "2", "units": "days"})
		data := map[string]string{"remote_id": "t1", "employee_remote_id": "u1", "type": "vacation", "status": "requested",
			"start_date": "2026-12-01", "end_date": "2026-12-05", "amount": "5", "units": "days"}

		var timeOffID string
		for i, step := range []struct {
			typ, message, status string
		}{
			{hrgate.ChangeTimeOffCreated, "m1", "requested"},
			{hrgate.ChangeTimeOffUpdated, "m2", "approved"},
			{hrgate.ChangeTimeOffCancelled, "m3", "cancelled"},
		} {
			e.clock.Add(time.Second)
			switch step.typ {
			case hrgate.ChangeTimeOffCreated:
				timeOffID = apply(step.message, sources.EventTimeOffUpsert, data).TimeOffID
			case hrgate.ChangeTimeOffUpdated:
				data["status"] = "approved"
				apply(step.message, sources.EventTimeOffUpsert, data)
			default:
				apply(step.message, sources.EventTimeOffCancel, map[string]string{"remote_id": "t1"})
			}
			runOnce(t, w)

			got := full.messages()
			if len(got) != i+1 {
				t.Fatalf("after %s the full endpoint has %d deliveries, want %d", step.typ, len(got), i+1)
			}
			m := got[i]
			if m.Body["type"] != step.typ || !strings.HasPrefix(m.Body["id"].(string), "evt_") || !strings.HasPrefix(m.ID, "msg_") {
				t.Fatalf("delivery %s: %s", m.ID, m.Raw)
			}
			var body struct{ Data json.RawMessage }
			if err := json.Unmarshal([]byte(m.Raw), &body); err != nil {
				t.Fatal(err)
			}
			if want := e.apiTimeOff(t, "leave", timeOffID); string(body.Data) != string(want) {
				t.Fatalf("%s: data\n  %s\nthe API answers\n  %s", step.typ, body.Data, want)
			}
			d := m.Body["data"].(map[string]any)
			if d["id"] != timeOffID || d["status"] != step.status || d["company_id"] != "com_0000000000000000000000acme" ||
				d["type"] != "vacation" || d["start_date"] != "2026-12-01" || d["amount"] != 5.0 {
				t.Fatalf("%s: data %s", step.typ, body.Data)
			}
			if _, ok := m.Body["changed_groups"]; ok {
				t.Errorf("a time-off event names changed groups: %s", m.Raw)
			}
		}
		// Every field the catalogue lists for a request, the API's
		// field set, and nothing else.
		var want []string
		for _, f := range grant.Fields(grant.ObjectTimeOffRequest) {
			want = append(want, f.Name)
		}
		d := full.messages()[2].Body["data"].(map[string]any)
		if got := slices.Sorted(maps.Keys(d)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("data fields %q, the catalogue lists %q", got, want)
		}

		thinGot := thin.messages()
		if len(thinGot) != 3 {
			t.Fatalf("the thin endpoint has %d deliveries, want 3", len(thinGot))
		}
		for _, m := range thinGot {
			d := m.Body["data"].(map[string]any)
			if len(d) != 3 || d["id"] != timeOffID || d["company_id"] == nil || d["employee_id"] == nil {
				t.Errorf("thin payload = %s", m.Raw)
			}
		}
		for _, m := range narrowed.messages() {
			if strings.HasPrefix(m.Body["type"].(string), "time_off.") || strings.Contains(m.Raw, timeOffID) {
				t.Errorf("a consumer without time_off:read got %s", m.Raw)
			}
		}
		if len(narrowed.ofType(hrgate.ChangeEmployeeCreated)) != 1 {
			t.Errorf("the narrowed consumer's employee events: %d, want 1 (the grant still reads employees)", len(narrowed.messages()))
		}
		if got := other.messages(); len(got) != 1 || !strings.Contains(got[0].Raw, `"status":"approved"`) || strings.Contains(got[0].Raw, timeOffID) {
			t.Errorf("the globex consumer got %d deliveries, want its own company's one: %+v", len(got), got)
		}
		// Not even a delivery is recorded for them: the fan-out checks
		// the grant, not only the attempt.
		for _, ep := range []*hrgate.WebhookEndpoint{nep, oep} {
			ds, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{EndpointID: ep.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.TimeOffID == timeOffID {
					t.Errorf("endpoint %s has a delivery of acme's request: %+v", ep.ID, d)
				}
			}
		}
		for _, m := range full.messages() {
			if strings.Contains(m.Raw, "sick") {
				t.Errorf("the acme consumer got globex's request: %s", m.Raw)
			}
		}

		t.Run("NarrowedGrantSkips", func(t *testing.T) {
			// Fanned out while leave could read time off, attempted after
			// its grant lost it: nothing is sent, as for an employee.
			data["end_date"] = "2026-12-06"
			first, retried := e.retryAfterNarrowing(t, w, full, func() { apply("m4", sources.EventTimeOffUpsert, data) },
				"leave", "employees:read:identity companies:acme")
			if first != 1 || retried != 1 {
				t.Fatalf("leave got %d deliveries of the change, then %d after its grant lost time_off:read; want 1 and still 1", first, retried)
			}
			ds, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{Status: hrgate.DeliverySkipped})
			if err != nil {
				t.Fatal(err)
			}
			var skipped int
			for _, d := range ds {
				if d.EventType == hrgate.ChangeTimeOffUpdated && d.TimeOffID == timeOffID && d.Attempts == 1 {
					skipped++
				}
			}
			if skipped != 1 {
				t.Fatalf("skipped time-off deliveries after one attempt: %d, want 1 (%d skipped in all)", skipped, len(ds))
			}
		})
	})
}

// TestTimeOffOfErasedEmployeeSkipped: a time-off delivery attempted
// after its employee was erased sends nothing and is skipped, full or
// thin: the erasure emptied and hid the request, and even its ids are not
// sent once the person is gone.
func TestTimeOffOfErasedEmployeeSkipped(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "leave", "time_off:read companies:acme")
		full, thin := newReceiver(t), newReceiver(t)
		_, fs := e.endpoint(t, "leave", full.URL(), false, timeOffEvents...)
		_, ts := e.endpoint(t, "leave", thin.URL(), true, timeOffEvents...)
		full.setSecrets(fs)
		thin.setSecrets(ts)
		w := e.worker(t, webhooks.WorkerConfig{})
		apply := e.pushSource(t, "acme", "hris", "u1")
		var employeeID, timeOffID string
		thin.setRespond(func(int) int { return 503 })
		first, retried := e.retryAfter(t, w, full, func() {
			res := apply("m1", sources.EventTimeOffUpsert, map[string]string{"remote_id": "t1", "employee_remote_id": "u1",
				"type": "sick", "status": "approved", "start_date": "2026-12-01", "end_date": "2026-12-03", "amount": "3", "units": "days"})
			employeeID, timeOffID = res.EmployeeID, res.TimeOffID
		}, func() {
			if err := e.gate.EraseEmployee(ctx, employeeID); err != nil {
				t.Fatal(err)
			}
		})
		if first != 1 || retried != 1 {
			t.Fatalf("the full endpoint got %d deliveries of the request, then %d after the erasure; want 1 and still 1", first, retried)
		}
		if got := thin.messages(); len(got) != 1 {
			t.Fatalf("the thin endpoint got %d deliveries; want the 1 failed before the erasure", len(got))
		}
		ds, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{Status: hrgate.DeliverySkipped})
		if err != nil {
			t.Fatal(err)
		}
		skipped := 0
		for _, d := range ds {
			if d.TimeOffID == timeOffID && d.Attempts == 1 {
				skipped++
			}
		}
		if skipped != 2 {
			t.Fatalf("%d deliveries of the erased employee's request skipped after one attempt; want 2 (full and thin), of %d skipped", skipped, len(ds))
		}
	})
}

// TestCreateRefusesUnreadableEvents: an endpoint may subscribe only to
// events whose object its consumer's grant reads: time_off.* needs
// time_off:read, employee.* an employees scope. The refusal is EINVALID
// and says which scope is missing.
func TestCreateRefusesUnreadableEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "directory", "employees:read:identity companies:*")
		e.consumer(t, "leave", "time_off:read companies:*")
		e.consumer(t, "leave-writer", "time_off:write companies:*")
		for _, tc := range []struct {
			name, consumer string
			events         []string
			want           string // "" when accepted
		}{
			{"OK_EmployeeEvents", "directory", []string{hrgate.ChangeEmployeeCreated}, ""},
			{"OK_TimeOffOnly", "leave", timeOffEvents, ""},
			{"ErrTimeOffWithoutTimeOffRead", "directory", []string{hrgate.ChangeTimeOffCreated}, "time_off:read"},
			{"ErrMixedWithoutTimeOffRead", "directory", []string{hrgate.ChangeEmployeeCreated, hrgate.ChangeTimeOffCancelled}, "time_off:read"},
			{"ErrTimeOffWriteOnly", "leave-writer", []string{hrgate.ChangeTimeOffUpdated}, "time_off:read"},
			{"ErrEmployeeEventsWithoutEmployees", "leave", []string{hrgate.ChangeTimeOffCreated, hrgate.ChangeEmployeeUpdated}, "cannot read employees"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before, err := e.svc.Endpoints(ctx, tc.consumer)
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = e.svc.Create(ctx, webhooks.EndpointRequest{Consumer: tc.consumer, URL: "https://hooks.example.com/h", EventTypes: tc.events})
				if tc.want == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if hrgate.ErrorCode(err) != hrgate.EINVALID || !strings.Contains(hrgate.ErrorMessage(err), tc.want) ||
					!strings.Contains(hrgate.ErrorMessage(err), tc.consumer) {
					t.Fatalf("error %v (%s), want EINVALID naming %q and the consumer", err, hrgate.ErrorCode(err), tc.want)
				}
				if after, err := e.svc.Endpoints(ctx, tc.consumer); err != nil || len(after) != len(before) {
					t.Fatalf("a refused endpoint was stored: %d endpoints before, %d after (%v)", len(before), len(after), err)
				}
			})
		}
	})
}

package sources_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sources"
)

func (e *env) runs(t *testing.T, src *hrgate.Source) []*hrgate.SyncRun {
	t.Helper()
	rs, err := e.svc.Runs(context.Background(), src.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestApplyEvent_EmployeeOnceAndReplay(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		ev := sources.Event{MessageID: "msg_1", Type: sources.EventEmployeeUpsert, Data: map[string]string{
			"remote_id": "u1", "first_name": "Ada", "last_name": "Lovelace", "pay_rate": "90000", "pay_currency": "EUR", "pay_period": "year"}}
		out, run, err := e.svc.ApplyEvent(ctx, src, ev)
		if err != nil || out.Replayed || out.Change != sources.Created || run == nil || run.Created != 1 {
			t.Fatalf("first: %v %+v %+v", err, out, run)
		}
		evs := e.events(t, 0)
		if len(evs) != 1 || evs[0].Type != hrgate.ChangeEmployeeCreated || evs[0].EmployeeID != out.EmployeeID || evs[0].RunID != run.ID {
			t.Fatalf("events after the first delivery: %+v", evs)
		}

		// The same message id, even with other data: not applied again,
		// answered with the first outcome, no run recorded.
		ev.Data["pay_rate"] = "1"
		again, run2, err := e.svc.ApplyEvent(ctx, src, ev)
		if err != nil || !again.Replayed || run2 != nil {
			t.Fatalf("replay: %v %+v %+v", err, again, run2)
		}
		again.Replayed = false
		if again.RunID != out.RunID || again.EmployeeID != out.EmployeeID || again.Change != out.Change ||
			strings.Join(again.Groups, ",") != strings.Join(out.Groups, ",") {
			t.Fatalf("replay outcome %+v, want %+v", again, out)
		}
		if n := len(e.events(t, 0)); n != 1 {
			t.Fatalf("%d events after a replay, want 1", n)
		}
		if n := len(e.runs(t, src)); n != 1 {
			t.Fatalf("%d runs after a replay, want 1", n)
		}
		if got := e.employees(t)["u1"].Compensation.PayRate; got != "90000" {
			t.Fatalf("the replay changed the pay rate to %s", got)
		}

		// A patch keeps the other fields; a terminate sets the status
		// and the date of the event.
		out, _, err = e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "msg_2", Type: sources.EventEmployeePatch,
			Data: map[string]string{"remote_id": "u1", "job_title": "Analyst"}})
		if err != nil || out.Change != sources.Updated || strings.Join(out.Groups, ",") != "employment" {
			t.Fatalf("patch: %v %+v", err, out)
		}
		out, _, err = e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "msg_3", Type: sources.EventEmployeeTerminate,
			Data: map[string]string{"remote_id": "u1"}})
		if err != nil || out.Change != sources.Terminated {
			t.Fatalf("terminate: %v %+v", err, out)
		}
		got := e.employees(t)["u1"]
		if got.Employment.Status != hrgate.StatusTerminated || got.Employment.TerminationDate != "2026-11-20" ||
			got.Employment.JobTitle != "Analyst" || got.Identity.FirstName != "Ada" {
			t.Fatalf("after patch and terminate: %+v %+v", got.Employment, got.Identity)
		}
	})
}

// Concurrent deliveries of one message: exactly one applies it.
func TestApplyEvent_ConcurrentReplays(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		src := pushSource(t, e)
		ev := sources.Event{MessageID: "msg_c", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": "u1", "first_name": "Ada", "last_name": "Lovelace"}}
		var wg sync.WaitGroup
		outs := make([]*sources.EventOutcome, 8)
		errs := make([]error, 8)
		for i := range outs {
			wg.Go(func() { outs[i], _, errs[i] = e.svc.ApplyEvent(context.Background(), src, ev) })
		}
		wg.Wait()
		applied := 0
		for i, o := range outs {
			if errs[i] != nil {
				t.Fatalf("delivery %d: %v", i, errs[i])
			}
			if !o.Replayed {
				applied++
			}
			if o.RunID != outs[0].RunID {
				t.Errorf("delivery %d answered run %s, delivery 0 run %s", i, o.RunID, outs[0].RunID)
			}
		}
		if applied != 1 || len(e.events(t, 0)) != 1 || len(e.runs(t, src)) != 1 {
			t.Fatalf("%d deliveries applied, %d events, %d runs; want 1 each", applied, len(e.events(t, 0)), len(e.runs(t, src)))
		}
	})
}

func TestApplyEvent_Refusals(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		for _, tc := range []struct {
			name     string
			ev       sources.Event
			rejected bool   // 422-like: ErrRejected with problems
			want     string // in the message or a problem
		}{
			{"UnknownType", sources.Event{Type: "employee.delete", Data: map[string]string{"remote_id": "u1"}}, false, "Unknown event type"},
			{"UnknownField", sources.Event{Type: sources.EventEmployeeUpsert, Data: map[string]string{"remote_id": "u1", "frist_name": "A"}}, false, `"frist_name"`},
			// A secret the sender put where a name belongs is named, not
			// repeated.
			{"SecretType", sources.Event{Type: "hrg_live_" + strings.Repeat("A", 49), Data: map[string]string{"remote_id": "u1"}}, false, `type "(an API key, not repeated)";`},
			{"SecretField", sources.Event{Type: sources.EventEmployeeUpsert, Data: map[string]string{"remote_id": "u1", "whsec_" + strings.Repeat("A", 43): "A"}}, false, `field(s) "(a webhook signing secret, not repeated)" (`},
			{"TerminateTakesNoName", sources.Event{Type: sources.EventEmployeeTerminate, Data: map[string]string{"remote_id": "u1", "first_name": "A"}}, false, `"first_name"`},
			{"BadEmail", sources.Event{Type: sources.EventEmployeeUpsert, Data: map[string]string{"remote_id": "u1", "first_name": "A", "last_name": "B", "work_email": "nope"}}, true, "e-mail"},
			{"NoRemoteID", sources.Event{Type: sources.EventEmployeeUpsert, Data: map[string]string{"first_name": "A", "last_name": "B"}}, true, "remote id is required"},
			{"NewWithoutName", sources.Event{Type: sources.EventEmployeePatch, Data: map[string]string{"remote_id": "zz", "job_title": "X"}}, true, "first_name and last_name"},
			{"TimeOffBadDates", sources.Event{Type: sources.EventTimeOffUpsert, Data: map[string]string{"remote_id": "t1", "employee_remote_id": "u1",
				"type": "vacation", "status": "approved", "start_date": "2026-12-10", "end_date": "2026-12-01"}}, true, "end date is before"},
			{"TimeOffBadEnum", sources.Event{Type: sources.EventTimeOffUpsert, Data: map[string]string{"remote_id": "t1", "employee_remote_id": "u1",
				"type": "holiday", "status": "approved", "start_date": "2026-12-01", "end_date": "2026-12-01"}}, true, "Not one of vacation"},
			{"TimeOffUnknownEmployee", sources.Event{Type: sources.EventTimeOffUpsert, Data: map[string]string{"remote_id": "t1", "employee_remote_id": "nobody",
				"type": "vacation", "status": "approved", "start_date": "2026-12-01", "end_date": "2026-12-01", "amount": "1", "units": "days"}}, true, "No employee"},
			{"CancelUnknown", sources.Event{Type: sources.EventTimeOffCancel, Data: map[string]string{"remote_id": "t404"}}, true, "No time-off request"},
			// A time-off request's remote ids are checked as an employee's is.
			{"TimeOffNoEmployeeRemoteID", sources.Event{Type: sources.EventTimeOffUpsert, Data: map[string]string{"remote_id": "t1",
				"type": "vacation", "status": "approved", "start_date": "2026-12-01", "end_date": "2026-12-01"}}, true, "employee_remote_id: The remote id is required."},
			{"TimeOffRemoteIDFormula", sources.Event{Type: sources.EventTimeOffCancel, Data: map[string]string{"remote_id": "=t1"}}, true, "remote_id: The value starts with ="},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.ev.MessageID = "msg_" + tc.name
				out, run, err := e.svc.ApplyEvent(ctx, src, tc.ev)
				if err == nil || out != nil || hrgate.ErrorCode(err) != hrgate.EINVALID {
					t.Fatalf("accepted: %v %+v", err, out)
				}
				if errors.Is(err, sources.ErrRejected) != tc.rejected {
					t.Fatalf("rejected = %v, want %v: %v", !tc.rejected, tc.rejected, err)
				}
				text := hrgate.ErrorMessage(err)
				if tc.rejected {
					if run == nil || run.Status != hrgate.RunFailed || len(run.Problems) == 0 {
						t.Fatalf("run %+v", run)
					}
					text = run.Problems[0].Column + ": " + run.Problems[0].Message
				}
				if !strings.Contains(text, tc.want) {
					t.Fatalf("%q does not say %q", text, tc.want)
				}
				// Nothing refused is remembered: the same id may come again.
				if _, err := e.db.MessageOutcome(ctx, src.ID, tc.ev.MessageID); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
					t.Fatalf("a refused message was remembered: %v", err)
				}
			})
		}
		if n := len(e.events(t, 0)); n != 0 {
			t.Fatalf("refused events wrote %d change events", n)
		}
		csv := e.src
		if _, _, err := e.svc.ApplyEvent(ctx, csv, sources.Event{MessageID: "m", Type: sources.EventEmployeeUpsert}); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("an event for a CSV source: %v", err)
		}
	})
}

func TestApplyEvent_TimeOff(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		emp, _, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m0", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": "u1", "first_name": "Ada", "last_name": "Lovelace"}})
		if err != nil {
			t.Fatal(err)
		}
		seq := e.events(t, 0)[0].Seq
		data := map[string]string{"remote_id": "t1", "employee_remote_id": "u1", "type": "Vacation", "status": "requested",
			"start_date": "2026-12-01", "end_date": "2026-12-05", "amount": "5", "units": "days"}
		apply := func(id, typ string, data map[string]string) *sources.EventOutcome {
			t.Helper()
			d := make(map[string]string, len(data))
			for k, v := range data {
				d[k] = v
			}
			out, run, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: id, Type: typ, Data: d})
			if err != nil {
				if run != nil {
					t.Fatalf("%s: %v %+v", id, err, run.Problems)
				}
				t.Fatalf("%s: %v", id, err)
			}
			return out
		}
		created := apply("m1", sources.EventTimeOffUpsert, data)
		if created.Change != sources.Created || !hrgate.ValidID(hrgate.PrefixTimeOff, created.TimeOffID) || created.EmployeeID != emp.EmployeeID {
			t.Fatalf("created %+v", created)
		}
		if o := apply("m2", sources.EventTimeOffUpsert, data); o.Change != sources.Unchanged || o.TimeOffID != created.TimeOffID {
			t.Fatalf("same again %+v", o)
		}
		data["status"] = "approved"
		if o := apply("m3", sources.EventTimeOffUpsert, data); o.Change != sources.Updated {
			t.Fatalf("approved %+v", o)
		}
		if o := apply("m4", sources.EventTimeOffCancel, map[string]string{"remote_id": "t1"}); o.Change != sources.Cancelled {
			t.Fatalf("cancel %+v", o)
		}
		if o := apply("m5", sources.EventTimeOffCancel, map[string]string{"remote_id": "t1"}); o.Change != sources.Unchanged {
			t.Fatalf("cancel again %+v", o)
		}
		var types []string
		for _, ev := range e.events(t, seq) {
			if ev.TimeOffID != created.TimeOffID || ev.EmployeeID != emp.EmployeeID || ev.CompanyID != src.CompanyID {
				t.Errorf("event %+v", ev)
			}
			types = append(types, ev.Type)
		}
		if got := strings.Join(types, " "); got != "time_off.created time_off.updated time_off.cancelled" {
			t.Fatalf("events %s", got)
		}
		rs, err := e.db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, Page: hrgate.Page{Limit: 10}})
		if err != nil || len(rs) != 1 {
			t.Fatalf("stored: %v %d", err, len(rs))
		}
		r := rs[0]
		if r.ID != created.TimeOffID || r.Type != "vacation" || r.Status != "cancelled" || r.Amount != "5" || r.Units != "days" ||
			r.SourceID != src.ID || r.RemoteID != "t1" || r.EmployeeID != emp.EmployeeID {
			t.Fatalf("stored %+v", r)
		}
	})
}

// Concurrent patches of one employee, each of another field, by
// different messages: every field is kept. On PostgreSQL two
// transactions that read the employee before either wrote it would
// otherwise each write back the other's field as it was.
func TestApplyEvent_ConcurrentPatchesKeepEveryField(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		if _, _, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m0", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": "u1", "first_name": "Ada", "last_name": "Lovelace"}}); err != nil {
			t.Fatal(err)
		}
		fields := []string{"job_title", "department", "preferred_name", "employee_number", "gender", "marital_status", "home_address_city", "bank_name"}
		for round := range 3 {
			value := "v" + strconv.Itoa(round)
			var wg sync.WaitGroup
			errs := make([]error, len(fields))
			for i, f := range fields {
				wg.Go(func() {
					_, _, errs[i] = e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m_" + value + "_" + f, Type: sources.EventEmployeePatch,
						Data: map[string]string{"remote_id": "u1", f: value}})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, patch of %s: %v", round, fields[i], err)
				}
			}
			got := e.employees(t)["u1"]
			have := map[string]string{"job_title": got.Employment.JobTitle, "department": got.Employment.Department,
				"preferred_name": got.Identity.PreferredName, "employee_number": got.Identity.EmployeeNumber, "gender": got.Personal.Gender,
				"marital_status": got.Personal.MaritalStatus, "home_address_city": got.Contact.HomeAddress.City, "bank_name": got.Banking.BankName}
			for _, f := range fields {
				if have[f] != value {
					t.Errorf("round %d: %s is %q, want %q: a concurrent patch lost it", round, f, have[f], value)
				}
			}
		}
	})
}

// An employee's remote id is trimmed as every other value of an event
// (and as a CSV file's are) before it is checked: a leading space must
// not carry a formula past the check, nor make "W-1 " another employee
// than "W-1".
func TestApplyEvent_RemoteIDTrimmed(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		_, run, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m_formula", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": " =HYPERLINK(\"x\")", "first_name": "Ada", "last_name": "Lovelace"}})
		if !errors.Is(err, sources.ErrRejected) || run == nil || len(run.Problems) != 1 || run.Problems[0].Column != "remote_id" {
			t.Fatalf("a remote id with a formula after a space: %v %+v", err, run)
		}
		first, _, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m1", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": "W-1", "first_name": "Ada", "last_name": "Lovelace"}})
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m2", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": " W-1 ", "first_name": "Ada", "last_name": "Lovelace"}})
		if err != nil || again.Change != sources.Unchanged || again.EmployeeID != first.EmployeeID {
			t.Fatalf("the same remote id with spaces: %v %+v, want unchanged %s", err, again, first.EmployeeID)
		}
	})
}

// A time-off request of an erased employee is refused, a cancel as well
// as an upsert: no time-off change is written, nor an event naming the
// erased employee.
func TestApplyEvent_TimeOffOfErasedEmployee(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		emp, _, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m0", Type: sources.EventEmployeeUpsert,
			Data: map[string]string{"remote_id": "u1", "first_name": "Ada", "last_name": "Lovelace"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m1", Type: sources.EventTimeOffUpsert,
			Data: map[string]string{"remote_id": "t1", "employee_remote_id": "u1", "type": "sick", "status": "approved",
				"start_date": "2026-12-01", "end_date": "2026-12-02"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.db.EraseEmployee(ctx, emp.EmployeeID); err != nil {
			t.Fatal(err)
		}
		seq := e.events(t, 0)
		_, run, err := e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m2", Type: sources.EventTimeOffCancel, Data: map[string]string{"remote_id": "t1"}})
		if !errors.Is(err, sources.ErrRejected) || run == nil || len(run.Problems) != 1 || !strings.Contains(run.Problems[0].Message, "erased") {
			t.Fatalf("cancel of an erased employee's time off: %v %+v", err, run)
		}
		if n := len(e.events(t, 0)); n != len(seq) {
			t.Fatalf("the refused cancel wrote %d events", n-len(seq))
		}
		// The erased request keeps its remote id, so re-sending it is
		// refused too, rather than creating it anew.
		_, run, err = e.svc.ApplyEvent(ctx, src, sources.Event{MessageID: "m3", Type: sources.EventTimeOffUpsert,
			Data: map[string]string{"remote_id": "t1", "employee_remote_id": "u1", "type": "sick", "status": "approved",
				"start_date": "2026-12-01", "end_date": "2026-12-02"}})
		if !errors.Is(err, sources.ErrRejected) || run == nil || len(run.Problems) != 1 || !strings.Contains(run.Problems[0].Message, "erased") {
			t.Fatalf("re-sent time off of an erased employee: %v %+v", err, run)
		}
		if n := len(e.events(t, 0)); n != len(seq) {
			t.Fatalf("the refused upsert wrote %d events", n-len(seq))
		}
	})
}

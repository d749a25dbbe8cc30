package sources_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sources"
)

// pushSource creates a webhook source on e's company: Apply serves the
// sources that push.
func pushSource(t *testing.T, e *env) *hrgate.Source {
	t.Helper()
	src, _, err := e.svc.Create(context.Background(), "hris", "acme", hrgate.SourceWebhook)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestApply_CreateUpdateUnchanged(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		rec := sources.Record{RemoteID: "u1", Values: map[string]string{
			"first_name": " Ada ", "last_name": "Lovelace", "work_email": "ADA@example.com",
			"pay_rate": "90000.00", "pay_currency": "EUR", "pay_period": "year",
		}}
		run, out, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{rec})
		if err != nil {
			t.Fatalf("Apply: %v %+v", err, out)
		}
		if run.Status != hrgate.RunSucceeded || run.Created != 1 || out[0].Change != sources.Created {
			t.Fatalf("run %+v outcome %+v", run, out[0])
		}
		emp := out[0].Employee
		if !hrgate.ValidID(hrgate.PrefixEmployee, emp.ID) || emp.Identity.FirstName != "Ada" || emp.SourceID != src.ID {
			t.Fatalf("created employee %+v", emp)
		}
		if got := strings.Join(out[0].Groups, ","); got != "identity,employment,compensation" {
			t.Errorf("created groups = %s", got)
		}

		// The same record again: no change, no event.
		before := len(e.events(t, 0))
		_, out, err = e.svc.Apply(ctx, src, "webhook", []sources.Record{rec})
		if err != nil || out[0].Change != sources.Unchanged || out[0].Employee.ID != emp.ID {
			t.Fatalf("unchanged: %v %+v", err, out)
		}
		if n := len(e.events(t, 0)); n != before {
			t.Errorf("an unchanged record wrote %d events", n-before)
		}

		// Only compensation sent: identity kept, one update naming it.
		_, out, err = e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1",
			Values: map[string]string{"pay_rate": "95000.00", "pay_currency": "EUR", "pay_period": "year"}}})
		if err != nil || out[0].Change != sources.Updated || strings.Join(out[0].Groups, ",") != "compensation" {
			t.Fatalf("update: %v %+v", err, out)
		}
		if out[0].Employee.Identity.LastName != "Lovelace" || out[0].Employee.Compensation.PayRate != "95000.00" {
			t.Errorf("updated employee %+v", out[0].Employee)
		}
		evs := e.events(t, 0)
		if last := evs[len(evs)-1]; last.Type != hrgate.ChangeEmployeeUpdated || last.EmployeeID != emp.ID {
			t.Errorf("last event %+v", last)
		}

		// A group named without its fields is cleared.
		_, out, err = e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1",
			Groups: hrgate.GroupsOf(hrgate.GroupCompensation), Values: map[string]string{}}})
		if err != nil || out[0].Employee.Compensation != (hrgate.Compensation{}) {
			t.Fatalf("clear: %v %+v", err, out)
		}

		runs, err := e.svc.Runs(ctx, src.ID, 10)
		if err != nil || len(runs) != 4 || runs[0].Kind != "webhook" {
			t.Errorf("runs: %v %d", err, len(runs))
		}
	})
}

func TestApply_RefusedWritesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		good := sources.Record{RemoteID: "ok", Values: map[string]string{"first_name": "A", "last_name": "B"}}
		cases := []struct {
			name   string
			recs   []sources.Record
			record int
			column string
		}{
			{"bad email", []sources.Record{good, {RemoteID: "x", Values: map[string]string{"first_name": "A", "last_name": "B", "work_email": "not-an-email"}}}, 2, "work_email"},
			{"formula", []sources.Record{{RemoteID: "x", Values: map[string]string{"first_name": "=cmd()", "last_name": "B"}}}, 1, "first_name"},
			{"unknown field", []sources.Record{{RemoteID: "x", Values: map[string]string{"first_name": "A", "last_name": "B", "shoe_size": "42"}}}, 1, "shoe_size"},
			{"no remote id", []sources.Record{{Values: map[string]string{"first_name": "A", "last_name": "B"}}}, 1, "remote_id"},
			{"control character", []sources.Record{{RemoteID: "x", Values: map[string]string{"first_name": "A\nB", "last_name": "B"}}}, 1, "first_name"},
			{"field outside the groups", []sources.Record{{RemoteID: "x", Groups: hrgate.GroupsOf(hrgate.GroupIdentity), Values: map[string]string{"first_name": "A", "last_name": "B", "iban": "DE89370400440532013000"}}}, 1, "iban"},
			{"duplicate remote id", []sources.Record{good, good}, 2, ""},
			{"new without a name", []sources.Record{good, {RemoteID: "x", Values: map[string]string{"job_title": "Engineer"}}}, 2, ""},
		}
		for _, c := range cases {
			run, out, err := e.svc.Apply(ctx, src, "webhook", c.recs)
			if !errors.Is(err, sources.ErrRejected) || hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Fatalf("%s: err = %v", c.name, err)
			}
			if run.Status != hrgate.RunFailed || run.Created != 0 || run.Rejected == 0 {
				t.Errorf("%s: run %+v", c.name, run)
			}
			ps := out[c.record-1].Problems
			if len(ps) == 0 || ps[0].Column != c.column || ps[0].Row != c.record {
				t.Errorf("%s: problems of record %d = %+v", c.name, c.record, ps)
			}
			for i, o := range out {
				if o.Employee != nil {
					t.Errorf("%s: record %d has an employee after a refused call", c.name, i+1)
				}
			}
		}
		if n := len(e.employees(t)); n != 0 {
			t.Errorf("%d employees written by refused calls", n)
		}
		if n := len(e.events(t, 0)); n != 0 {
			t.Errorf("%d events written by refused calls", n)
		}
	})
}

func TestApply_OnlyPushSources(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		_, _, err := e.svc.Apply(context.Background(), e.src, "scim", []sources.Record{{RemoteID: "x"}})
		if hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Errorf("Apply on a CSV source: %v", err)
		}
	})
}

func TestApply_PatchKeepsOtherFields(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		_, _, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1", Values: map[string]string{
			"first_name": "Ada", "last_name": "Lovelace", "work_email": "ada@example.com", "job_title": "Engineer", "department": "R&D"}}})
		if err != nil {
			t.Fatal(err)
		}
		_, out, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1", Patch: true,
			Values: map[string]string{"job_title": "Lead Engineer", "work_email": ""}}})
		if err != nil {
			t.Fatalf("patch: %v %+v", err, out)
		}
		got := out[0].Employee
		if got.Employment.JobTitle != "Lead Engineer" || got.Employment.Department != "R&D" ||
			got.Identity.FirstName != "Ada" || got.Identity.WorkEmail != "" {
			t.Errorf("patched employee %+v %+v", got.Identity, got.Employment)
		}
		if g := strings.Join(out[0].Groups, ","); g != "identity,employment" {
			t.Errorf("changed groups = %s", g)
		}
		// A patch that breaks a rule between fields is refused.
		_, _, err = e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1", Patch: true,
			Values: map[string]string{"start_date": "2026-01-10", "termination_date": "2025-01-01"}}})
		if !errors.Is(err, sources.ErrRejected) {
			t.Errorf("a termination before the start: %v", err)
		}
	})
}

// Concurrent patches of different fields of one employee all survive:
// each reads the stored employee in its own transaction, and the
// transactions of one source queue, so none starts from a read another
// is about to overwrite.
func TestApply_ConcurrentPatchesKeepEachOther(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		if _, _, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1",
			Values: map[string]string{"first_name": "Ada", "last_name": "Lovelace"}}}); err != nil {
			t.Fatal(err)
		}
		patches := map[string]string{
			"job_title": "Engineer", "department": "R&D", "preferred_name": "Ada L", "employee_number": "E-1",
			"gender": "female", "marital_status": "single", "bank_name": "Bank", "pay_period": "year",
		}
		errs := make(chan error, len(patches))
		for name, v := range patches {
			go func() {
				_, _, err := e.svc.Apply(ctx, src, "webhook", []sources.Record{{RemoteID: "u1", Patch: true,
					Values: map[string]string{name: v}}})
				errs <- err
			}()
		}
		for range patches {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got := sources.Values(e.employees(t)["u1"])
		for name, v := range patches {
			if got[name] != v {
				t.Errorf("%s = %q after the concurrent patches, want %q", name, got[name], v)
			}
		}
	})
}

// The run of a pushed change is recorded in the change's transaction: a
// hook that fails undoes the employee, its event and its succeeded run,
// and the call is recorded once, as a failed run that created nothing.
func TestApplyHook_RunCommitsWithTheChange(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		rec := sources.Record{RemoteID: "u1", Values: map[string]string{"first_name": "Ada", "last_name": "Lovelace"}}
		boom := errors.New("boom")
		run, out, err := e.svc.ApplyHook(ctx, src, "scim", []sources.Record{rec}, func(context.Context, hrgate.SyncTx, []sources.Outcome) error {
			return boom
		})
		if !errors.Is(err, boom) || run.Status != hrgate.RunFailed || run.Created != 0 || out[0].Employee != nil {
			t.Fatalf("failed hook: %v %+v %+v", err, run, out)
		}
		if rs := e.runs(t, src); len(rs) != 1 || rs[0].ID != run.ID || rs[0].Status != hrgate.RunFailed || rs[0].Created != 0 {
			t.Fatalf("runs after a failed hook: %+v", rs)
		}
		if evs := e.events(t, 0); len(evs) != 0 {
			t.Fatalf("events after a failed hook: %+v", evs)
		}

		// A call whose request is cancelled while it writes fails, and
		// its run is recorded all the same.
		cancelled, cancel := context.WithCancel(ctx)
		failed, _, err := e.svc.ApplyHook(cancelled, src, "scim", []sources.Record{rec}, func(ctx context.Context, _ hrgate.SyncTx, _ []sources.Outcome) error {
			cancel()
			return ctx.Err()
		})
		if !errors.Is(err, context.Canceled) || failed.Status != hrgate.RunFailed {
			t.Fatalf("a cancelled call: %v %+v", err, failed)
		}
		if rs := e.runs(t, src); len(rs) != 2 || !slices.ContainsFunc(rs, func(r *hrgate.SyncRun) bool {
			return r.ID == failed.ID && r.Status == hrgate.RunFailed
		}) {
			t.Fatalf("runs after a cancelled call: %+v", rs)
		}

		run, _, err = e.svc.ApplyHook(ctx, src, "scim", []sources.Record{rec}, nil)
		if err != nil || run.Status != hrgate.RunSucceeded || run.FinishedAt.IsZero() {
			t.Fatalf("apply: %v %+v", err, run)
		}
		// The clock stands still: the runs start at one time, so the
		// stored one is found by its id, not by its place in the list.
		rs := e.runs(t, src)
		i := slices.IndexFunc(rs, func(r *hrgate.SyncRun) bool { return r.ID == run.ID })
		if len(rs) != 3 || i < 0 || rs[i].Status != hrgate.RunSucceeded || rs[i].Created != 1 || !rs[i].FinishedAt.Equal(run.FinishedAt) {
			t.Fatalf("runs after a success: %d, the new one at %d", len(rs), i)
		}
		if evs := e.events(t, 0); len(evs) != 1 || evs[0].RunID != run.ID {
			t.Fatalf("events after a success: %+v", evs)
		}
	})
}

// A record marked New gets its employee id and data key before the
// transaction; the key stays only when the record created its employee:
// one that turned out to exist, or a transaction that failed, leaves no
// key behind.
func TestApplyHook_NewRecordKeys(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		src := pushSource(t, e)
		ks := storetest.OpenKeyStore(t, storetest.KeysDSN(e.dsn))
		keys := func() map[string]bool {
			t.Helper()
			dks, err := ks.DataKeysBelow(ctx, math.MaxInt32, nil, 1000)
			if err != nil {
				t.Fatal(err)
			}
			owners := make(map[string]bool)
			for _, dk := range dks {
				if strings.HasPrefix(dk.Owner, hrgate.PrefixEmployee+"_") {
					owners[dk.Owner] = true
				}
			}
			return owners
		}
		rec := sources.Record{RemoteID: "u1", Values: map[string]string{"first_name": "Ada", "last_name": "Lovelace"}, New: true}

		boom := errors.New("boom")
		if _, _, err := e.svc.ApplyHook(ctx, src, "scim", []sources.Record{rec}, func(context.Context, hrgate.SyncTx, []sources.Outcome) error {
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("failed hook: %v", err)
		}
		if k := keys(); len(k) != 0 {
			t.Fatalf("keys after a failed transaction: %v", k)
		}

		_, out, err := e.svc.ApplyHook(ctx, src, "scim", []sources.Record{rec}, nil)
		if err != nil || out[0].Change != sources.Created {
			t.Fatalf("create: %v %+v", err, out)
		}
		id := out[0].Employee.ID
		if k := keys(); len(k) != 1 || !k[id] {
			t.Fatalf("keys after the create of %s: %v", id, k)
		}

		rec.Values["first_name"] = "Augusta"
		if _, out, err = e.svc.ApplyHook(ctx, src, "scim", []sources.Record{rec}, nil); err != nil || out[0].Change != sources.Updated || out[0].Employee.ID != id {
			t.Fatalf("a New record that exists: %v %+v", err, out)
		}
		if k := keys(); len(k) != 1 || !k[id] {
			t.Fatalf("keys after the update: %v", k)
		}
		if got := sources.Values(e.employees(t)["u1"]); got["first_name"] != "Augusta" {
			t.Fatalf("first_name %q after the update", got["first_name"])
		}
	})
}

package sources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hrgate/hrgate"
)

// Record is one employee as a source that pushes (SCIM, webhooks) sends
// it: the remote id that names it in the source, and values by canonical
// field name (the names of the default CSV mapping, docs/sources.md). A
// group of Groups is replaced whole: its fields missing from Values are
// cleared. Groups the record does not list keep their stored values.
type Record struct {
	RemoteID string
	Values   map[string]string
	// Groups are the groups the record replaces; when empty, the groups
	// of the fields in Values.
	Groups hrgate.GroupSet
	// Patch applies Values field by field onto the stored employee, read
	// in the transaction that writes it (a SCIM PATCH, a partial webhook):
	// the fields not in Values keep their stored values, an empty value
	// clears its field. Groups is ignored.
	Patch bool
	// New says that the caller expects the record to create an employee
	// (a SCIM POST): when the store allows (keyPreparer), the employee's
	// id and data keys are made before the sync transaction, which then
	// holds the database's one writer for less time. A record that turns
	// out to exist is applied as any other.
	New bool
}

// keyPreparer is a store that can create the data keys of employees
// before the transaction that inserts them (sqlstore.DB).
type keyPreparer interface {
	PrepareEmployeeKeys(ctx context.Context, ids []string) error
	DiscardEmployeeKeys(ctx context.Context, ids []string) error
}

// Change outcomes of a record.
const (
	Created    = "created"
	Updated    = "updated"
	Terminated = "terminated"
	Unchanged  = "unchanged"
)

// Outcome is what Apply made of one record.
type Outcome struct {
	// Employee is the employee as stored after the run, every group
	// loaded; nil when the run wrote nothing.
	Employee *hrgate.Employee
	// Change is Created, Updated, Terminated or Unchanged.
	Change string
	// Groups are the field groups the change filled or changed.
	Groups []string
	// Problems say why the record was refused, field by field.
	Problems []hrgate.RowProblem
	// Read is the modification time of the stored employee as the
	// writing transaction read it, before the change; zero for a new
	// employee. A hook compares it with what the caller read earlier to
	// refuse a write that another one overtook (a SCIM If-Match).
	Read time.Time
}

// MaxApplyRecords bounds the records of one Apply: a request is not an
// import, and a SCIM Bulk request carries at most its configured
// maxOperations.
const MaxApplyRecords = 1000

// Values returns the fields of e's loaded groups that hold a value, by
// canonical name: what a partial update (a SCIM PATCH) starts from.
func Values(e *hrgate.Employee) map[string]string {
	out := make(map[string]string)
	for name, f := range fields {
		if e.Loaded.Has(f.group) {
			if v := f.get(e); v != "" {
				out[name] = v
			}
		}
	}
	return out
}

// Apply validates records and applies them through the sync engine, all
// or nothing, in one transaction, for a source that pushes: SCIM or
// webhook. kind names what brought them ("scim", "webhook") in the run,
// which is recorded whatever the outcome. Every value is checked as a CSV
// value is; a record with any problem, two records with the same remote
// id, a new employee without a name, or an erased employee's remote id
// fail the whole call with an EINVALID error wrapping ErrRejected, and
// the outcomes say which record was wrong and why.
func (s *Service) Apply(ctx context.Context, src *hrgate.Source, kind string, recs []Record) (*hrgate.SyncRun, []Outcome, error) {
	return s.ApplyHook(ctx, src, kind, recs, nil)
}

// Hook runs inside the transaction of an Apply once every record is
// written, with their outcomes (the employees as stored), so that what a
// source keeps beside the unified model (the SCIM userName) commits with
// the change or not at all. An error from it undoes the whole call and is
// returned as it is.
type Hook func(ctx context.Context, tx hrgate.SyncTx, outcomes []Outcome) error

// ApplyHook is Apply with a hook run in its transaction; a nil hook is
// Apply.
func (s *Service) ApplyHook(ctx context.Context, src *hrgate.Source, kind string, recs []Record, hook Hook) (*hrgate.SyncRun, []Outcome, error) {
	switch {
	case src == nil:
		return nil, nil, hrgate.Errorf(hrgate.EINVALID, "A source is required.")
	case src.Type == hrgate.SourceCSV:
		return nil, nil, hrgate.Errorf(hrgate.EINVALID, "Source %s is a CSV source; it imports files.", src.Name)
	case len(recs) == 0:
		return nil, nil, hrgate.Errorf(hrgate.EINVALID, "There is nothing to apply.")
	case len(recs) > MaxApplyRecords:
		return nil, nil, hrgate.Errorf(hrgate.EINVALID, "At most %d records can be applied at once.", MaxApplyRecords)
	}
	now := s.now().UTC()
	runID, err := hrgate.NewOrderedID(hrgate.PrefixSyncRun, now, s.random)
	if err != nil {
		return nil, nil, hrgate.Wrap(err, "apply")
	}
	run := &hrgate.SyncRun{ID: runID, SourceID: src.ID, Kind: kind, Mode: ModeUpsert, StartedAt: now, Rows: len(recs)}
	today := now.Format(time.DateOnly)

	outcomes := make([]Outcome, len(recs))
	batch := make([]record, 0, len(recs))
	patches := make(map[int]*hrgate.Employee)
	problems := problemList{last: -1}
	seen := make(map[string]int, len(recs))
	for i, rec := range recs {
		e, ps := recordEmployee(rec, today)
		if prev, dup := seen[rec.RemoteID]; dup && rec.RemoteID != "" {
			ps = append(ps, hrgate.RowProblem{Message: fmt.Sprintf("Record %d has the same remote id.", prev+1)})
		}
		seen[rec.RemoteID] = i
		for j := range ps {
			ps[j].Row = i + 1
		}
		outcomes[i].Problems = ps
		problems.add(ps...)
		batch = append(batch, record{row: i + 1, employee: e})
		if rec.Patch {
			patches[i] = e
		}
	}
	if problems.bad > 0 {
		return s.finishApply(ctx, run, &problems, outcomes, ErrRejected)
	}

	preset, err := s.prepareNew(ctx, recs)
	if err != nil {
		return s.finishApply(ctx, run, nil, outcomes, err)
	}
	var y *syncer
	err = s.store.Sync(ctx, src, func(tx hrgate.SyncTx) error {
		y = &syncer{svc: s, tx: tx, src: src, run: run, now: now, problems: problemList{last: -1}, outcomes: outcomes, preset: preset}
		if err := y.patch(ctx, recs, batch, patches, today); err != nil {
			return err
		}
		if err := y.apply(ctx, batch); err != nil {
			return err
		}
		if y.problems.bad > 0 {
			return ErrRejected
		}
		if hook != nil {
			if err := hook(ctx, tx, outcomes); err != nil {
				return err
			}
		}
		return s.commitRun(ctx, tx, run)
	})
	if len(preset) > 0 {
		s.discardUnused(ctx, preset, y, err == nil)
	}
	if errors.Is(err, ErrRejected) {
		for _, p := range y.problems.list {
			outcomes[p.Row-1].Problems = append(outcomes[p.Row-1].Problems, p)
		}
		return s.finishApply(ctx, run, &y.problems, outcomes, err)
	}
	return s.finishApply(ctx, run, nil, outcomes, err)
}

// prepareNew gives each record marked New its employee id, and creates
// the data keys of those ids, before the sync transaction; nil when no
// record is marked or the store cannot (see keyPreparer).
func (s *Service) prepareNew(ctx context.Context, recs []Record) (map[string]string, error) {
	kp, ok := s.store.(keyPreparer)
	if !ok {
		return nil, nil
	}
	var preset map[string]string
	var ids []string
	for _, rec := range recs {
		if !rec.New || rec.RemoteID == "" {
			continue
		}
		id, err := hrgate.NewOrderedID(hrgate.PrefixEmployee, s.now(), s.random)
		if err != nil {
			return nil, hrgate.Wrap(err, "apply")
		}
		if preset == nil {
			preset = make(map[string]string)
		}
		preset[rec.RemoteID] = id
		ids = append(ids, id)
	}
	if err := kp.PrepareEmployeeKeys(ctx, ids); err != nil {
		return nil, err
	}
	return preset, nil
}

// afterwardsTimeout bounds the writes a run makes after its outcome is
// settled (its failed record, erasing unused keys).
const afterwardsTimeout = 10 * time.Second

// afterwards returns the context of such a write: ctx's values without
// its end, which may be why the run failed, and with a deadline of its
// own, so that a writer held elsewhere does not hold the caller forever.
func afterwards(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), afterwardsTimeout)
}

// discardUnused erases the data keys prepareNew made for ids no employee
// took: all of them when the transaction failed, else those of records
// that existed. It runs once the outcome is settled, before the caller
// answers, in one deletion per 500 ids (DiscardEmployeeKeys): it keeps
// ctx's values but not its end, which may be why the transaction failed,
// and does not change the answer; a key it cannot erase seals nothing
// and is logged.
func (s *Service) discardUnused(ctx context.Context, preset map[string]string, y *syncer, committed bool) {
	var unused []string
	for _, id := range preset {
		if !committed || y == nil || !y.used[id] {
			unused = append(unused, id)
		}
	}
	if len(unused) == 0 {
		return
	}
	kp := s.store.(keyPreparer)
	ctx, cancel := afterwards(ctx)
	defer cancel()
	if err := kp.DiscardEmployeeKeys(ctx, unused); err != nil {
		s.log.Warn("the data keys made for employees that were not created could not be erased; they seal nothing",
			"count", len(unused), "err", err)
	}
}

// commitRun records the run of a pushed change as succeeded, in the
// transaction that writes the change: a SCIM request or a webhook event
// costs one commit, not a second one for its run, and a change is never
// committed without its run.
func (s *Service) commitRun(ctx context.Context, tx hrgate.SyncTx, run *hrgate.SyncRun) error {
	run.FinishedAt, run.Status = s.now().UTC(), hrgate.RunSucceeded
	return tx.CreateRun(ctx, run)
}

// finishApply ends the run of an Apply. A run that succeeded was
// recorded in its transaction (commitRun); one that failed, its
// transaction rolled back or never begun, is recorded here, once,
// finished.
func (s *Service) finishApply(ctx context.Context, run *hrgate.SyncRun, problems *problemList, outcomes []Outcome, cause error) (*hrgate.SyncRun, []Outcome, error) {
	if cause == nil {
		return run, outcomes, nil
	}
	run.FinishedAt = s.now().UTC()
	run.Status = hrgate.RunFailed
	run.Created, run.Updated, run.Terminated, run.Unchanged = 0, 0, 0, 0
	if errors.Is(cause, ErrRejected) {
		run.Problems, run.Rejected = problems.list, problems.bad
		cause = &hrgate.Error{Code: hrgate.EINVALID, Message: "The input was refused; nothing was written.", Err: ErrRejected}
	} else {
		run.Error = "The run failed; nothing was written."
	}
	for i := range outcomes {
		outcomes[i].Employee, outcomes[i].Change, outcomes[i].Groups = nil, "", nil
	}
	// The run's own record is best effort: the cause is what the caller
	// must see. It is written also when the caller's context ended, which
	// may be why the run failed.
	rctx, cancel := afterwards(ctx)
	defer cancel()
	if err := s.store.CreateSyncRun(rctx, run); err != nil {
		s.log.Error("the outcome of a failed run could not be recorded", "run_id", run.ID, "err", err)
	}
	return run, outcomes, cause
}

// recordEmployee builds the employee of a record, normalising each value
// as a CSV value is, and returns the problems by field name.
func recordEmployee(rec Record, today string) (*hrgate.Employee, []hrgate.RowProblem) {
	var ps []hrgate.RowProblem
	if p := checkRemoteID(rec.RemoteID); p != "" {
		ps = append(ps, hrgate.RowProblem{Column: remoteIDField, Message: p})
	}
	groups := rec.Groups
	if groups == 0 || rec.Patch {
		groups = 0
		for name := range rec.Values {
			if f, ok := fields[name]; ok {
				groups = groups.With(f.group)
			}
		}
	}
	e := &hrgate.Employee{RemoteID: rec.RemoteID, Loaded: groups}
	// Sorted, so that problems come in the same order every time.
	names := make([]string, 0, len(rec.Values))
	for name := range rec.Values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := trimSpace(rec.Values[name])
		f, ok := fields[name]
		switch {
		case !ok:
			ps = append(ps, hrgate.RowProblem{Column: name, Message: "There is no such field."})
			continue
		case !groups.Has(f.group):
			ps = append(ps, hrgate.RowProblem{Column: name, Message: fmt.Sprintf("The field belongs to the %s group, which the record does not replace.", f.group)})
			continue
		case v == "":
			continue
		}
		norm, p := f.parse(v)
		if p != "" {
			ps = append(ps, hrgate.RowProblem{Column: name, Message: p})
			continue
		}
		f.set(e, norm)
	}
	if len(ps) == 0 {
		ps = checkRow(e, groups, today)
	}
	return e, ps
}

// patch turns the patch records of a batch into whole groups: each starts
// from the stored employee, read in the transaction that writes it, so
// that two patches of one employee cannot lose each other's fields, and
// takes the fields the record gives. A patch of an unknown remote id
// stays as it is: a new employee of only the given fields.
func (y *syncer) patch(ctx context.Context, recs []Record, batch []record, patches map[int]*hrgate.Employee, today string) error {
	if len(patches) == 0 {
		return nil
	}
	ids := make([]string, 0, len(patches))
	for i := range patches {
		ids = append(ids, recs[i].RemoteID)
	}
	stored, err := y.tx.Records(ctx, ids)
	if err != nil {
		return err
	}
	for i, given := range patches {
		old := stored[recs[i].RemoteID]
		if old == nil || old.Erased {
			continue
		}
		merged := *old.Employee
		merged.Loaded = given.Loaded
		for name := range recs[i].Values {
			f := fields[name]
			f.set(&merged, f.get(given))
		}
		for _, p := range checkRow(&merged, merged.Loaded, today) {
			p.Row = i + 1
			y.problems.add(p)
		}
		batch[i].employee = &merged
	}
	return nil
}

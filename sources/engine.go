package sources

import (
	"context"
	"time"

	"github.com/hrgate/hrgate"
)

// record is one employee as a source sent it, validated and normalised:
// RemoteID is set, and Loaded holds the field groups the source sent.
// Groups it did not send keep their stored values.
type record struct {
	// row locates the record in the input, for problems.
	row      int
	employee *hrgate.Employee
}

// syncer applies the records of one run in one transaction. It is the
// one path every source type takes into the store.
type syncer struct {
	svc *Service
	tx  hrgate.SyncTx
	src *hrgate.Source
	run *hrgate.SyncRun
	now time.Time
	// problems are records refused while writing: they fail a CSV import.
	problems problemList
	// outcomes, when set, receive what became of each record, by row - 1
	// (Apply); an import of a whole file keeps none.
	outcomes []Outcome
	// preset holds the employee ids made, with their data keys, before
	// the transaction for records expected to be new, by remote id
	// (Record.New); used, the ones a create took.
	preset map[string]string
	used   map[string]bool
}

// note records the outcome of the record of a row, when outcomes are kept.
func (y *syncer) note(row int, e *hrgate.Employee, change string, ev *hrgate.ChangeEvent) {
	if y.outcomes == nil {
		return
	}
	o := &y.outcomes[row-1]
	o.Employee, o.Change = e, change
	if ev != nil {
		o.Groups = ev.Groups
	}
}

// apply upserts a batch of records by remote id: a new remote id is
// inserted, a known one is compared field group by field group with what
// is stored, and rewritten only when a group's content differs. Each
// insert, change and termination gets its change event, written with it.
// Records of erased employees are refused.
func (y *syncer) apply(ctx context.Context, batch []record) error {
	ids := make([]string, len(batch))
	for i, r := range batch {
		ids[i] = r.employee.RemoteID
	}
	stored, err := y.tx.Records(ctx, ids)
	if err != nil {
		return err
	}
	bad, err := y.checkManagers(ctx, batch, stored)
	if err != nil {
		return err
	}
	var inserts, updates []*hrgate.Employee
	var events []*hrgate.ChangeEvent
	for _, r := range batch {
		in := r.employee
		old := stored[in.RemoteID]
		if msg, ok := bad[r.row]; ok {
			y.reject(r.row, "manager_id", msg)
			continue
		}
		switch {
		case old == nil:
			e, ev, problem, err := y.create(in)
			if err != nil {
				return err
			}
			if problem != "" {
				y.reject(r.row, "", problem)
				continue
			}
			inserts, events = append(inserts, e), append(events, ev)
			y.run.Created++
			y.note(r.row, e, Created, ev)
		case old.Erased:
			y.reject(r.row, "", "This employee was erased; a source cannot bring an erased employee back under the same remote id.")
		default:
			if y.outcomes != nil {
				y.outcomes[r.row-1].Read = old.Employee.ModifiedAt
			}
			e, ev, err := y.change(old.Employee, in)
			if err != nil {
				return err
			}
			if ev == nil {
				y.run.Unchanged++
				y.note(r.row, old.Employee, Unchanged, nil)
				continue
			}
			updates, events = append(updates, e), append(events, ev)
			if ev.Type == hrgate.ChangeEmployeeTerminated {
				y.run.Terminated++
				y.note(r.row, e, Terminated, ev)
			} else {
				y.run.Updated++
				y.note(r.row, e, Updated, ev)
			}
		}
	}
	if err := y.tx.Insert(ctx, inserts); err != nil {
		return err
	}
	if err := y.tx.Update(ctx, updates); err != nil {
		return err
	}
	return y.tx.AppendChanges(ctx, events)
}

// checkManagers checks, inside the transaction, the managers the records
// of a batch set or change: each must be a live (not erased) employee of
// the same source, and not the employee itself. It returns the problem of
// each bad record by row. A manager left as stored is not checked again,
// so that an employee whose manager was erased can still be updated. A
// store whose transactions cannot check references refuses managers.
func (y *syncer) checkManagers(ctx context.Context, batch []record, stored map[string]*hrgate.SyncRecord) (map[int]string, error) {
	var bad map[int]string
	refuse := func(row int, msg string) {
		if bad == nil {
			bad = make(map[int]string)
		}
		bad[row] = msg
	}
	var ids []string
	var rows []record
	for _, r := range batch {
		in := r.employee
		m := in.Employment.ManagerID
		if !in.Loaded.Has(hrgate.GroupEmployment) || m == "" {
			continue
		}
		old := stored[in.RemoteID]
		if old != nil && old.Employee != nil && !old.Erased {
			if old.Employee.Employment.ManagerID == m {
				continue
			}
			if old.Employee.ID == m {
				refuse(r.row, "An employee cannot be their own manager.")
				continue
			}
		}
		ids, rows = append(ids, m), append(rows, r)
	}
	if len(ids) == 0 {
		return bad, nil
	}
	checker, ok := y.tx.(hrgate.EmployeeCheckTx)
	if !ok {
		for _, r := range rows {
			refuse(r.row, "This store cannot check managers; leave manager_id out.")
		}
		return bad, nil
	}
	live, err := checker.LiveEmployees(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if !live[r.employee.Employment.ManagerID] {
			refuse(r.row, "The manager is not an employee of this source.")
		}
	}
	return bad, nil
}

func (y *syncer) reject(row int, column, msg string) {
	y.problems.add(hrgate.RowProblem{Row: row, Column: column, Message: msg})
}

// create returns a new employee for a record with a remote id the source
// never sent, and its employee.created event. A record without a name
// cannot create an employee: problem says why.
func (y *syncer) create(in *hrgate.Employee) (*hrgate.Employee, *hrgate.ChangeEvent, string, error) {
	if !in.Loaded.Has(hrgate.GroupIdentity) || in.Identity.FirstName == "" || in.Identity.LastName == "" {
		return nil, nil, "A new employee needs first_name and last_name.", nil
	}
	id, ok := y.preset[in.RemoteID]
	if ok {
		if y.used == nil {
			y.used = make(map[string]bool)
		}
		y.used[id] = true
	} else {
		var err error
		if id, err = hrgate.NewOrderedID(hrgate.PrefixEmployee, y.svc.now(), y.svc.random); err != nil {
			return nil, nil, "", hrgate.Wrap(err, "create employee")
		}
	}
	e := *in
	e.ID, e.CompanyID, e.SourceID = id, y.src.CompanyID, y.src.ID
	e.CreatedAt, e.ModifiedAt = y.now, y.now
	e.Loaded = hrgate.AllGroups
	if e.Employment.Status == "" {
		e.Employment.Status = hrgate.StatusActive
	}
	var filled []string
	for _, g := range hrgate.FieldGroups() {
		// A group that differs from an empty employee's is filled.
		if mergeGroup(&hrgate.Employee{}, &e, g) {
			filled = append(filled, g.String())
		}
	}
	ev, err := y.event(hrgate.ChangeEmployeeCreated, &e, filled)
	return &e, ev, "", err
}

// change merges a record into the stored employee and returns the
// employee to write with its event, or a nil event when no group's
// content changed.
func (y *syncer) change(old, in *hrgate.Employee) (*hrgate.Employee, *hrgate.ChangeEvent, error) {
	e := *old
	var changed []string
	for _, g := range hrgate.FieldGroups() {
		if !in.Loaded.Has(g) {
			continue
		}
		if mergeGroup(&e, in, g) {
			changed = append(changed, g.String())
		}
	}
	if len(changed) == 0 {
		return nil, nil, nil
	}
	e.ModifiedAt = y.now
	typ := hrgate.ChangeEmployeeUpdated
	if old.Employment.Status != hrgate.StatusTerminated && e.Employment.Status == hrgate.StatusTerminated {
		typ = hrgate.ChangeEmployeeTerminated
	}
	ev, err := y.event(typ, &e, changed)
	return &e, ev, err
}

// terminateMissing terminates the live employees of the source whose
// remote ids are not in seen (a snapshot import): status terminated,
// termination date the run's date unless one is set.
func (y *syncer) terminateMissing(ctx context.Context, seen map[string]struct{}) error {
	live, err := y.tx.Live(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for id, status := range live {
		if _, ok := seen[id]; !ok && status != hrgate.StatusTerminated {
			missing = append(missing, id)
		}
	}
	today := y.now.UTC().Format(time.DateOnly)
	for start := 0; start < len(missing); start += batchSize {
		chunk := missing[start:min(start+batchSize, len(missing))]
		stored, err := y.tx.Records(ctx, chunk)
		if err != nil {
			return err
		}
		var updates []*hrgate.Employee
		var events []*hrgate.ChangeEvent
		for _, id := range chunk {
			old := stored[id]
			if old == nil || old.Erased {
				continue
			}
			in := &hrgate.Employee{RemoteID: id, Loaded: hrgate.GroupsOf(hrgate.GroupEmployment), Employment: old.Employee.Employment}
			in.Employment.Status = hrgate.StatusTerminated
			if in.Employment.TerminationDate == "" {
				in.Employment.TerminationDate = today
			}
			e, ev, err := y.change(old.Employee, in)
			if err != nil {
				return err
			}
			if ev != nil {
				updates, events = append(updates, e), append(events, ev)
				y.run.Terminated++
			}
		}
		if err := y.tx.Update(ctx, updates); err != nil {
			return err
		}
		if err := y.tx.AppendChanges(ctx, events); err != nil {
			return err
		}
	}
	return nil
}

func (y *syncer) event(typ string, e *hrgate.Employee, groups []string) (*hrgate.ChangeEvent, error) {
	id, err := hrgate.NewOrderedID(hrgate.PrefixChangeEvent, y.svc.now(), y.svc.random)
	if err != nil {
		return nil, hrgate.Wrap(err, "change event")
	}
	return &hrgate.ChangeEvent{ID: id, Type: typ, CompanyID: e.CompanyID, EmployeeID: e.ID, SourceID: y.src.ID,
		RunID: y.run.ID, Groups: groups, Time: y.now}, nil
}

// mergeGroup sets group g of dst to that of src and reports whether it
// differed. The groups are plain structs of strings, so the comparison is
// Go's ==, field by field; nothing derived from a group (no hash) is
// computed or kept, so nothing of an encrypted field outlives an erasure.
func mergeGroup(dst, src *hrgate.Employee, g hrgate.FieldGroup) bool {
	switch g {
	case hrgate.GroupIdentity:
		return merge(&dst.Identity, src.Identity)
	case hrgate.GroupEmployment:
		return merge(&dst.Employment, src.Employment)
	case hrgate.GroupContact:
		return merge(&dst.Contact, src.Contact)
	case hrgate.GroupPersonal:
		return merge(&dst.Personal, src.Personal)
	case hrgate.GroupCompensation:
		return merge(&dst.Compensation, src.Compensation)
	case hrgate.GroupBanking:
		return merge(&dst.Banking, src.Banking)
	case hrgate.GroupGovernmentID:
		return merge(&dst.GovernmentID, src.GovernmentID)
	}
	return false
}

func merge[T comparable](dst *T, v T) bool {
	if *dst == v {
		return false
	}
	*dst = v
	return true
}

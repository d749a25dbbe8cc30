package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// Types of the events a webhook source sends (docs/sources.md).
const (
	// EventEmployeeUpsert replaces the field groups its fields belong
	// to, as a SCIM PUT does; groups it does not touch are kept.
	EventEmployeeUpsert = "employee.upsert"
	// EventEmployeePatch sets the fields it gives and keeps every other
	// (an empty value clears its field), as a SCIM PATCH does.
	EventEmployeePatch = "employee.patch"
	// EventEmployeeTerminate sets the status terminated, with the
	// termination date it gives or the day of the event.
	EventEmployeeTerminate = "employee.terminate"
	// EventTimeOffUpsert creates or replaces a time-off request.
	EventTimeOffUpsert = "time_off.upsert"
	// EventTimeOffCancel sets a time-off request's status cancelled.
	EventTimeOffCancel = "time_off.cancel"
)

// EventTypes lists the event types, in the order the documentation
// gives them.
var EventTypes = []string{EventEmployeeUpsert, EventEmployeePatch, EventEmployeeTerminate, EventTimeOffUpsert, EventTimeOffCancel}

// Cancelled is the change of a time-off request that was cancelled.
const Cancelled = "cancelled"

// The fields of a time-off event besides remote_id.
const (
	fieldEmployeeRemoteID = "employee_remote_id"
	fieldTerminationDate  = "termination_date"
)

var timeOffFields = []string{fieldEmployeeRemoteID, "type", "status", "start_date", "end_date", "amount", "units"}

// The values of the enumerations of a time-off request (timeoff.go).
var (
	timeOffType   = oneOf("vacation", "sick", "personal", "parental", "unpaid")
	timeOffStatus = oneOf("requested", "approved", "declined", "cancelled")
	timeOffUnits  = oneOf("days", "hours")
)

// Event is one inbound message of a webhook source whose signature was
// checked: its id (the webhook-id header), its type, and its data, by
// field name, remote_id included.
type Event struct {
	MessageID string
	Type      string
	Data      map[string]string
}

// EventOutcome is what became of an event. It is stored with the
// message id, so that a replay of the message is answered with it again.
// It holds ids and names, never a field value.
type EventOutcome struct {
	MessageID string `json:"message_id"`
	Type      string `json:"type"`
	RunID     string `json:"run_id"`
	// Change is created, updated, terminated, cancelled or unchanged.
	Change     string   `json:"change"`
	EmployeeID string   `json:"employee_id,omitempty"`
	TimeOffID  string   `json:"time_off_id,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	// Replayed is set when the message had been applied before: the
	// outcome is the one it had then, and nothing was applied again.
	Replayed bool `json:"-"`
}

// errReplayed rolls back the transaction of a message already applied.
var errReplayed = errors.New("the message was applied before")

// ApplyEvent applies one event of a webhook source through the sync
// engine, at most once per message id: the id is recorded first in the
// transaction that applies the event, so both commit or neither does. A
// message id already applied is not applied again: the outcome it had is
// returned with Replayed set, and no run is recorded.
//
// An unknown type or a field the type does not take is EINVALID naming
// it; values are checked as CSV values are, and a problem makes an
// EINVALID error wrapping ErrRejected, with the run listing the problems.
// Every event that gets that far is recorded as a run.
func (s *Service) ApplyEvent(ctx context.Context, src *hrgate.Source, ev Event) (*EventOutcome, *hrgate.SyncRun, error) {
	switch {
	case src == nil || src.Type != hrgate.SourceWebhook:
		return nil, nil, hrgate.Errorf(hrgate.EINVALID, "Only webhook sources receive events.")
	case ev.MessageID == "":
		return nil, nil, hrgate.Errorf(hrgate.EINVALID, "An event needs a message id.")
	}
	if out, err := s.replayed(ctx, src, ev.MessageID); out != nil || err != nil {
		return out, nil, err
	}
	if err := checkEventFields(ev); err != nil {
		return nil, nil, err
	}

	now := s.now().UTC()
	runID, err := hrgate.NewOrderedID(hrgate.PrefixSyncRun, now, s.random)
	if err != nil {
		return nil, nil, hrgate.Wrap(err, "apply event")
	}
	today := now.Format(time.DateOnly)
	run := &hrgate.SyncRun{ID: runID, SourceID: src.ID, Kind: "webhook", Mode: ModeUpsert, StartedAt: now, Rows: 1}
	out := &EventOutcome{MessageID: ev.MessageID, Type: ev.Type, RunID: runID}
	outcomes := make([]Outcome, 1)

	// Check every value before the transaction: a bad event holds no
	// writer.
	var (
		rec     Record
		emp     *hrgate.Employee
		timeOff *hrgate.TimeOffRequest
		ps      []hrgate.RowProblem
	)
	isTimeOff := strings.HasPrefix(ev.Type, "time_off.")
	if isTimeOff {
		timeOff, ps = timeOffOf(ev)
	} else {
		rec = recordOf(ev, today)
		emp, ps = recordEmployee(rec, today)
	}
	if len(ps) > 0 {
		problems := problemList{last: -1}
		for _, p := range ps {
			p.Row = 1
			problems.add(p)
		}
		run, _, err := s.finishApply(ctx, run, &problems, outcomes, ErrRejected)
		return nil, run, err
	}

	var y *syncer
	err = s.store.Sync(ctx, src, func(tx hrgate.SyncTx) error {
		fresh, err := tx.RecordMessage(ctx, ev.MessageID, now)
		if err != nil {
			return err
		}
		if !fresh {
			return errReplayed
		}
		y = &syncer{svc: s, tx: tx, src: src, run: run, now: now, problems: problemList{last: -1}, outcomes: outcomes}
		if isTimeOff {
			if err := y.timeOff(ctx, timeOff, ev.Data[fieldEmployeeRemoteID], ev.Type == EventTimeOffCancel, out); err != nil {
				return err
			}
		} else {
			batch := []record{{row: 1, employee: emp}}
			if rec.Patch {
				if err := y.patch(ctx, []Record{rec}, batch, map[int]*hrgate.Employee{0: emp}, today); err != nil {
					return err
				}
			}
			if y.problems.bad == 0 {
				if err := y.apply(ctx, batch); err != nil {
					return err
				}
			}
		}
		if y.problems.bad > 0 {
			return ErrRejected
		}
		if !isTimeOff {
			o := outcomes[0]
			out.Change, out.EmployeeID, out.Groups = o.Change, o.Employee.ID, o.Groups
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		if err := tx.SetMessageOutcome(ctx, ev.MessageID, b); err != nil {
			return err
		}
		return s.commitRun(ctx, tx, run)
	})
	switch {
	case errors.Is(err, errReplayed):
		// Another delivery of the same message committed first.
		o, err := s.replayed(ctx, src, ev.MessageID)
		if err == nil && o == nil {
			err = hrgate.Errorf(hrgate.EINTERNAL, "a replayed message has no stored outcome")
		}
		return o, nil, err
	case errors.Is(err, ErrRejected):
		run, _, err := s.finishApply(ctx, run, &y.problems, outcomes, err)
		return nil, run, err
	}
	run, _, err = s.finishApply(ctx, run, nil, outcomes, err)
	if err != nil {
		return nil, run, err
	}
	s.log.Info("webhook event applied", "source_id", src.ID, "run_id", run.ID, "type", ev.Type, "change", out.Change)
	return out, run, nil
}

// replayed returns the stored outcome of a message already applied, or
// nil when the id is not remembered.
func (s *Service) replayed(ctx context.Context, src *hrgate.Source, id string) (*EventOutcome, error) {
	b, err := s.store.MessageOutcome(ctx, src.ID, id)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out EventOutcome
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, hrgate.Wrap(err, "read the outcome of a replayed message")
	}
	out.Replayed = true
	return &out, nil
}

// checkEventFields refuses an unknown type, and fields the type does not
// take, naming them: a misspelt field must not be dropped silently.
func checkEventFields(ev Event) error {
	var allowed func(string) bool
	switch ev.Type {
	case EventEmployeeUpsert, EventEmployeePatch:
		allowed = func(n string) bool { _, ok := fields[n]; return ok }
	case EventEmployeeTerminate:
		allowed = func(n string) bool { return n == fieldTerminationDate }
	case EventTimeOffUpsert:
		allowed = func(n string) bool { return slices.Contains(timeOffFields, n) }
	case EventTimeOffCancel:
		allowed = func(string) bool { return false }
	default:
		return hrgate.Errorf(hrgate.EINVALID, "Unknown event type %s; the types are %s.", hrgate.EchoQuoted(ev.Type), strings.Join(EventTypes, ", "))
	}
	var unknown []string
	for n := range ev.Data {
		if n != remoteIDField && !allowed(n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	const maxNamed = 10
	names := make([]string, 0, min(len(unknown), maxNamed))
	for _, n := range unknown[:min(len(unknown), maxNamed)] {
		names = append(names, hrgate.EchoQuoted(n))
	}
	more := ""
	if len(unknown) > maxNamed {
		more = fmt.Sprintf(" and %d more", len(unknown)-maxNamed)
	}
	return hrgate.Errorf(hrgate.EINVALID, "An event of type %s does not take the field(s) %s%s (docs/sources.md lists the fields).",
		ev.Type, strings.Join(names, ", "), more)
}

// recordOf builds the engine record of an employee event. The remote id
// is trimmed as every value is (and as a CSV file's are) before it is
// checked, so that a leading space can neither carry a formula past the
// check nor make "W-1 " another employee than "W-1".
func recordOf(ev Event, today string) Record {
	rec := Record{RemoteID: trimSpace(ev.Data[remoteIDField]), Values: make(map[string]string, len(ev.Data))}
	for n, v := range ev.Data {
		if n != remoteIDField {
			rec.Values[n] = v
		}
	}
	switch ev.Type {
	case EventEmployeePatch:
		rec.Patch = true
	case EventEmployeeTerminate:
		rec.Patch = true
		rec.Values["employment_status"] = string(hrgate.StatusTerminated)
		if trimSpace(rec.Values[fieldTerminationDate]) == "" {
			rec.Values[fieldTerminationDate] = today
		}
	}
	return rec
}

// timeOffOf validates and normalises the data of a time-off event into
// a request; CompanyID, EmployeeID, SourceID and ID are filled in later.
func timeOffOf(ev Event) (*hrgate.TimeOffRequest, []hrgate.RowProblem) {
	var ps []hrgate.RowProblem
	remoteID := func(name string) string {
		v := trimSpace(ev.Data[name])
		if p := checkRemoteID(v); p != "" {
			ps = append(ps, hrgate.RowProblem{Column: name, Message: p})
			return ""
		}
		return v
	}
	// The other values are parsed as an employee's fields are, bounded
	// as a remote id is.
	get := func(name string, required bool, check func(string) (string, string)) string {
		v := trimSpace(ev.Data[name])
		if v == "" {
			if required {
				ps = append(ps, hrgate.RowProblem{Column: name, Message: "The field is required."})
			}
			return ""
		}
		norm, p := (&field{name: name, max: maxRemoteID, check: check}).parse(v)
		if p != "" {
			ps = append(ps, hrgate.RowProblem{Column: name, Message: p})
		}
		return norm
	}
	r := &hrgate.TimeOffRequest{RemoteID: remoteID(remoteIDField)}
	if ev.Type == EventTimeOffCancel {
		return r, ps
	}
	remoteID(fieldEmployeeRemoteID)
	r.Type = get("type", true, timeOffType)
	r.Status = get("status", true, timeOffStatus)
	r.StartDate = get("start_date", true, date)
	r.EndDate = get("end_date", true, date)
	r.Amount = get("amount", false, decimal)
	r.Units = get("units", false, timeOffUnits)
	if r.StartDate != "" && r.EndDate != "" && r.EndDate < r.StartDate {
		ps = append(ps, hrgate.RowProblem{Column: "end_date", Message: "The end date is before the start date."})
	}
	if (trimSpace(ev.Data["amount"]) == "") != (trimSpace(ev.Data["units"]) == "") {
		ps = append(ps, hrgate.RowProblem{Column: "units", Message: "An amount needs its units, and units an amount."})
	}
	return r, ps
}

// timeOff upserts a time-off request of the source by remote id, or
// cancels one, and writes its change event: time_off.created, .updated
// or .cancelled; no change, no event. The employee is named by its
// remote id in the same source.
func (y *syncer) timeOff(ctx context.Context, in *hrgate.TimeOffRequest, employeeRemoteID string, cancel bool, out *EventOutcome) error {
	stored, err := y.tx.TimeOff(ctx, []string{in.RemoteID})
	if err != nil {
		return err
	}
	old := stored[in.RemoteID]
	if old != nil {
		// A stored request of an erased employee is not changed, not
		// even cancelled: its change event would name the employee.
		checker, ok := y.tx.(hrgate.EmployeeCheckTx)
		if !ok {
			y.reject(1, remoteIDField, "This store cannot check the request's employee; the request cannot be changed.")
			return nil
		}
		live, err := checker.LiveEmployees(ctx, []string{old.EmployeeID})
		if err != nil {
			return err
		}
		if !live[old.EmployeeID] {
			y.reject(1, remoteIDField, "This time-off request is of an erased employee; a source cannot change it.")
			return nil
		}
	}
	var next hrgate.TimeOffRequest
	switch {
	case cancel && old == nil:
		y.reject(1, remoteIDField, "No time-off request of this source has this remote id.")
		return nil
	case cancel:
		next = *old
		next.Status = "cancelled"
	default:
		emps, err := y.tx.Records(ctx, []string{trimSpace(employeeRemoteID)})
		if err != nil {
			return err
		}
		emp := emps[trimSpace(employeeRemoteID)]
		switch {
		case emp == nil:
			y.reject(1, fieldEmployeeRemoteID, "No employee of this source has this remote id.")
			return nil
		case emp.Erased:
			y.reject(1, fieldEmployeeRemoteID, "This employee was erased; a source cannot add time off for an erased employee.")
			return nil
		}
		next = *in
		next.EmployeeID = emp.Employee.ID
		if old != nil {
			next.ID, next.CreatedAt = old.ID, old.CreatedAt
		}
	}
	next.CompanyID, next.SourceID, next.ModifiedAt = y.src.CompanyID, y.src.ID, y.now
	out.EmployeeID = next.EmployeeID

	if old == nil {
		id, err := hrgate.NewID(hrgate.PrefixTimeOff, y.svc.random)
		if err != nil {
			return hrgate.Wrap(err, "create time-off request")
		}
		next.ID, next.CreatedAt = id, y.now
		out.Change, out.TimeOffID = Created, id
		y.run.Created++
		if err := y.tx.InsertTimeOff(ctx, []*hrgate.TimeOffRequest{&next}); err != nil {
			return err
		}
		return y.timeOffEvent(ctx, hrgate.ChangeTimeOffCreated, &next)
	}
	out.TimeOffID = old.ID
	if sameTimeOff(old, &next) {
		out.Change = Unchanged
		y.run.Unchanged++
		return nil
	}
	typ, change := hrgate.ChangeTimeOffUpdated, Updated
	if next.Status == "cancelled" && old.Status != "cancelled" {
		typ, change = hrgate.ChangeTimeOffCancelled, Cancelled
	}
	out.Change = change
	y.run.Updated++
	if err := y.tx.UpdateTimeOff(ctx, []*hrgate.TimeOffRequest{&next}); err != nil {
		return err
	}
	return y.timeOffEvent(ctx, typ, &next)
}

// sameTimeOff reports whether two requests hold the same content.
func sameTimeOff(a, b *hrgate.TimeOffRequest) bool {
	return a.EmployeeID == b.EmployeeID && a.Type == b.Type && a.Status == b.Status && a.StartDate == b.StartDate &&
		a.EndDate == b.EndDate && a.Amount == b.Amount && a.Units == b.Units
}

func (y *syncer) timeOffEvent(ctx context.Context, typ string, r *hrgate.TimeOffRequest) error {
	id, err := hrgate.NewOrderedID(hrgate.PrefixChangeEvent, y.svc.now(), y.svc.random)
	if err != nil {
		return hrgate.Wrap(err, "change event")
	}
	return y.tx.AppendChanges(ctx, []*hrgate.ChangeEvent{{ID: id, Type: typ, CompanyID: r.CompanyID, EmployeeID: r.EmployeeID,
		SourceID: y.src.ID, RunID: y.run.ID, TimeOffID: r.ID, Time: y.now}})
}

// WebhookSecret returns the signing key of a webhook source, opened, or
// ENOTFOUND when the source has none. Only the receiver of the source's
// events should ask for it; it must never be logged.
func (s *Service) WebhookSecret(ctx context.Context, src *hrgate.Source) ([]byte, error) {
	if src == nil || src.Type != hrgate.SourceWebhook {
		return nil, hrgate.ErrNotFound("Source secret")
	}
	return s.store.SourceSecret(ctx, src.ID)
}

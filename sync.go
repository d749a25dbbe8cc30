package hrgate

import (
	"context"
	"time"
)

// Prefixes of the ids of sync runs and change events.
const (
	PrefixSyncRun     = "run"
	PrefixChangeEvent = "evt"
)

// Change event types, written to the outbox by the sync engine in the
// transaction that makes the change. Webhooks and SFTP exports are driven
// by them. An event never holds a field value: it names the employee and,
// for an update, the field groups that changed.
const (
	ChangeEmployeeCreated    = "employee.created"
	ChangeEmployeeUpdated    = "employee.updated"
	ChangeEmployeeTerminated = "employee.terminated"

	// Time-off events name the request (TimeOffID) and its employee.
	ChangeTimeOffCreated   = "time_off.created"
	ChangeTimeOffUpdated   = "time_off.updated"
	ChangeTimeOffCancelled = "time_off.cancelled"
)

// ChangeEvent is one entry of the change outbox.
type ChangeEvent struct {
	// Seq orders the outbox; it is assigned when the event is written.
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CompanyID  string    `json:"company_id"`
	EmployeeID string    `json:"employee_id"`
	SourceID   string    `json:"source_id,omitempty"`
	RunID      string    `json:"run_id,omitempty"`
	Groups     []string  `json:"groups,omitempty"`
	Time       time.Time `json:"time"`

	// TimeOffID names the time-off request of a time_off.* event.
	TimeOffID string `json:"time_off_id,omitempty"`
}

// Sync run states.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// SyncRun records one run of the sync engine for a source: a CSV import,
// and later a SCIM request or a webhook delivery.
type SyncRun struct {
	ID       string `json:"id"`
	SourceID string `json:"source_id"`
	// Kind says what brought the data ("csv"); Mode how it was applied
	// ("upsert" or "snapshot").
	Kind       string    `json:"kind"`
	Mode       string    `json:"mode,omitempty"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Rows       int       `json:"rows"`
	Created    int       `json:"created"`
	Updated    int       `json:"updated"`
	Terminated int       `json:"terminated"`
	Unchanged  int       `json:"unchanged"`
	Rejected   int       `json:"rejected"`
	// Problems lists what was wrong with the input, row by row, as far
	// as MaxRunProblems; Error is the reason a run failed otherwise.
	Problems []RowProblem `json:"problems,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// MaxRunProblems bounds the problems a run keeps: a file of a million bad
// rows must not make a run record of a million messages.
const MaxRunProblems = 1000

// RowProblem is one problem of one input row. Row counts data rows from
// 1 in the order of the input (in a CSV file, the line after the header is
// row 1); Column names the input column, when one is at fault. Message
// never repeats the value: it may be personal data.
type RowProblem struct {
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

// SyncRecord is a stored employee of a source as the sync engine reads
// it, every field group loaded. An erased employee comes back with Erased
// set and no group: its data is gone, and a source must not bring it back
// under the same record.
type SyncRecord struct {
	Employee *Employee
	Erased   bool
}

// SyncTx is one transaction of the sync engine on the data store, for one
// source. Every write of a run happens through one SyncTx, so that the
// employees and the change events describing them commit together or not
// at all.
type SyncTx interface {
	// Records returns the stored employees of the source with the given
	// remote ids, keyed by remote id; ids with no employee are absent.
	Records(ctx context.Context, remoteIDs []string) (map[string]*SyncRecord, error)
	// Live returns the remote id and status of every live employee of the
	// source.
	Live(ctx context.Context) (map[string]EmploymentStatus, error)
	// Insert inserts new employees of the source, every group written
	// and sealed as the encryption policy says.
	Insert(ctx context.Context, es []*Employee) error
	// Update rewrites stored employees of the source: every group and
	// the modification time. An employee erased meanwhile is ECONFLICT.
	Update(ctx context.Context, es []*Employee) error
	// AppendChanges writes events to the outbox.
	AppendChanges(ctx context.Context, evs []*ChangeEvent) error
	// CreateRun inserts a run in the transaction, so that the run of a
	// pushed change (a SCIM request, a webhook event) commits with the
	// change, in one commit; SyncStore.CreateSyncRun records the run of
	// a change that did not commit.
	CreateRun(ctx context.Context, r *SyncRun) error

	// RecordMessage remembers the id of an inbound message of the source
	// (a signed webhook) received at at, and reports whether it is new.
	// It is called first in the transaction that applies the message, so
	// that the message is applied, and remembered, at most once: a
	// replay of a remembered id reports false and the caller rolls back.
	// Ids received more than MessageRetention before at are forgotten.
	RecordMessage(ctx context.Context, id string, at time.Time) (fresh bool, err error)
	// SetMessageOutcome stores the answer given to a recorded message,
	// for its replays. It holds ids and counts, never a field value.
	SetMessageOutcome(ctx context.Context, id string, outcome []byte) error

	// TimeOff returns the stored time-off requests of the source with
	// the given remote ids, keyed by remote id.
	TimeOff(ctx context.Context, remoteIDs []string) (map[string]*TimeOffRequest, error)
	// InsertTimeOff inserts new time-off requests of the source;
	// UpdateTimeOff rewrites stored ones (every column but the ids and
	// the creation time). A request of another source or company is
	// EINVALID.
	InsertTimeOff(ctx context.Context, rs []*TimeOffRequest) error
	UpdateTimeOff(ctx context.Context, rs []*TimeOffRequest) error
}

// MessageRetention is how long the id of an inbound message is
// remembered. A captured message can be replayed only while its signed
// timestamp lies within the five minutes of the Standard Webhooks window,
// so ten minutes after receipt would do against replays; a day also
// recognises a sender's own retries of a delivered message, which keep
// the id and sign a new timestamp.
const MessageRetention = 24 * time.Hour

// SyncStore persists what the sync engine writes.
type SyncStore interface {
	// Sync runs fn in one transaction of the data store, for source src:
	// when fn returns an error, nothing fn wrote is kept.
	Sync(ctx context.Context, src *Source, fn func(SyncTx) error) error
	// CreateSyncRun inserts a run; FinishSyncRun writes its outcome.
	CreateSyncRun(ctx context.Context, r *SyncRun) error
	FinishSyncRun(ctx context.Context, r *SyncRun) error
	// SyncRuns returns a source's runs, newest first, at most limit.
	SyncRuns(ctx context.Context, sourceID string, limit int) ([]*SyncRun, error)
	// PruneSyncRuns deletes the finished runs (succeeded or failed) that
	// started before before, of every source, and returns how many it
	// deleted. A run still running is kept whatever its age.
	PruneSyncRuns(ctx context.Context, before time.Time) (int, error)
	// MessageOutcome returns the outcome stored for an inbound message
	// of a source (SyncTx.SetMessageOutcome), or ENOTFOUND when the id
	// is not remembered.
	MessageOutcome(ctx context.Context, sourceID, id string) ([]byte, error)
	// ChangeEvents returns up to limit events of the outbox after
	// afterSeq, in order.
	ChangeEvents(ctx context.Context, afterSeq int64, limit int) ([]*ChangeEvent, error)
}

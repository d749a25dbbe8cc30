package hrgate

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEvent is one entry of the audit trail: who did what, to which
// records, when and from where. Events are appended to a hash chain, so
// every field is part of what the chain protects. No field ever holds a
// secret, a token or the value of a restricted field; Before and After
// carry only non-secret attributes.
type AuditEvent struct {
	// Seq is the event's position in the chain, from 1, assigned when the
	// event is appended.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Type is one of the documented event types (docs/audit.md), such as
	// "api.request", "auth.failure" or "consumer.updated".
	Type string `json:"type"`
	// Instance names the hrgate process that recorded the event.
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`

	// Actor: who acted. ActorKind is one of the Actor* constants; Actor
	// names the consumer, operator or job. CredentialID is the credential
	// used (an API key or OAuth client id), or, for a change to a
	// credential, that credential; ConsumerID is the consumer the
	// credential belongs to, or, for a change, the consumer it concerns.
	ActorKind    string `json:"actor_kind,omitempty"`
	Actor        string `json:"actor,omitempty"`
	CredentialID string `json:"credential_id,omitempty"`
	ConsumerID   string `json:"consumer_id,omitempty"`
	ClientAddr   string `json:"client_addr,omitempty"`

	// The HTTP exchange, for request events.
	Method    string `json:"method,omitempty"`
	Route     string `json:"route,omitempty"`
	Status    int    `json:"status,omitempty"`
	LatencyUS int64  `json:"latency_us,omitempty"`

	// Data access: the object type, the ids of every record returned, and
	// the field groups returned.
	Object    string   `json:"object,omitempty"`
	RecordIDs []string `json:"record_ids,omitempty"`
	Groups    []string `json:"groups,omitempty"`

	// Reason says why an authentication failed or an action was refused,
	// in words safe to show an auditor (never the secret presented).
	Reason string `json:"reason,omitempty"`

	// Changes: the object changed and its non-secret attributes before and
	// after, as JSON objects. A checkpoint carries its signed statement in
	// After.
	Target string          `json:"target,omitempty"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`

	// Chain fields, set when the event is appended: the hash of the
	// previous event (empty for the first), this event's hash and its MAC
	// under the chain key.
	PrevHash []byte `json:"prev_hash,omitempty"`
	Hash     []byte `json:"hash,omitempty"`
	MAC      []byte `json:"mac,omitempty"`
}

// AuditFilter selects audit events, oldest first.
type AuditFilter struct {
	From, To     time.Time // inclusive, exclusive; zero means no bound
	Types        []string
	ConsumerID   string
	CredentialID string
	// RecordID selects the events whose RecordIDs hold it: "who accessed
	// employee X".
	RecordID string
	AfterSeq int64
	Limit    int
}

// AuditReader reads the audit trail. Sinks and the verifier read it in
// sequence order, the search API through filters.
type AuditReader interface {
	// AuditEvents returns the events with sequence numbers above afterSeq,
	// in order, at most limit of them.
	AuditEvents(ctx context.Context, afterSeq int64, limit int) ([]*AuditEvent, error)
	// FindAuditEvents returns the events that match f, in sequence order.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}

// AuditSinkCursors keeps, for each configured sink, the sequence number of
// the last event it delivered, so that a sink resumes where it stopped
// after an outage or a restart.
type AuditSinkCursors interface {
	SinkCursor(ctx context.Context, sink string) (int64, error)
	SetSinkCursor(ctx context.Context, sink string, seq int64) error
}

// Actor kinds.
const (
	ActorConsumer = "consumer" // a consumer's API key or OAuth client
	ActorAdmin    = "admin"    // an operator on the admin API
	ActorCLI      = "cli"      // an operator running hrgate commands
	ActorSystem   = "system"   // the server itself: start, stop, automatic rotation
	ActorSource   = "source"   // a source pushing HR data in (SCIM)
)

// Audit event types. The catalogue, with what each type carries, is
// docs/audit.md; a type is never renamed or reused for something else.
const (
	AuditAPIRequest   = "api.request"   // a request to the public API
	AuditAdminRequest = "admin.request" // a request to the admin API
	AuditAuthFailure  = "auth.failure"  // a credential refused, with the reason
	AuditTokenIssued  = "oauth.token"   // #nosec G101 -- an event type, not a credential: a token issued to a client
	AuditAuthLockout  = "auth.lockout"  // a client address or credential locked out after repeated failed authentication

	AuditConsumerCreated = "consumer.created"
	AuditConsumerUpdated = "consumer.updated"
	AuditConsumerDeleted = "consumer.deleted"
	AuditKeyCreated      = "key.created"
	AuditKeyRotated      = "key.rotated"
	AuditKeyRevoked      = "key.revoked"
	AuditKeyFetched      = "key.fetched"
	AuditKeyUpdated      = "key.updated"
	AuditClientCreated   = "client.created"
	AuditClientDeleted   = "client.deleted"
	AuditClientUpdated   = "client.updated"
	AuditEmployeeErased  = "employee.erased"
	AuditSourceCreated   = "source.created"
	AuditSourceDeleted   = "source.deleted"
	AuditSourceRotated   = "source.credential_rotated"
	AuditSourceImported  = "source.imported"
	AuditWebhookCreated  = "webhook.created"
	AuditWebhookUpdated  = "webhook.updated"
	AuditWebhookDeleted  = "webhook.deleted"
	AuditWebhookRotated  = "webhook.rotated"
	AuditWebhookReplayed = "webhook.replayed"

	AuditServerStart = "server.start"
	AuditServerStop  = "server.stop"
	AuditCheckpoint  = "audit.checkpoint"
)

// AuditRecorder appends events to the audit trail.
type AuditRecorder interface {
	// Record appends ev and returns once it is durable. ev must not be
	// changed afterwards. A malformed event is EINVALID; a trail that
	// cannot be written is EUNAVAILABLE.
	Record(ctx context.Context, ev *AuditEvent) error
	// Enqueue appends ev without waiting, for events that need not hold
	// up an answer. The event is durable once the recorder has closed.
	Enqueue(ev *AuditEvent)
}

// Actor identifies who is acting in a context: the admin API and the CLI
// set it, and the service layer copies it into the events it records.
type Actor struct {
	Kind       string // one of the Actor* constants
	Name       string // operator, OS user or job name
	ClientAddr string
	RequestID  string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx; without one it is the system.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: ActorSystem}
}

// AuditRow is an event as the chain stores it: Body is the event's
// canonical encoding, which Hash and MAC cover, and the other fields are
// copies kept in columns so that the trail can be searched. Package audit
// makes rows and reads them back; a store keeps them as they are.
type AuditRow struct {
	Seq          int64
	Time         time.Time
	Type         string
	ConsumerID   string
	CredentialID string
	RecordIDs    []string
	Body         []byte
	PrevHash     []byte
	Hash         []byte
	MAC          []byte
}

// AuditScanRow is a stored event as verification reads it: the fewest
// columns, as bytes, since every event of the trail is read.
type AuditScanRow struct {
	Seq int64
	// Columns holds the search columns time (decimal microseconds),
	// type, consumer_id and credential_id, joined by "\n", which no
	// event field may hold.
	Columns []byte
	Body    []byte
	// Seal is PrevHash, Hash and MAC, 32 bytes each.
	Seal []byte
	// Records holds the record index's entries for the event, one slice
	// each (not joined, so that an entry cannot pass for several), in no
	// particular order. Entries for events that do not exist come on rows
	// without Body.
	Records [][]byte
}

// AuditHead is the newest position of the chain, kept apart from the
// events so that a cut-off tail is seen: its MAC binds Seq and Hash.
type AuditHead struct {
	Seq  int64
	Hash []byte
	MAC  []byte
	// Time is the time of the newest event; appends never go back in
	// time, so that a range of time is a range of sequence numbers.
	Time time.Time
}

// AuditStore keeps the chain. sqlstore implements it on SQLite and
// PostgreSQL.
type AuditStore interface {
	// AppendAudit appends rows in one transaction. It locks and reads the
	// head, so that appends from several processes queue, and passes it
	// to seal, which returns the rows to insert (numbered from head.Seq+1)
	// and the new head. Either every row and the head are written or
	// nothing is.
	AppendAudit(ctx context.Context, seal func(head AuditHead) ([]*AuditRow, AuditHead, error)) error
	// SyncAudit makes every append that has returned durable against
	// power loss. A store whose appends are durable when they return does
	// nothing; one that defers the flush (SQLite here) flushes, so that the
	// flush of one append overlaps the writing of the next.
	SyncAudit(ctx context.Context) error
	// FlushAudit makes every append that has returned visible to the
	// read methods. A store that appends where it reads does nothing;
	// one that appends to a journal first (SQLite here) moves the
	// journal into its tables, so that an exact question ("who accessed
	// employee X") is answered up to the newest event.
	FlushAudit(ctx context.Context) error
	// AuditHead returns the head, after FlushAudit, so that it is the
	// newest event the read methods see; the zero head for an empty
	// trail.
	AuditHead(ctx context.Context) (AuditHead, error)
	// AuditRows returns up to limit rows with sequence numbers above
	// afterSeq, in order, RecordIDs not filled in.
	AuditRows(ctx context.Context, afterSeq int64, limit int) ([]*AuditRow, error)
	// FindAuditRows returns the rows that match f, in sequence order,
	// RecordIDs not filled in. Filters on columns are a pre-selection:
	// the caller decodes and checks each body.
	FindAuditRows(ctx context.Context, f AuditFilter) ([]*AuditRow, error)
	// ScanAuditRows calls fn with each stored event from fromSeq to toSeq
	// (inclusive), in order. The row and its slices are reused after fn
	// returns.
	ScanAuditRows(ctx context.Context, fromSeq, toSeq int64, fn func(*AuditScanRow) error) error
	AuditSinkCursors
}

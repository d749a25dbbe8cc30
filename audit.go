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

	// Actor: the credential and consumer that acted, or "admin", "cli" or
	// "system" in ActorKind for operators and background jobs.
	ActorKind    string `json:"actor_kind,omitempty"`
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
	// after, as JSON objects.
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

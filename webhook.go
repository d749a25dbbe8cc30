package hrgate

import (
	"context"
	"slices"
	"time"
)

// Prefixes of the ids of outbound webhook endpoints, their signing
// secrets and their deliveries. A delivery id is the "webhook-id" of the
// Standard Webhooks specification, which names the message ("msg_").
const (
	PrefixWebhookEndpoint = "whe"
	PrefixWebhookSecret   = "whk"
	PrefixWebhookMessage  = "msg"
)

// WebhookEventTypes are the change events an endpoint may subscribe to:
// every type the sync engine writes to the outbox.
var WebhookEventTypes = []string{ChangeEmployeeCreated, ChangeEmployeeUpdated, ChangeEmployeeTerminated,
	ChangeTimeOffCreated, ChangeTimeOffUpdated, ChangeTimeOffCancelled}

// ValidWebhookEventType reports whether t is a change event type an
// endpoint may subscribe to.
func ValidWebhookEventType(t string) bool { return slices.Contains(WebhookEventTypes, t) }

// Webhook payload modes.
const (
	// WebhookFull sends the event's object as the consumer's grant lets
	// it out: the employee exactly as GET /v1/employees/{id} would
	// return it, the time-off request as GET /v1/time-off would.
	WebhookFull = "full"
	// WebhookThin sends ids only; the receiver reads the rest through the
	// API with its own credential.
	WebhookThin = "thin"
)

// WebhookEndpoint is a URL a consumer receives change events at.
type WebhookEndpoint struct {
	ID         string
	ConsumerID string
	URL        string
	// EventTypes are the change event types it subscribes to, sorted.
	EventTypes  []string
	Description string
	// AllowHTTP lets the URL be plain http://; without it only https://
	// URLs are accepted.
	AllowHTTP bool
	// Mode is WebhookFull or WebhookThin.
	Mode string
	// DisabledAt is set while the endpoint is disabled, by an operator or
	// by the worker (410 Gone, persistent failure); DisabledReason says
	// why. Nothing is delivered to a disabled endpoint.
	DisabledAt     time.Time
	DisabledReason string
	// FailingSince is the time of the first failed attempt of the
	// current run of failures; zero after a success.
	FailingSince time.Time
	CreatedAt    time.Time
	ModifiedAt   time.Time
}

// Enabled reports whether deliveries are made to the endpoint.
func (e *WebhookEndpoint) Enabled() bool { return e.DisabledAt.IsZero() }

// Subscribes reports whether the endpoint wants events of type t.
func (e *WebhookEndpoint) Subscribes(t string) bool { return slices.Contains(e.EventTypes, t) }

// WebhookSecret is one signing key of an endpoint. The newest key signs
// every delivery; a replaced one keeps signing beside it until it
// expires, so that receivers can switch over.
type WebhookSecret struct {
	ID        string
	Key       []byte
	CreatedAt time.Time
	// ExpiresAt is zero for the current key.
	ExpiresAt time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its first or next attempt
	DeliverySucceeded = "succeeded" // a 2xx answer came back in time
	DeliveryFailed    = "failed"    // the retry schedule ran out, or the endpoint answered 410
	DeliverySkipped   = "skipped"   // not sent: the object is gone or now outside the grant
)

// ValidDeliveryStatus reports whether s is a delivery state.
func ValidDeliveryStatus(s string) bool {
	return s == DeliveryPending || s == DeliverySucceeded || s == DeliveryFailed || s == DeliverySkipped
}

// WebhookDelivery is one change event to deliver to one endpoint: one
// message, whose id is the webhook-id of every attempt. A replay is a new
// delivery with a new id (ReplayOf names the one replayed), so that a
// receiver that de-duplicates by webhook-id takes it in again.
type WebhookDelivery struct {
	ID         string
	EndpointID string
	// The event, copied from the outbox so that a delivery does not
	// depend on the outbox keeping it.
	EventID    string
	EventType  string
	CompanyID  string
	EmployeeID string
	Groups     []string
	// TimeOffID names the time-off request of a time_off.* event.
	TimeOffID string
	EventTime time.Time
	ReplayOf  string

	Status      string
	Attempts    int
	NextAttempt time.Time
	CreatedAt   time.Time
	FinishedAt  time.Time
	// LastStatus and LastError describe the newest attempt: the HTTP
	// status code (0 when none came back) and an error class.
	LastStatus int
	LastError  string
}

// WebhookAttempt is one try at a delivery. It never holds the body of the
// answer: a receiver may echo what it should not.
type WebhookAttempt struct {
	DeliveryID string
	Number     int
	At         time.Time
	StatusCode int
	Latency    time.Duration
	// ErrorClass is empty for a 2xx answer; "status" for another answer;
	// otherwise the transport's class of the failure ("timeout", "dns",
	// "connect", "tls", "blocked_address", "other"). A recorded attempt
	// with a class failed: it starts or continues the endpoint's run of
	// failures, and one without ends it.
	ErrorClass string
}

// WebhookClaim is a delivery claimed by one worker for one attempt. Lease
// is the owner token the outcome must present: a worker whose lease ran
// out (it hung, or the process died) cannot overwrite the outcome of the
// worker that claimed the delivery after it.
type WebhookClaim struct {
	Delivery *WebhookDelivery
	Endpoint *WebhookEndpoint
	Lease    string
}

// WebhookOutcome is the result of one attempt, written with
// WebhookStore.FinishWebhookAttempts.
type WebhookOutcome struct {
	Attempt WebhookAttempt
	// Status is the delivery's new state; NextAttempt its next try when
	// it stays pending.
	Status      string
	NextAttempt time.Time
	// Disable, when set, disables the endpoint with this reason (410
	// Gone, or failing for too long).
	Disable string
}

// WebhookResult is the outcome of an attempt at a claimed delivery, to
// record; Err is set by the store when it could not be.
type WebhookResult struct {
	Claim   *WebhookClaim
	Outcome *WebhookOutcome
	Err     error
}

// DeliveryFilter selects deliveries to list.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	Status     string
	Limit      int
}

// WebhookFanout decides which endpoints receive an event: it returns
// their ids. It is called inside the fan-out transaction, so it must not
// write through the store.
type WebhookFanout func(ctx context.Context, ev *ChangeEvent) ([]string, error)

// WebhookStore persists outbound webhook endpoints, their secrets, the
// deliveries fanned out from the change outbox and their attempts.
type WebhookStore interface {
	// CreateWebhookEndpoint inserts e with its first signing key, sealed
	// under the keyring. A consumer that does not exist is EINVALID.
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint, secret *WebhookSecret) error
	// FindWebhookEndpoint returns an endpoint, or ENOTFOUND.
	FindWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints returns the endpoints of a consumer ("" for
	// all), oldest first.
	ListWebhookEndpoints(ctx context.Context, consumerID string) ([]*WebhookEndpoint, error)
	// SetWebhookEndpointState enables (reason "" and a zero at) or
	// disables an endpoint, or ENOTFOUND. Enabling clears the run of
	// failures.
	SetWebhookEndpointState(ctx context.Context, id string, at time.Time, reason string) error
	// DeleteWebhookEndpoint deletes an endpoint with its secrets and
	// deliveries, or ENOTFOUND.
	DeleteWebhookEndpoint(ctx context.Context, id string) error
	// RotateWebhookSecret adds next as the endpoint's current key, lets
	// the keys in force until now expire at overlapEnd, and drops keys
	// already expired; ENOTFOUND for an unknown endpoint.
	RotateWebhookSecret(ctx context.Context, endpointID string, next *WebhookSecret, overlapEnd time.Time) error
	// WebhookSecrets returns the keys of an endpoint that have not expired
	// at now, opened, newest first.
	WebhookSecrets(ctx context.Context, endpointID string, now time.Time) ([]*WebhookSecret, error)

	// FanOutWebhooks reads up to limit change events after the fan-out
	// cursor, creates a pending delivery for each endpoint match returns,
	// and advances the cursor, in one transaction; it returns how many
	// events it read. newID issues delivery ids. On PostgreSQL an event
	// is read only once no transaction that may still commit an earlier
	// one is running, so that none is skipped; concurrent callers
	// serialise on the cursor.
	FanOutWebhooks(ctx context.Context, limit int, now time.Time, newID func() (string, error), match WebhookFanout) (int, error)
	// WebhookBacklog returns how many change events after the fan-out
	// cursor wait, at most limit: on PostgreSQL it counts those that
	// FanOutWebhooks may not read yet.
	WebhookBacklog(ctx context.Context, limit int) (int, error)
	// ClaimWebhookDeliveries leases up to limit pending deliveries due at
	// now, of enabled endpoints, until now+lease. On PostgreSQL
	// concurrent claimers skip each other's rows (FOR UPDATE SKIP
	// LOCKED), and a leased delivery is claimed again only after its
	// lease runs out.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int, owner string) ([]*WebhookClaim, error)
	// FinishWebhookAttempts records, for each result, the attempt and
	// the delivery's new state, and updates the endpoint's run of
	// failures, all in one transaction. A result whose lease is no longer
	// the delivery's writes nothing and gets Err ECONFLICT; the others
	// are written. An error of the transaction writes none.
	FinishWebhookAttempts(ctx context.Context, rs []*WebhookResult) error
	// NextWebhookAttempt returns the time of the earliest pending
	// delivery of an enabled endpoint, zero when there is none.
	NextWebhookAttempt(ctx context.Context) (time.Time, error)
	// WebhookDeliveries returns deliveries matching f, newest first.
	WebhookDeliveries(ctx context.Context, f DeliveryFilter) ([]*WebhookDelivery, error)
	// FindWebhookDelivery returns a delivery with its attempts, or
	// ENOTFOUND.
	FindWebhookDelivery(ctx context.Context, id string) (*WebhookDelivery, []*WebhookAttempt, error)
	// ReplayWebhookDeliveries creates, for every original delivery of the
	// given event (eventID set) or of events since the given time, to an
	// endpoint of the given id ("" for all), a new pending delivery of
	// the same event; it returns them.
	ReplayWebhookDeliveries(ctx context.Context, eventID string, since time.Time, endpointID string, now time.Time,
		newID func() (string, error)) ([]*WebhookDelivery, error)
	// WebhookSignal returns a channel that receives a value whenever
	// change events or deliveries were committed by this process, so that
	// the worker wakes at once instead of at its next poll.
	WebhookSignal() <-chan struct{}
}

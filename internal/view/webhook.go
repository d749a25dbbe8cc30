package view

import (
	"time"

	"github.com/hrgate/hrgate"
)

// WebhookEndpoint is the JSON form of a webhook endpoint. It never holds
// the signing secret: that is shown once, when it is created or rotated.
type WebhookEndpoint struct {
	ID             string     `json:"id"`
	ConsumerID     string     `json:"consumer_id"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"event_types"`
	Description    string     `json:"description,omitempty"`
	AllowHTTP      bool       `json:"allow_http"`
	Mode           string     `json:"mode"`
	Enabled        bool       `json:"enabled"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ModifiedAt     time.Time  `json:"modified_at"`
}

// NewWebhookEndpoint returns the view of e.
func NewWebhookEndpoint(e *hrgate.WebhookEndpoint) WebhookEndpoint {
	return WebhookEndpoint{ID: e.ID, ConsumerID: e.ConsumerID, URL: e.URL, EventTypes: nonNil(e.EventTypes), Description: e.Description,
		AllowHTTP: e.AllowHTTP, Mode: e.Mode, Enabled: e.Enabled(), DisabledAt: optTime(e.DisabledAt), DisabledReason: e.DisabledReason,
		FailingSince: optTime(e.FailingSince), CreatedAt: e.CreatedAt, ModifiedAt: e.ModifiedAt}
}

// WebhookSecret is the answer to creating an endpoint or rotating its
// secret: the one time the secret is shown.
type WebhookSecret struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// OverlapUntil, after a rotation, is when the replaced secrets stop
	// signing.
	OverlapUntil *time.Time `json:"overlap_until,omitempty"`
}

// WebhookDelivery is the JSON form of a delivery, with its attempts when
// they were read.
type WebhookDelivery struct {
	ID          string           `json:"id"`
	EndpointID  string           `json:"endpoint_id"`
	EventID     string           `json:"event_id"`
	EventType   string           `json:"event_type"`
	CompanyID   string           `json:"company_id"`
	EmployeeID  string           `json:"employee_id"`
	ReplayOf    string           `json:"replay_of,omitempty"`
	Status      string           `json:"status"`
	Attempts    int              `json:"attempts"`
	NextAttempt *time.Time       `json:"next_attempt_at,omitempty"`
	LastStatus  int              `json:"last_status_code,omitempty"`
	LastError   string           `json:"last_error_class,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	FinishedAt  *time.Time       `json:"finished_at,omitempty"`
	History     []WebhookAttempt `json:"attempt_history,omitempty"`
}

// WebhookAttempt is one attempt at a delivery.
type WebhookAttempt struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	LatencyMS  int64     `json:"latency_ms"`
	ErrorClass string    `json:"error_class,omitempty"`
}

// NewWebhookDelivery returns the view of d and its attempts (nil when not
// read).
func NewWebhookDelivery(d *hrgate.WebhookDelivery, attempts []*hrgate.WebhookAttempt) WebhookDelivery {
	v := WebhookDelivery{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, CompanyID: d.CompanyID,
		EmployeeID: d.EmployeeID, ReplayOf: d.ReplayOf, Status: d.Status, Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: d.CreatedAt, FinishedAt: optTime(d.FinishedAt)}
	if d.Status == hrgate.DeliveryPending {
		v.NextAttempt = optTime(d.NextAttempt)
	}
	for _, a := range attempts {
		v.History = append(v.History, WebhookAttempt{Attempt: a.Number, At: a.At, StatusCode: a.StatusCode,
			LatencyMS: a.Latency.Milliseconds(), ErrorClass: a.ErrorClass})
	}
	return v
}

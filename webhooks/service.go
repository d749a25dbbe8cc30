// Package webhooks delivers change events to consumers' endpoints: signed
// per the Standard Webhooks specification, projected through each
// consumer's grant by the code that serves the REST API, at least once,
// from the transactional outbox the sync engine writes (docs/webhooks.md).
//
// Service manages endpoints, their secrets, and the record of deliveries;
// Worker fans the outbox out into deliveries and makes the attempts.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
)

// Store is what the package needs of the data store.
type Store interface {
	hrgate.WebhookStore
	hrgate.ReadStore
	FindConsumer(ctx context.Context, idOrName string) (*hrgate.Consumer, error)
	// PruneWebhookDeliveries deletes the deliveries in a final state
	// that ended before before, with their attempts, and returns how
	// many. Pending deliveries stay, and so does an original delivery
	// while a replay of it stays.
	PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error)
	// PruneChangeEvents deletes the outbox's change events written
	// before before and returns how many; with fannedOut only those the
	// fan-out cursor has passed.
	PruneChangeEvents(ctx context.Context, before time.Time, fannedOut bool) (int, error)
}

// Service manages webhook endpoints. It is safe for concurrent use.
type Service struct {
	allowed []netip.Prefix
	store   Store
	audit   hrgate.AuditRecorder
	log     *slog.Logger
	now     func() time.Time
	random  io.Reader
	overlap time.Duration
}

// Option configures a Service.
type Option func(*Service)

// WithAudit records endpoint changes to the audit trail.
func WithAudit(a hrgate.AuditRecorder) Option { return func(s *Service) { s.audit = a } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRandom sets the source of ids and secrets; the default is
// crypto/rand. It must be cryptographically secure outside tests.
func WithRandom(r io.Reader) Option { return func(s *Service) { s.random = r } }

// WithRotationOverlap sets how long a replaced secret keeps signing
// (webhooks.rotation_overlap); the default is DefaultRotationOverlap.
func WithRotationOverlap(d time.Duration) Option { return func(s *Service) { s.overlap = d } }

// WithAllowedNetworks sets the networks an endpoint URL with a literal
// private address may name (webhooks.allowed_networks): such a URL is
// refused at registration, as the transport would refuse it anyway.
func WithAllowedNetworks(ps []netip.Prefix) Option { return func(s *Service) { s.allowed = ps } }

// DefaultRotationOverlap is the default of webhooks.rotation_overlap.
const DefaultRotationOverlap = 24 * time.Hour

// New returns a Service on store.
func New(store Store, opts ...Option) *Service {
	s := &Service{store: store, log: slog.New(slog.DiscardHandler), now: time.Now, random: rand.Reader, overlap: DefaultRotationOverlap}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// EndpointRequest describes an endpoint to create.
type EndpointRequest struct {
	// Consumer is the consumer's name or id.
	Consumer    string
	URL         string
	EventTypes  []string
	Description string
	// AllowHTTP accepts a plain http:// URL; it is logged as a warning.
	AllowHTTP bool
	// Mode is hrgate.WebhookFull (the projected object; "" means it) or
	// hrgate.WebhookThin (ids only).
	Mode string
}

// maxDescription bounds an endpoint's description, which ends up in
// listings and the audit trail.
const maxDescription = 200

// Create creates an endpoint and returns it with its signing secret in
// the "whsec_…" form, shown this once. A bad URL, event type or
// description is EINVALID and says what is wrong; an unknown consumer is
// ENOTFOUND.
func (s *Service) Create(ctx context.Context, req EndpointRequest) (*hrgate.WebhookEndpoint, string, error) {
	if err := s.checkURL(req.URL, req.AllowHTTP); err != nil {
		return nil, "", err
	}
	mode := req.Mode
	switch mode {
	case "":
		mode = hrgate.WebhookFull
	case hrgate.WebhookFull, hrgate.WebhookThin:
	default:
		return nil, "", hrgate.Errorf(hrgate.EINVALID, "An endpoint's mode is full or thin.")
	}
	types, err := checkEventTypes(req.EventTypes)
	if err != nil {
		return nil, "", err
	}
	if err := checkDescription(req.Description); err != nil {
		return nil, "", err
	}
	c, err := s.store.FindConsumer(ctx, req.Consumer)
	if err != nil {
		return nil, "", err
	}
	p, err := gate.ConsumerPrincipal(c)
	if err != nil {
		return nil, "", err
	}
	if err := checkGrantReads(c.Name, p.Grant, types); err != nil {
		return nil, "", err
	}
	id, err := hrgate.NewID(hrgate.PrefixWebhookEndpoint, s.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "create webhook endpoint")
	}
	secret, text, err := s.newSecret()
	if err != nil {
		return nil, "", err
	}
	now := s.clock()
	secret.CreatedAt = now
	e := &hrgate.WebhookEndpoint{ID: id, ConsumerID: c.ID, URL: req.URL, EventTypes: types, Description: req.Description,
		AllowHTTP: req.AllowHTTP, Mode: mode, CreatedAt: now, ModifiedAt: now}
	if err := s.store.CreateWebhookEndpoint(ctx, e, secret); err != nil {
		return nil, "", err
	}
	s.log.Info("webhook endpoint created", "endpoint_id", e.ID, "consumer_id", c.ID, "url", RedactURL(e.URL),
		"events", strings.Join(types, ","), "mode", mode)
	if e.AllowHTTP && strings.HasPrefix(strings.ToLower(e.URL), "http:") {
		s.log.Warn("a webhook endpoint receives HR data over plain HTTP; anyone on the path can read and replay it",
			"endpoint_id", e.ID, "url", RedactURL(e.URL))
	}
	if err := s.record(ctx, hrgate.AuditWebhookCreated, e.ID, e.ConsumerID, nil, attrsOf(e)); err != nil {
		return nil, "", err
	}
	return e, text, nil
}

func (s *Service) newSecret() (*hrgate.WebhookSecret, string, error) {
	id, err := hrgate.NewID(hrgate.PrefixWebhookSecret, s.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "create webhook secret")
	}
	key, text, err := hrgate.GenerateWebhookSecret(s.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "create webhook secret")
	}
	return &hrgate.WebhookSecret{ID: id, Key: key}, text, nil
}

// checkURL checks an endpoint URL with the transport's checks, whose
// errors never repeat the URL (it may hold a token): its shape, and a
// literal address the transport would refuse to dial.
func (s *Service) checkURL(raw string, allowHTTP bool) error {
	if raw == "" {
		return hrgate.Errorf(hrgate.EINVALID, "An endpoint needs a URL.")
	}
	if err := CheckURL(raw, allowHTTP); err != nil {
		return err
	}
	return CheckURLAddress(raw, s.allowed)
}

// checkEventTypes returns the types sorted and without duplicates, or an
// EINVALID error naming the first unknown one.
func checkEventTypes(in []string) ([]string, error) {
	var out []string
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !hrgate.ValidWebhookEventType(t) {
			return nil, hrgate.Errorf(hrgate.EINVALID, "Unknown event type %s: use %s.", hrgate.EchoQuoted(t), strings.Join(hrgate.WebhookEventTypes, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Name at least one event type: %s.", strings.Join(hrgate.WebhookEventTypes, ", "))
	}
	slices.Sort(out)
	return out, nil
}

// checkGrantReads refuses a subscription to events the consumer's grant
// can never let through, because it cannot read their object: such an
// endpoint would look live and receive nothing. The grant is checked
// again at every fan-out and attempt, so a grant narrowed later stops the
// events it no longer covers instead.
func checkGrantReads(consumer string, g *grant.Grant, types []string) error {
	for _, t := range types {
		switch r := eventResource(t); {
		case g.CanRead(r):
		case r == grant.ResourceTimeOff:
			return hrgate.Errorf(hrgate.EINVALID, "Consumer %s cannot read time off (its grant names no time_off:read scope), so no %s event would reach the endpoint.", consumer, t)
		default:
			return hrgate.Errorf(hrgate.EINVALID, "Consumer %s cannot read employees (its grant names no employees scope), so no %s event would reach the endpoint.", consumer, t)
		}
	}
	return nil
}

func checkDescription(d string) error {
	if len(d) > maxDescription || !utf8.ValidString(d) || strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return hrgate.Errorf(hrgate.EINVALID, "A description is at most %d bytes of text without control characters.", maxDescription)
	}
	return nil
}

// Endpoint returns the endpoint with the given id, or ENOTFOUND.
func (s *Service) Endpoint(ctx context.Context, id string) (*hrgate.WebhookEndpoint, error) {
	if !hrgate.ValidID(hrgate.PrefixWebhookEndpoint, id) {
		return nil, hrgate.ErrNotFound("Webhook endpoint")
	}
	return s.store.FindWebhookEndpoint(ctx, id)
}

// Endpoints returns the endpoints of a consumer (name or id; "" for all),
// oldest first.
func (s *Service) Endpoints(ctx context.Context, consumer string) ([]*hrgate.WebhookEndpoint, error) {
	consumerID := ""
	if consumer != "" {
		c, err := s.store.FindConsumer(ctx, consumer)
		if err != nil {
			return nil, err
		}
		consumerID = c.ID
	}
	return s.store.ListWebhookEndpoints(ctx, consumerID)
}

// Disable stops deliveries to an endpoint; its pending deliveries wait
// until it is enabled again.
func (s *Service) Disable(ctx context.Context, id, reason string) (*hrgate.WebhookEndpoint, error) {
	if reason == "" {
		reason = "disabled by an operator"
	}
	if err := checkDescription(reason); err != nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "A reason is at most %d bytes of text without control characters.", maxDescription)
	}
	return s.setState(ctx, id, s.clock(), reason)
}

// Enable resumes deliveries to an endpoint and forgets its failures.
func (s *Service) Enable(ctx context.Context, id string) (*hrgate.WebhookEndpoint, error) {
	return s.setState(ctx, id, time.Time{}, "")
}

func (s *Service) setState(ctx context.Context, id string, at time.Time, reason string) (*hrgate.WebhookEndpoint, error) {
	before, err := s.Endpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetWebhookEndpointState(ctx, id, at, reason); err != nil {
		return nil, err
	}
	after, err := s.store.FindWebhookEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	s.log.Info("webhook endpoint updated", "endpoint_id", id, "enabled", after.Enabled(), "reason", reason)
	if err := s.record(ctx, hrgate.AuditWebhookUpdated, id, after.ConsumerID, attrsOf(before), attrsOf(after)); err != nil {
		return nil, err
	}
	return after, nil
}

// Delete deletes an endpoint with its secrets, deliveries and attempts.
func (s *Service) Delete(ctx context.Context, id string) error {
	e, err := s.Endpoint(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhookEndpoint(ctx, id); err != nil {
		return err
	}
	s.log.Info("webhook endpoint deleted", "endpoint_id", id)
	return s.record(ctx, hrgate.AuditWebhookDeleted, id, e.ConsumerID, attrsOf(e), nil)
}

// RotateSecret gives an endpoint a new signing secret, returned in the
// "whsec_…" form and shown this once, and the time until which the
// secrets it replaces keep signing beside it.
func (s *Service) RotateSecret(ctx context.Context, id string) (string, time.Time, error) {
	e, err := s.Endpoint(ctx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	next, text, err := s.newSecret()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.clock()
	next.CreatedAt = now
	until := now.Add(s.overlap)
	if err := s.store.RotateWebhookSecret(ctx, id, next, until); err != nil {
		return "", time.Time{}, err
	}
	s.log.Info("webhook secret rotated", "endpoint_id", id, "secret_id", next.ID, "overlap_until", until)
	after := map[string]any{"secret_id": next.ID, "overlap_until": until}
	if err := s.record(ctx, hrgate.AuditWebhookRotated, id, e.ConsumerID, nil, after); err != nil {
		return "", time.Time{}, err
	}
	return text, until, nil
}

// Deliveries returns deliveries matching f, newest first; a zero limit
// means 50.
func (s *Service) Deliveries(ctx context.Context, f hrgate.DeliveryFilter) ([]*hrgate.WebhookDelivery, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Ask for 1 to 1000 deliveries.")
	}
	return s.store.WebhookDeliveries(ctx, f)
}

// Delivery returns a delivery with its attempts, or ENOTFOUND.
func (s *Service) Delivery(ctx context.Context, id string) (*hrgate.WebhookDelivery, []*hrgate.WebhookAttempt, error) {
	if !hrgate.ValidID(hrgate.PrefixWebhookMessage, id) {
		return nil, nil, hrgate.ErrNotFound("Delivery")
	}
	return s.store.FindWebhookDelivery(ctx, id)
}

// Replay queues the event again (eventID set) or every event since the
// given time, to every endpoint it was delivered to, or to one (endpoint
// set). Each replay is a new delivery with a new webhook-id, so that a
// receiver that de-duplicates by webhook-id takes it in; the payload's
// "id" is still the event's. It returns the new deliveries.
func (s *Service) Replay(ctx context.Context, eventID string, since time.Time, endpoint string) ([]*hrgate.WebhookDelivery, error) {
	if (eventID == "") == since.IsZero() {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Replay one event (its evt_… id) or the events since a time, not both.")
	}
	if eventID != "" && !hrgate.ValidID(hrgate.PrefixChangeEvent, eventID) {
		return nil, hrgate.Errorf(hrgate.EINVALID, "An event id looks like evt_ followed by 26 characters.")
	}
	if endpoint != "" {
		if _, err := s.Endpoint(ctx, endpoint); err != nil {
			return nil, err
		}
	}
	ds, err := s.store.ReplayWebhookDeliveries(ctx, eventID, since, endpoint, s.clock(), func() (string, error) {
		return hrgate.NewID(hrgate.PrefixWebhookMessage, s.random)
	})
	if err != nil {
		return nil, err
	}
	target := eventID
	if target == "" {
		target = "since:" + since.UTC().Format(time.RFC3339)
	}
	s.log.Info("webhook deliveries replayed", "target", target, "endpoint_id", endpoint, "deliveries", len(ds))
	return ds, s.record(ctx, hrgate.AuditWebhookReplayed, target, "", nil, map[string]any{"endpoint_id": endpoint, "deliveries": len(ds)})
}

// RedactURL returns u without its query, user information and fragment,
// for logs and the audit trail: receivers put tokens there.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

// endpointAttrs are what the audit trail keeps of an endpoint: never its
// secret, nor its URL's query.
type endpointAttrs struct {
	ID             string     `json:"id"`
	ConsumerID     string     `json:"consumer_id"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"event_types"`
	Mode           string     `json:"mode"`
	AllowHTTP      bool       `json:"allow_http,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

func attrsOf(e *hrgate.WebhookEndpoint) *endpointAttrs {
	a := &endpointAttrs{ID: e.ID, ConsumerID: e.ConsumerID, URL: RedactURL(e.URL), EventTypes: e.EventTypes, Mode: e.Mode,
		AllowHTTP: e.AllowHTTP, DisabledReason: e.DisabledReason}
	if !e.DisabledAt.IsZero() {
		t := e.DisabledAt
		a.DisabledAt = &t
	}
	return a
}

// record appends an audit event for a change made by the actor of ctx.
// A change whose event cannot be written is reported as failed.
func (s *Service) record(ctx context.Context, typ, target, consumerID string, before, after any) error {
	return record(ctx, s.audit, s.log, typ, target, consumerID, before, after)
}

func record(ctx context.Context, audit hrgate.AuditRecorder, log *slog.Logger, typ, target, consumerID string, before, after any) error {
	if audit == nil {
		return nil
	}
	a := hrgate.ActorFrom(ctx)
	ev := &hrgate.AuditEvent{Type: typ, ActorKind: a.Kind, Actor: a.Name, ClientAddr: a.ClientAddr, RequestID: a.RequestID,
		Target: target, ConsumerID: consumerID}
	var err error
	if before != nil {
		if ev.Before, err = json.Marshal(before); err != nil {
			return hrgate.Wrap(err, "audit "+typ)
		}
	}
	if after != nil {
		if ev.After, err = json.Marshal(after); err != nil {
			return hrgate.Wrap(err, "audit "+typ)
		}
	}
	if err := audit.Record(ctx, ev); err != nil {
		log.Error("a change was made but its audit event could not be written", "type", typ, "target", target, "err", err)
		return err
	}
	return nil
}

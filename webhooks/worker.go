package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/bounded"
	"github.com/hrgate/hrgate/internal/stdwebhook"
)

// Doer sends one HTTP request: an *http.Client built by the SSRF-safe
// transport, which refuses private targets and follows no redirect.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// WorkerConfig configures a Worker; zero fields take the defaults of the
// webhooks configuration section.
type WorkerConfig struct {
	// Client makes the attempts; required.
	Client Doer
	// Schedule is the wait before each retry (webhooks.retry_schedule).
	Schedule []time.Duration
	// Timeout bounds one attempt (webhooks.timeout).
	Timeout time.Duration
	// DisableAfter disables an endpoint failing for this long
	// (webhooks.disable_after).
	DisableAfter time.Duration
	// PollInterval is the longest the worker sleeps without looking
	// for work (webhooks.poll_interval).
	PollInterval time.Duration
	// Workers bounds the attempts in flight (webhooks.workers).
	Workers int
	// Now is the clock; Jitter spreads a retry's wait (by default
	// within ±10%). Tests inject both.
	Now    func() time.Time
	Jitter func(time.Duration) time.Duration
	// CacheTTL bounds how long a consumer's grant and an endpoint's
	// keys are reused between attempts; zero is one second, a negative
	// value rereads them for every attempt.
	CacheTTL time.Duration
	// Random issues delivery ids and the worker's lease token.
	Random io.Reader
	Logger *slog.Logger
	// Audit records endpoints the worker disables.
	Audit hrgate.AuditRecorder
}

// Defaults of WorkerConfig.
var (
	DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
)

const (
	DefaultDisableAfter = 5 * 24 * time.Hour
	DefaultPollInterval = time.Second
	DefaultWorkers      = 16
	// fanOutBatch is how many outbox events one fan-out transaction reads.
	fanOutBatch = 500
	// defaultCacheTTL bounds how long a consumer's grant and an
	// endpoint's keys are reused between attempts: a narrowed grant or a
	// rotated secret is in force for every attempt that starts this long
	// after it.
	defaultCacheTTL = time.Second
	// heldRetry is how soon the worker looks again at change events an
	// older transaction still holds back (PostgreSQL).
	heldRetry = 50 * time.Millisecond
	// maxAnswer is how much of an answer is read, to reuse the
	// connection; the rest is dropped and none of it is kept.
	maxAnswer = 64 << 10
)

// Worker fans change events out into deliveries and attempts them. Run
// it once per process; several processes on one PostgreSQL database share
// the work.
type Worker struct {
	store Store
	cfg   WorkerConfig
	log   *slog.Logger
	owner string
	lease time.Duration

	consumers ttlCache[*gate.Principal]
	keys      ttlCache[[][]byte]
}

// ttlCache holds what the worker read from the store, by consumer or
// endpoint id, for CacheTTL. It is the project's bounded map, so the ids
// of deleted consumers and endpoints do not pile up in a long-running
// worker: when full it starts over, which costs only rereads.
type ttlCache[V any] struct {
	ttl time.Duration
	m   bounded.Map[string, ttlEntry[V]]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

// maxCached bounds each of the worker's caches.
const maxCached = 10000

func (c *ttlCache[V]) get(k string, now time.Time) (V, bool) {
	if e, ok := c.m.Get(k); ok && now.Sub(e.at) < c.ttl {
		return e.v, true
	}
	var zero V
	return zero, false
}

func (c *ttlCache[V]) put(k string, v V, now time.Time) { c.m.Put(k, ttlEntry[V]{v: v, at: now}) }

// NewWorker returns a Worker on store.
func NewWorker(store Store, cfg WorkerConfig) (*Worker, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("webhooks: the worker needs an HTTP client")
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = jitter
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = defaultCacheTTL
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	owner, err := hrgate.NewID("wkr", cfg.Random)
	if err != nil {
		return nil, err
	}
	w := &Worker{store: store, cfg: cfg, log: cfg.Logger, owner: owner,
		// The lease outlives any attempt (bounded by the timeout) with
		// room for the writes around it; only a dead or hung worker's
		// deliveries wait for it to run out.
		lease: 2*cfg.Timeout + 5*time.Second}
	w.consumers.ttl, w.consumers.m.Max = cfg.CacheTTL, maxCached
	w.keys.ttl, w.keys.m.Max = cfg.CacheTTL, maxCached
	return w, nil
}

// jitter spreads d by up to ±10%, so that the retries of deliveries that
// failed together do not all come back at once.
func jitter(d time.Duration) time.Duration {
	// #nosec G404 -- spreading retries needs no unpredictability.
	return d + time.Duration((mathrand.Float64()*0.2-0.1)*float64(d))
}

func (w *Worker) now() time.Time { return w.cfg.Now().UTC().Truncate(time.Microsecond) }

func (w *Worker) newID() (string, error) {
	return hrgate.NewID(hrgate.PrefixWebhookMessage, w.cfg.Random)
}

// Run fans out and delivers until ctx ends, then waits for the attempts
// in flight, which are not cut short: each is bounded by the timeout, and
// its outcome is recorded. It wakes when this process commits change
// events or deliveries (WebhookSignal), when attempts end, when the next
// retry falls due, and at least every poll interval.
//
// Outcomes are recorded by one goroutine in batches, one transaction for
// as many as have finished meanwhile: on SQLite every write queues for
// the one writer, and a transaction per attempt would bound deliveries
// to the writer's commit rate.
func (w *Worker) Run(ctx context.Context) {
	var (
		attempts sync.WaitGroup
		slots    = make(chan struct{}, w.cfg.Workers)
		done     = make(chan struct{}, 1)
		results  = make(chan *hrgate.WebhookResult, w.cfg.Workers)
		recorded = make(chan struct{})
		signal   = w.store.WebhookSignal()
		timer    = time.NewTimer(0)
		// Attempts and their records run on their own context: a stop
		// must not turn an answered attempt into an unrecorded one.
		bg = context.WithoutCancel(ctx)
	)
	defer timer.Stop()
	release := func(n int) {
		for range n {
			<-slots
		}
		select {
		case done <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(recorded)
		for r := range results {
			batch := []*hrgate.WebhookResult{r}
			// Take what has finished meanwhile, and give attempts
			// finishing right now a millisecond to join: a commit saved
			// is worth more than the delay.
			linger := time.NewTimer(time.Millisecond)
		drain:
			for len(batch) < 256 {
				select {
				case r, ok := <-results:
					if !ok {
						break drain
					}
					batch = append(batch, r)
				case <-linger.C:
					break drain
				}
			}
			linger.Stop()
			w.record(bg, batch)
			release(len(batch))
		}
	}()
	defer func() {
		attempts.Wait()
		close(results)
		<-recorded
	}()

	// Claims are made in batches too: once half the slots are free, or
	// when nothing is in flight.
	threshold := max(1, w.cfg.Workers/2)
	fan, held := true, false
	for ctx.Err() == nil {
		if fan {
			fan, held = w.fanOutWaiting(ctx)
		}
		wait := w.cfg.PollInterval
		if held {
			wait = min(wait, heldRetry)
		}
		free := w.cfg.Workers - len(slots)
		if free >= threshold || free == w.cfg.Workers {
			claims, err := w.store.ClaimWebhookDeliveries(ctx, w.now(), w.lease, free, w.owner)
			if err != nil && ctx.Err() == nil {
				w.log.Error("webhooks: claiming deliveries failed", "err", err)
			}
			for _, c := range claims {
				slots <- struct{}{}
				attempts.Add(1)
				go func() {
					defer attempts.Done()
					if r := w.try(bg, c); r != nil {
						results <- r
					} else {
						release(1)
					}
				}()
			}
			if len(claims) < free {
				// Nothing more is due now: sleep until the next retry.
				if next, err := w.store.NextWebhookAttempt(ctx); err == nil && !next.IsZero() {
					wait = min(wait, max(next.Sub(w.now()), 5*time.Millisecond))
				}
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-signal:
			fan = true
		case <-done:
		case <-timer.C:
			fan = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// RunOnce fans out every event waiting and makes every attempt due now,
// one after another, and returns how many attempts it made (skipped
// deliveries included). Tests with an injected clock drive the worker
// through it.
//
// On PostgreSQL a change event is fanned out only once every transaction
// older than the one that wrote it has ended, anywhere on the server:
// RunOnce waits for that, as long as ctx allows.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	for {
		if err := w.fanOutAll(ctx); err != nil {
			return 0, err
		}
		n, err := w.store.WebhookBacklog(ctx, 1)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	n := 0
	for {
		claims, err := w.store.ClaimWebhookDeliveries(ctx, w.now(), w.lease, w.cfg.Workers, w.owner)
		if err != nil || len(claims) == 0 {
			return n, err
		}
		for _, c := range claims {
			if r := w.try(ctx, c); r != nil {
				w.record(ctx, []*hrgate.WebhookResult{r})
			}
			n++
		}
	}
}

// fanOutWaiting fans out the change events waiting, if any. more reports
// whether more may be waiting, to fan out again at once; held, that
// committed events are held back by an older transaction elsewhere on the
// server (PostgreSQL), to look again soon rather than at the next poll.
//
// It asks first whether anything waits: that is one indexed read, while a
// fan-out round lists every endpoint and takes the writer (on SQLite, the
// database's only one, with BEGIN IMMEDIATE), which an idle server would
// otherwise do every poll interval. The backlog counts every event after
// the cursor, the held ones included, so none that a fan-out could read
// is passed over.
func (w *Worker) fanOutWaiting(ctx context.Context) (more, held bool) {
	if n, err := w.store.WebhookBacklog(ctx, 1); err == nil && n == 0 {
		return false, false
	}
	// A failed check falls through: the fan-out reports the error.
	if w.fanOut(ctx) {
		return true, false
	}
	n, err := w.store.WebhookBacklog(ctx, 1)
	return false, err == nil && n > 0
}

// fanOut turns the outbox events waiting into deliveries, logging a
// failure: the next round tries again from the same cursor. It reports
// whether more may be waiting.
func (w *Worker) fanOut(ctx context.Context) bool {
	for range 20 {
		m, err := w.newMatcher(ctx)
		var n int
		if err == nil {
			n, err = w.store.FanOutWebhooks(ctx, fanOutBatch, w.now(), w.newID, m.match)
		}
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("webhooks: fanning out change events failed", "err", err)
			}
			return false
		}
		if n < fanOutBatch {
			return false
		}
	}
	return true
}

func (w *Worker) fanOutAll(ctx context.Context) error {
	for {
		m, err := w.newMatcher(ctx)
		if err != nil {
			return err
		}
		n, err := w.store.FanOutWebhooks(ctx, fanOutBatch, w.now(), w.newID, m.match)
		if err != nil || n < fanOutBatch {
			return err
		}
	}
}

// matcher decides which endpoints receive an event, for one fan-out
// transaction: it reads the endpoints and grants once.
type matcher struct {
	w         *Worker
	endpoints []*hrgate.WebhookEndpoint
	// companies caches, per consumer and company, whether the grant
	// covers the company.
	companies map[[2]string]bool
}

func (w *Worker) newMatcher(ctx context.Context) (*matcher, error) {
	all, err := w.store.ListWebhookEndpoints(ctx, "")
	if err != nil {
		return nil, err
	}
	m := &matcher{w: w, companies: map[[2]string]bool{}}
	for _, e := range all {
		if e.Enabled() {
			m.endpoints = append(m.endpoints, e)
		}
	}
	return m, nil
}

// match returns the enabled endpoints that subscribe to ev's type, were
// created before it, and whose consumer's grant covers its company, the
// employee object and, for an update, one of the changed groups.
func (m *matcher) match(ctx context.Context, ev *hrgate.ChangeEvent) ([]string, error) {
	var out []string
	for _, e := range m.endpoints {
		if !e.Subscribes(ev.Type) || ev.Time.Before(e.CreatedAt) {
			continue
		}
		p, err := m.w.principal(ctx, e.ConsumerID)
		if err != nil {
			return nil, err
		}
		if p == nil || !eventVisible(ev.Type, ev.Groups, p.Grant) {
			continue
		}
		key := [2]string{e.ConsumerID, ev.CompanyID}
		sees, ok := m.companies[key]
		if !ok {
			if sees, err = gate.NewReader(m.w.store, p).SeesCompany(ctx, ev.CompanyID); err != nil {
				return nil, err
			}
			m.companies[key] = sees
		}
		if sees {
			out = append(out, e.ID)
		}
	}
	return out, nil
}

// principal returns the principal of a consumer's deliveries, nil when
// the consumer is gone, reading its grant at most CacheTTL ago.
func (w *Worker) principal(ctx context.Context, consumerID string) (*gate.Principal, error) {
	now := time.Now()
	if p, ok := w.consumers.get(consumerID, now); ok {
		return p, nil
	}
	cons, err := w.store.FindConsumer(ctx, consumerID)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := gate.ConsumerPrincipal(cons)
	if err != nil {
		return nil, err
	}
	w.consumers.put(consumerID, p, now)
	return p, nil
}

// signingKeys returns the keys in force for an endpoint, newest first,
// reading them at most CacheTTL ago.
func (w *Worker) signingKeys(ctx context.Context, endpointID string, at time.Time) ([][]byte, error) {
	now := time.Now()
	if keys, ok := w.keys.get(endpointID, now); ok {
		return keys, nil
	}
	ss, err := w.store.WebhookSecrets(ctx, endpointID, at)
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(ss))
	for i, s := range ss {
		keys[i] = s.Key
	}
	w.keys.put(endpointID, keys, now)
	return keys, nil
}

// try makes one attempt at a claimed delivery and returns its outcome to
// record. A failure of hrgate's own (the database) is logged and returns
// nil: nothing is recorded, the lease runs out and the delivery is claimed
// again.
func (w *Worker) try(ctx context.Context, c *hrgate.WebhookClaim) *hrgate.WebhookResult {
	d, e := c.Delivery, c.Endpoint
	p, err := w.principal(ctx, e.ConsumerID)
	var body []byte
	if err == nil && p != nil {
		body, err = buildPayload(ctx, w.store, p, d, e.Mode)
	}
	if refusedForGood(err) {
		// The consumer's grant or the read refuses the payload for a
		// reason no retry changes (a stored grant that does not parse, a
		// read the gate forbids or finds invalid): the delivery is
		// skipped, as one the grant no longer lets through is, rather
		// than claimed again every time its lease runs out.
		w.log.Warn("webhooks: a delivery's payload cannot be read for its consumer; skipped",
			"delivery_id", d.ID, "endpoint_id", e.ID, "err", err)
		err, body = nil, nil
	}
	var keys [][]byte
	if err == nil && body != nil {
		keys, err = w.signingKeys(ctx, e.ID, w.now())
		if err == nil && len(keys) == 0 {
			err = fmt.Errorf("endpoint %s has no signing key in force", e.ID)
		}
	}
	if err != nil {
		w.log.Error("webhooks: preparing a delivery failed; it is retried when its lease runs out",
			"delivery_id", d.ID, "endpoint_id", e.ID, "err", err)
		return nil
	}
	if body == nil {
		return &hrgate.WebhookResult{Claim: c, Outcome: &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: w.now()}, Status: hrgate.DeliverySkipped}}
	}
	return &hrgate.WebhookResult{Claim: c, Outcome: w.send(ctx, e, d, body, keys)}
}

// refusedForGood reports whether err refuses a payload for good: a
// caller's error (invalid, forbidden, not found) rather than hrgate's own
// (the database unavailable), which a later attempt may not meet.
func refusedForGood(err error) bool {
	switch hrgate.ErrorCode(err) {
	case hrgate.EINVALID, hrgate.EFORBIDDEN, hrgate.ENOTFOUND:
		return true
	}
	return false
}

// send posts the signed body and returns the outcome: success on a 2xx
// within the timeout; otherwise a retry by the schedule, failure when it
// has run out, or at once on 410 Gone, which also disables the endpoint,
// as does failing for DisableAfter.
func (w *Worker) send(ctx context.Context, e *hrgate.WebhookEndpoint, d *hrgate.WebhookDelivery, body []byte, keys [][]byte) *hrgate.WebhookOutcome {
	at := w.now()
	o := &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{DeliveryID: d.ID, Number: d.Attempts + 1, At: at}}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "hrgate-webhooks/1")
		stdwebhook.SetHeaders(req.Header, keys, d.ID, at, body)
		var resp *http.Response
		start := time.Now()
		resp, err = w.cfg.Client.Do(req)
		if err == nil {
			// Read a bounded part so the connection can be reused;
			// nothing of it is kept.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
			_ = resp.Body.Close()
			o.Attempt.StatusCode = resp.StatusCode
		}
		o.Attempt.Latency = time.Since(start)
	}
	switch {
	case err != nil:
		o.Attempt.ErrorClass = ErrorClass(err)
	case o.Attempt.StatusCode >= 200 && o.Attempt.StatusCode < 300:
		o.Status = hrgate.DeliverySucceeded
		return o
	default:
		o.Attempt.ErrorClass = "status"
	}
	n := o.Attempt.Number
	switch {
	case o.Attempt.StatusCode == http.StatusGone:
		o.Status, o.Disable = hrgate.DeliveryFailed, "the endpoint answered 410 Gone"
	case n > len(w.cfg.Schedule):
		o.Status = hrgate.DeliveryFailed
	default:
		o.Status, o.NextAttempt = hrgate.DeliveryPending, at.Add(w.cfg.Jitter(w.cfg.Schedule[n-1]))
	}
	since := e.FailingSince
	if since.IsZero() {
		since = at
	}
	if o.Disable == "" && at.Sub(since) >= w.cfg.DisableAfter {
		o.Disable = fmt.Sprintf("every attempt failed since %s (webhooks.disable_after %s)",
			since.Format(time.RFC3339), hrgate.FormatDuration(w.cfg.DisableAfter))
	}
	return o
}

// record writes the outcomes, and records the endpoints they disable.
func (w *Worker) record(ctx context.Context, rs []*hrgate.WebhookResult) {
	if err := w.store.FinishWebhookAttempts(ctx, rs); err != nil {
		w.log.Error("webhooks: recording attempts failed; their deliveries are retried when their leases run out",
			"attempts", len(rs), "err", err)
		return
	}
	disabled := map[string]bool{}
	for _, r := range rs {
		c, o := r.Claim, r.Outcome
		log := w.log.With("delivery_id", c.Delivery.ID, "endpoint_id", c.Endpoint.ID, "event_id", c.Delivery.EventID)
		if r.Err != nil {
			log.Warn("webhooks: an attempt's lease ran out before its outcome was recorded; another worker retries it", "err", r.Err)
			continue
		}
		if o.Attempt.ErrorClass != "" {
			log.Warn("webhooks: delivery attempt failed", "attempt", o.Attempt.Number, "status_code", o.Attempt.StatusCode,
				"error_class", o.Attempt.ErrorClass, "status", o.Status)
		}
		if o.Disable == "" || !c.Endpoint.Enabled() || disabled[c.Endpoint.ID] {
			continue
		}
		disabled[c.Endpoint.ID] = true
		log.Warn("webhooks: endpoint disabled", "reason", o.Disable)
		after := *c.Endpoint
		after.DisabledAt, after.DisabledReason = o.Attempt.At, o.Disable
		sys := hrgate.WithActor(ctx, hrgate.Actor{Kind: hrgate.ActorSystem, Name: "webhooks"})
		_ = record(sys, w.cfg.Audit, log, hrgate.AuditWebhookUpdated, c.Endpoint.ID, c.Endpoint.ConsumerID, attrsOf(c.Endpoint), attrsOf(&after))
	}
}

package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
	"github.com/hrgate/hrgate/webhooks"
)

// clock is a test clock near the real time: the official Standard
// Webhooks library checks webhook-timestamp against the real clock, with
// five minutes of tolerance, so tests move it by seconds and minutes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a store with a company, a CSV source and consumers, with the
// sources and webhooks services on it.
type env struct {
	db    *sqlstore.DB
	dsn   string
	clock *clock
	gate  *gate.Gate
	src   *sources.Service
	svc   *webhooks.Service
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
	c := newClock()
	co := &hrgate.Company{ID: "com_0000000000000000000000acme", Slug: "acme", Name: "Acme", Country: "DE", CreatedAt: c.Now(), ModifiedAt: c.Now()}
	if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{co}}); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, dsn: dsn, clock: c, gate: gate.New(db, gate.WithClock(c.Now))}
	e.src = sources.New(db, sources.WithClock(c.Now))
	if _, _, err := e.src.Create(ctx, "people", "acme", hrgate.SourceCSV); err != nil {
		t.Fatal(err)
	}
	e.svc = webhooks.New(db, webhooks.WithClock(c.Now), webhooks.WithRotationOverlap(time.Minute), webhooks.WithAllowedNetworks(loopback))
	return e
}

// forEachDB runs fn on a fresh environment per database.
func forEachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { fn(t, newEnv(t, storetest.DSNs()[name](t))) })
	}
}

func (e *env) consumer(t *testing.T, name, scopes string) {
	t.Helper()
	if _, err := e.gate.CreateConsumer(context.Background(), name, "", []string{scopes}); err != nil {
		t.Fatal(err)
	}
}

// endpoint creates an endpoint for consumer at url and returns it and its
// secret.
func (e *env) endpoint(t *testing.T, consumer, url string, thin bool, events ...string) (*hrgate.WebhookEndpoint, string) {
	t.Helper()
	mode := hrgate.WebhookFull
	if thin {
		mode = hrgate.WebhookThin
	}
	if len(events) == 0 {
		events = []string{hrgate.ChangeEmployeeCreated, hrgate.ChangeEmployeeUpdated, hrgate.ChangeEmployeeTerminated}
	}
	ep, secret, err := e.svc.Create(context.Background(), webhooks.EndpointRequest{Consumer: consumer, URL: url, EventTypes: events, AllowHTTP: true, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return ep, secret
}

func (e *env) importCSV(t *testing.T, text string) {
	t.Helper()
	run, err := e.src.ImportCSV(context.Background(), "people", strings.NewReader(text), sources.ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v (%+v)", err, run)
	}
}

// worker returns a worker on the environment's store and clock, with no
// jitter, the given schedule, and a plain client (the receivers listen on
// loopback).
func (e *env) worker(t *testing.T, cfg webhooks.WorkerConfig) *webhooks.Worker {
	t.Helper()
	return e.workerOn(t, e.db, cfg)
}

// workerOn is worker on another store over the environment's.
func (e *env) workerOn(t *testing.T, store webhooks.Store, cfg webhooks.WorkerConfig) *webhooks.Worker {
	t.Helper()
	if cfg.Client == nil {
		// The real delivery transport, its guard opened to the
		// loopback receivers of the tests only.
		cfg.Client = webhooks.NewClient(webhooks.TransportConfig{AllowedNetworks: loopback})
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = -1 // grants and keys take effect at once
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration { return d }
	}
	w, err := webhooks.NewWorker(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runInBackground runs w until the test ends, and waits for it then.
func runInBackground(t *testing.T, w *webhooks.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// awaitMessage waits up to 10 s for r's first message, and fails with
// failure when none comes.
func awaitMessage(t *testing.T, r *receiver, failure string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runOnce(t *testing.T, w *webhooks.Worker) int {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// message is one delivery a receiver took in, verified.
type message struct {
	ID   string
	Body map[string]any
	Raw  string
	Sig  string
	TS   string
}

// receiver is an HTTP server on loopback that verifies every request with
// the official Standard Webhooks library and the secrets it is given, and
// answers with the status respond returns (200 by default).
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	secrets  []string
	got      []message
	byID     map[string]int
	respond  func(n int) int
	inflight map[string]bool
}

// loopback is what the tests' webhooks.allowed_networks lists: their
// receivers listen on 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func newReceiver(t *testing.T, secrets ...string) *receiver {
	t.Helper()
	r := &receiver{t: t, secrets: secrets, byID: map[string]int{}, inflight: map[string]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hooks?token=t0ps3cret" }

func (r *receiver) setSecrets(secrets ...string) {
	r.mu.Lock()
	r.secrets = secrets
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("receiver: read body: %v", err)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	secrets, respond := r.secrets, r.respond
	if r.inflight[id] {
		r.t.Errorf("receiver: delivery %s arrived while an attempt at it was still in flight", id)
	}
	r.inflight[id] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inflight, id)
		r.mu.Unlock()
	}()
	verified := false
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			r.t.Errorf("receiver: secret: %v", err)
			return
		}
		if wh.Verify(body, req.Header) == nil {
			verified = true
			break
		}
	}
	if !verified {
		r.t.Errorf("receiver: delivery %s does not verify with the official library", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		r.t.Errorf("receiver: body is not JSON: %v", err)
	}
	r.mu.Lock()
	r.byID[id]++
	n := r.byID[id]
	r.got = append(r.got, message{ID: id, Body: m, Raw: string(body), Sig: req.Header.Get("webhook-signature"), TS: req.Header.Get("webhook-timestamp")})
	r.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(n)
	}
	w.WriteHeader(status)
}

// setRespond sets what the receiver answers from now on; nil is 200.
func (r *receiver) setRespond(respond func(n int) int) {
	r.mu.Lock()
	r.respond = respond
	r.mu.Unlock()
}

// retryAfterNarrowing makes the first attempt at what change writes fail
// at r (503), sets consumer's grant to scopes, and makes the retry once
// its wait has passed. It returns how many messages r received from the
// change on after the first attempt and after the retry: 1 and 1 when the
// narrowed grant skipped the retry.
func (e *env) retryAfterNarrowing(t *testing.T, w *webhooks.Worker, r *receiver, change func(), consumer, scopes string) (first, retried int) {
	t.Helper()
	return e.retryAfter(t, w, r, change, func() {
		if _, err := e.gate.SetGrant(context.Background(), consumer, []string{scopes}); err != nil {
			t.Fatal(err)
		}
	})
}

// retryAfter is retryAfterNarrowing with between, not a grant change, run
// between the failed attempt and the retry.
func (e *env) retryAfter(t *testing.T, w *webhooks.Worker, r *receiver, change, between func()) (first, retried int) {
	t.Helper()
	r.setRespond(func(int) int { return 503 })
	before := len(r.messages())
	e.clock.Add(time.Second)
	change()
	runOnce(t, w)
	first = len(r.messages()) - before
	between()
	r.setRespond(nil)
	e.clock.Add(5 * time.Second)
	runOnce(t, w)
	return first, len(r.messages()) - before
}

func (r *receiver) messages() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.got...)
}

// ofType returns the messages of the given event type.
func (r *receiver) ofType(typ string) []message {
	var out []message
	for _, m := range r.messages() {
		if m.Body["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

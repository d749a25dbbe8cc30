package webhooks_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
	"github.com/hrgate/hrgate/webhooks"
)

const people = `remote_id,first_name,last_name,job_title,employment_status,pay_rate,pay_period,pay_currency,pay_frequency
r1,Ada,Lovelace,Engineer,active,98765.43,year,EUR,monthly
r2,Grace,Hopper,Admiral,active,87654.32,year,USD,monthly
r3,Alan,Turing,Scientist,active,76543.21,year,GBP,monthly
`

// raise changes only the compensation of r1.
const raise = `remote_id,pay_rate,pay_period,pay_currency,pay_frequency
r1,123456.78,year,EUR,monthly
`

// TestGrantProjection: a consumer without compensation never receives a
// salary field and no event at all for a compensation-only change; one
// with it receives both; a thin endpoint receives ids only. Every
// delivery verifies with the official library.
func TestGrantProjection(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		e.consumer(t, "payroll", "employees:read:identity,employment,compensation companies:*")
		e.consumer(t, "directory", "employees:read:identity companies:acme")
		e.consumer(t, "other-company", "employees:read:identity,compensation companies:globex")
		pr, dr, tr, or := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
		_, ps := e.endpoint(t, "payroll", pr.URL(), false)
		_, ds := e.endpoint(t, "directory", dr.URL(), false)
		_, ts := e.endpoint(t, "payroll", tr.URL(), true)
		_, os := e.endpoint(t, "other-company", or.URL(), false)
		pr.setSecrets(ps)
		dr.setSecrets(ds)
		tr.setSecrets(ts)
		or.setSecrets(os)
		w := e.worker(t, webhooks.WorkerConfig{})

		e.importCSV(t, people)
		if n := runOnce(t, w); n != 9 {
			t.Fatalf("%d attempts, want 9 (3 employees to 3 endpoints)", n)
		}
		if got := len(pr.ofType(hrgate.ChangeEmployeeCreated)); got != 3 {
			t.Fatalf("payroll got %d employee.created, want 3", got)
		}
		for _, m := range pr.messages() {
			data := m.Body["data"].(map[string]any)
			comp, ok := data["compensation"].(map[string]any)
			if !ok || comp["pay_rate"] == nil || data["job_title"] == nil {
				t.Errorf("payroll's payload lacks granted fields: %s", m.Raw)
			}
			if _, leaked := data["bank_account"]; leaked {
				t.Errorf("payroll's payload carries a group outside its grant: %s", m.Raw)
			}
			if !strings.HasPrefix(m.Body["id"].(string), "evt_") || !strings.HasPrefix(m.ID, "msg_") {
				t.Errorf("ids: body %v, webhook-id %s", m.Body["id"], m.ID)
			}
		}
		for _, m := range dr.messages() {
			for _, salary := range []string{"compensation", "pay_rate", "98765", "87654", "76543", "job_title"} {
				if strings.Contains(m.Raw, salary) {
					t.Errorf("directory's payload carries %q: %s", salary, m.Raw)
				}
			}
		}
		if got := len(dr.messages()); got != 3 {
			t.Fatalf("directory got %d deliveries, want 3", got)
		}
		for _, m := range tr.messages() {
			data := m.Body["data"].(map[string]any)
			if len(data) != 2 || data["id"] == nil || data["company_id"] == nil {
				t.Errorf("thin payload = %s", m.Raw)
			}
		}
		if got := len(or.messages()); got != 0 {
			t.Fatalf("a consumer of another company got %d deliveries", got)
		}

		// A compensation-only change reaches payroll, not directory.
		e.clock.Add(time.Second)
		e.importCSV(t, raise)
		runOnce(t, w)
		up := pr.ofType(hrgate.ChangeEmployeeUpdated)
		if len(up) != 1 || !strings.Contains(up[0].Raw, "123456.78") || !strings.Contains(up[0].Raw, `"changed_groups":["compensation"]`) {
			t.Fatalf("payroll's updates: %+v", up)
		}
		if got := len(dr.messages()); got != 3 {
			t.Fatalf("directory got %d deliveries after a compensation-only change, want still 3", got)
		}

		t.Run("NarrowedGrantSkips", func(t *testing.T) {
			// Fanned out while payroll could read compensation, retried
			// after its grant lost it: nothing more is sent.
			ctx := context.Background()
			first, retried := e.retryAfterNarrowing(t, w, pr, func() { e.importCSV(t, strings.Replace(raise, "123456.78", "130000", 1)) },
				"payroll", "employees:read:identity companies:*")
			if first != 1 || retried != 1 {
				t.Fatalf("payroll got %d deliveries of the change, then %d after its grant lost compensation; want 1 and still 1", first, retried)
			}
			ds, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{Status: hrgate.DeliverySkipped})
			if err != nil || len(ds) != 1 || ds[0].Attempts != 1 {
				t.Fatalf("skipped deliveries = %d, %v; want the one retried", len(ds), err)
			}
		})
	})
}

// TestRetriesKeepTheWebhookID: a receiver failing three times then
// succeeding gets the same webhook-id each time, on the schedule.
func TestRetriesKeepTheWebhookID(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		r.respond = func(n int) int {
			if n <= 3 {
				return 503
			}
			return 204
		}
		ep, s := e.endpoint(t, "payroll", r.URL(), false, hrgate.ChangeEmployeeCreated)
		r.setSecrets(s)
		schedule := []time.Duration{5 * time.Second, 30 * time.Second, time.Minute, time.Minute}
		w := e.worker(t, webhooks.WorkerConfig{Schedule: schedule})
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")

		for i, wait := range []time.Duration{0, 5 * time.Second, 30 * time.Second, time.Minute} {
			if i > 0 {
				// Just before the retry is due nothing happens.
				e.clock.Add(wait - time.Millisecond)
				if n := runOnce(t, w); n != 0 {
					t.Fatalf("attempt %d made %s early", i+1, time.Millisecond)
				}
				e.clock.Add(time.Millisecond)
			}
			if n := runOnce(t, w); n != 1 {
				t.Fatalf("attempt %d: %d attempts made", i+1, n)
			}
		}
		ms := r.messages()
		if len(ms) != 4 {
			t.Fatalf("%d attempts received, want 4", len(ms))
		}
		for _, m := range ms {
			if m.ID != ms[0].ID {
				t.Fatalf("webhook-id changed across retries: %s then %s", ms[0].ID, m.ID)
			}
		}
		d, attempts, err := e.svc.Delivery(ctx, ms[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != hrgate.DeliverySucceeded || len(attempts) != 4 || attempts[0].StatusCode != 503 || attempts[0].ErrorClass != "status" ||
			attempts[3].StatusCode != 204 || attempts[3].ErrorClass != "" {
			t.Fatalf("delivery %+v, attempts %+v", d, attempts)
		}
		got, _ := e.svc.Endpoint(ctx, ep.ID)
		if !got.Enabled() || !got.FailingSince.IsZero() {
			t.Fatalf("after a success the endpoint is %+v", got)
		}
	})
}

// TestScheduleExhausted: when the schedule runs out the delivery fails,
// and the endpoint stays enabled.
func TestScheduleExhausted(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		r.respond = func(int) int { return 500 }
		ep, s := e.endpoint(t, "payroll", r.URL(), false)
		r.setSecrets(s)
		w := e.worker(t, webhooks.WorkerConfig{Schedule: []time.Duration{time.Second, 2 * time.Second}})
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		for range 5 {
			runOnce(t, w)
			e.clock.Add(2 * time.Second)
		}
		if len(r.messages()) != 3 {
			t.Fatalf("%d attempts, want 3 (one and two retries)", len(r.messages()))
		}
		ds, _ := e.svc.Deliveries(context.Background(), hrgate.DeliveryFilter{EndpointID: ep.ID})
		if len(ds) != 1 || ds[0].Status != hrgate.DeliveryFailed || ds[0].Attempts != 3 || ds[0].LastStatus != 500 {
			t.Fatalf("deliveries = %+v", ds[0])
		}
	})
}

// TestGoneDisables: 410 Gone fails the delivery at once and disables the
// endpoint, which then receives nothing more until enabled.
func TestGoneDisables(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		r.respond = func(int) int { return 410 }
		ep, s := e.endpoint(t, "payroll", r.URL(), false)
		r.setSecrets(s)
		w := e.worker(t, webhooks.WorkerConfig{})
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		runOnce(t, w)
		got, _ := e.svc.Endpoint(ctx, ep.ID)
		if got.Enabled() || !strings.Contains(got.DisabledReason, "410") {
			t.Fatalf("after 410 the endpoint is %+v", got)
		}
		e.clock.Add(time.Minute)
		e.importCSV(t, "remote_id,first_name,last_name\nr2,Grace,Hopper\n")
		runOnce(t, w)
		if len(r.messages()) != 1 {
			t.Fatalf("a disabled endpoint received %d deliveries", len(r.messages())-1)
		}
		// Events are fanned out to enabled endpoints only: enabled
		// again, it receives the changes made from then on.
		r.respond = nil
		if _, err := e.svc.Enable(ctx, ep.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		e.importCSV(t, "remote_id,first_name,last_name\nr3,Alan,Turing\n")
		runOnce(t, w)
		if len(r.messages()) != 2 {
			t.Fatalf("after enabling, %d deliveries, want 2", len(r.messages()))
		}
	})
}

// TestPersistentFailureDisables: an endpoint whose attempts all fail for
// disable_after is disabled, with the reason recorded.
func TestPersistentFailureDisables(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		r.respond = func(int) int { return 502 }
		ep, s := e.endpoint(t, "payroll", r.URL(), false)
		r.setSecrets(s)
		w := e.worker(t, webhooks.WorkerConfig{Schedule: []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second,
			30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}, DisableAfter: 2 * time.Minute})
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		for i := 0; i < 4; i++ {
			runOnce(t, w)
			got, _ := e.svc.Endpoint(ctx, ep.ID)
			if !got.Enabled() {
				t.Fatalf("disabled after %d failing attempts over %v", i+1, time.Duration(i)*30*time.Second)
			}
			e.clock.Add(30 * time.Second)
		}
		runOnce(t, w) // two minutes after the first failure
		got, _ := e.svc.Endpoint(ctx, ep.ID)
		if got.Enabled() || !strings.Contains(got.DisabledReason, "every attempt failed since") {
			t.Fatalf("after two minutes of failures the endpoint is %+v", got)
		}
	})
}

// TestRotationSignsWithBoth: during the overlap every delivery carries
// two signatures, each verifiable by the official library with its own
// secret; after it, only the new secret's.
func TestRotationSignsWithBoth(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		ep, old := e.endpoint(t, "payroll", r.URL(), false)
		next, until, err := e.svc.RotateSecret(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if next == old || !strings.HasPrefix(next, "whsec_") || !until.Equal(e.clock.Now().Add(time.Minute)) {
			t.Fatalf("rotate = %q, %v", next, until)
		}
		r.setSecrets(next)
		w := e.worker(t, webhooks.WorkerConfig{})
		e.clock.Add(time.Second)
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		runOnce(t, w)
		ms := r.messages()
		if len(ms) != 1 || len(strings.Fields(ms[0].Sig)) != 2 {
			t.Fatalf("during the overlap: %d messages, signature %q", len(ms), ms[0].Sig)
		}
		checkEachSignature(t, ms[0], old, next)

		e.clock.Add(time.Minute)
		e.importCSV(t, "remote_id,first_name,last_name\nr2,Grace,Hopper\n")
		runOnce(t, w)
		ms = r.messages()
		if len(ms) != 2 || len(strings.Fields(ms[1].Sig)) != 1 {
			t.Fatalf("after the overlap: signature %q", ms[len(ms)-1].Sig)
		}
	})
}

// checkEachSignature verifies m with each secret alone, with the
// official library, on a header holding only that secret's signature.
func checkEachSignature(t *testing.T, m message, secrets ...string) {
	t.Helper()
	sigs := strings.Fields(m.Sig)
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		matched := 0
		for _, sig := range sigs {
			h := http.Header{}
			h.Set("webhook-id", m.ID)
			h.Set("webhook-timestamp", m.TS)
			h.Set("webhook-signature", sig)
			if wh.Verify([]byte(m.Raw), h) == nil {
				matched++
			}
		}
		if matched != 1 {
			t.Errorf("%d of the signatures verify with one of the secrets, want exactly 1", matched)
		}
	}
}

// TestWorkerWakesOnCommit: with polling practically off, a change
// committed in the process reaches the receiver at once.
func TestWorkerWakesOnCommit(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		_, s := e.endpoint(t, "payroll", r.URL(), false)
		r.setSecrets(s)
		w := e.worker(t, webhooks.WorkerConfig{PollInterval: time.Hour, Now: time.Now})
		runInBackground(t, w)
		// Let the worker reach its wait before the change commits.
		time.Sleep(100 * time.Millisecond)
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		awaitMessage(t, r, "the worker did not wake on a committed change")
	})
}

// TestTwoWorkersNeverOverlap runs two workers, on two handles of the same
// database, delivering 200 events: each is delivered exactly once and no
// delivery is ever in flight twice (the receiver checks).
func TestTwoWorkersNeverOverlap(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dsn := storetest.DSNs()[name](t)
			e := newEnv(t, dsn)
			e.consumer(t, "payroll", "employees:read:identity companies:*")
			r := newReceiver(t)
			_, s := e.endpoint(t, "payroll", r.URL(), false, hrgate.ChangeEmployeeCreated)
			r.setSecrets(s)
			var rows strings.Builder
			rows.WriteString("remote_id,first_name,last_name\n")
			for i := range 200 {
				rows.WriteString("r" + strconv.Itoa(i) + ",A,B\n")
			}
			e.importCSV(t, rows.String())
			other := storetest.OpenWith(t, dsn, storetest.Keyring(t, storetest.KeysDSN(dsn)), sqlstore.Options{})
			w1 := e.worker(t, webhooks.WorkerConfig{Now: time.Now, Workers: 8})
			w2, err := webhooks.NewWorker(other, webhooks.WorkerConfig{Client: &http.Client{}, Workers: 8})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, w := range []*webhooks.Worker{w1, w2} {
				wg.Add(1)
				go func() { defer wg.Done(); w.Run(ctx) }()
			}
			deadline := time.Now().Add(time.Minute)
			for len(r.messages()) < 200 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			cancel()
			wg.Wait()
			if len(r.messages()) != 200 || len(r.byID) != 200 {
				t.Fatalf("%d messages for %d webhook-ids, want 200 each", len(r.messages()), len(r.byID))
			}
		})
	}
}

// countingStore counts the worker's fan-out rounds and backlog checks.
type countingStore struct {
	webhooks.Store
	fanOuts, checks atomic.Int64
	// checked is closed at the checks-th backlog check.
	at      int64
	checked chan struct{}
}

func (s *countingStore) FanOutWebhooks(ctx context.Context, limit int, now time.Time, newID func() (string, error), match hrgate.WebhookFanout) (int, error) {
	s.fanOuts.Add(1)
	return s.Store.FanOutWebhooks(ctx, limit, now, newID, match)
}

func (s *countingStore) WebhookBacklog(ctx context.Context, limit int) (int, error) {
	if s.checks.Add(1) == s.at {
		close(s.checked)
	}
	return s.Store.WebhookBacklog(ctx, limit)
}

// TestIdleWorkerLeavesTheWriter: a worker polling an outbox with nothing
// new opens no fan-out transaction (on SQLite it would take the one
// writer every poll), and still fans out what a commit brings.
func TestIdleWorkerLeavesTheWriter(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		_, s := e.endpoint(t, "payroll", r.URL(), false)
		r.setSecrets(s)
		cs := &countingStore{Store: e.db, at: 20, checked: make(chan struct{})}
		w := e.workerOn(t, cs, webhooks.WorkerConfig{PollInterval: time.Millisecond, Now: time.Now})
		runInBackground(t, w)
		<-cs.checked // twenty polls of an empty outbox
		if n := cs.fanOuts.Load(); n != 0 {
			t.Fatalf("%d fan-out rounds over an outbox with nothing new, want 0", n)
		}
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
		awaitMessage(t, r, "the worker did not fan out a committed change")
		if n := cs.fanOuts.Load(); n == 0 {
			t.Fatal("a change was delivered without a fan-out round")
		}
	})
}

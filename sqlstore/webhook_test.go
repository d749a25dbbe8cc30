package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// webhookFixture is a store with a company, a consumer, a CSV source and
// one endpoint.
type webhookFixture struct {
	db       *sqlstore.DB
	g        *ids
	company  *hrgate.Company
	src      *hrgate.Source
	consumer *hrgate.Consumer
	endpoint *hrgate.WebhookEndpoint
	key      []byte
}

func newWebhookFixture(t *testing.T, db *sqlstore.DB) *webhookFixture {
	t.Helper()
	ctx := context.Background()
	f := &webhookFixture{db: db, g: newIDs(77)}
	f.company = newCompany(t, f.g, "acme", false)
	mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{f.company}})
	f.src = &hrgate.Source{ID: f.g.new(t, hrgate.PrefixSource), CompanyID: f.company.ID, Name: "csv", Type: hrgate.SourceCSV, CreatedAt: ts(1)}
	if err := db.CreateSource(ctx, f.src, nil); err != nil {
		t.Fatal(err)
	}
	f.consumer = &hrgate.Consumer{ID: f.g.new(t, hrgate.PrefixConsumer), Name: "payroll", Scopes: []string{"employees:read:identity", "companies:*"},
		CreatedAt: ts(1), ModifiedAt: ts(1)}
	if err := db.CreateConsumer(ctx, f.consumer); err != nil {
		t.Fatal(err)
	}
	f.endpoint, f.key = f.newEndpoint(t)
	return f
}

func (f *webhookFixture) newEndpoint(t *testing.T) (*hrgate.WebhookEndpoint, []byte) {
	t.Helper()
	e := &hrgate.WebhookEndpoint{ID: f.g.new(t, hrgate.PrefixWebhookEndpoint), ConsumerID: f.consumer.ID, URL: "https://hooks.example.com/hr",
		EventTypes: []string{hrgate.ChangeEmployeeCreated, hrgate.ChangeEmployeeUpdated}, Mode: hrgate.WebhookFull,
		CreatedAt: ts(2), ModifiedAt: ts(2)}
	key, _, err := hrgate.GenerateWebhookSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateWebhookEndpoint(context.Background(), e, &hrgate.WebhookSecret{ID: f.g.new(t, hrgate.PrefixWebhookSecret), Key: key, CreatedAt: ts(2)}); err != nil {
		t.Fatal(err)
	}
	return e, key
}

// appendEvents commits n change events through the sync store.
func (f *webhookFixture) appendEvents(t *testing.T, n int) []*hrgate.ChangeEvent {
	t.Helper()
	evs := make([]*hrgate.ChangeEvent, n)
	for i := range evs {
		evs[i] = &hrgate.ChangeEvent{ID: f.g.new(t, hrgate.PrefixChangeEvent), Type: hrgate.ChangeEmployeeCreated, CompanyID: f.company.ID,
			EmployeeID: f.g.new(t, hrgate.PrefixEmployee), SourceID: f.src.ID, Groups: []string{"identity"}, Time: ts(10 + i)}
	}
	if err := f.db.Sync(context.Background(), f.src, func(tx hrgate.SyncTx) error { return tx.AppendChanges(context.Background(), evs) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

func (f *webhookFixture) newMsgID() (string, error) {
	return hrgate.NewID(hrgate.PrefixWebhookMessage, rand.Reader)
}

// fanOutAll fans out every event to every endpoint given.
func (f *webhookFixture) fanOutAll(t *testing.T, endpoints ...string) int {
	t.Helper()
	total := 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		n, err := f.db.FanOutWebhooks(context.Background(), 100, ts(100), f.newMsgID, func(context.Context, *hrgate.ChangeEvent) ([]string, error) {
			return endpoints, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n == 0 {
			// On PostgreSQL an event waits until every older
			// transaction on the server has ended, other tests' too.
			if left, err := f.db.WebhookBacklog(context.Background(), 1); err != nil {
				t.Fatal(err)
			} else if left == 0 {
				return total
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatal("change events are still waiting to be fanned out after a minute")
	return 0
}

func TestWebhookEndpoints(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		got, err := db.FindWebhookEndpoint(ctx, f.endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.URL != f.endpoint.URL || !slices.Equal(got.EventTypes, f.endpoint.EventTypes) || got.Mode != hrgate.WebhookFull ||
			!got.Enabled() || !got.CreatedAt.Equal(ts(2)) || got.AllowHTTP {
			t.Errorf("FindWebhookEndpoint = %+v", got)
		}
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.FindWebhookEndpoint(ctx, "whe_missing")
			wantCode(t, err, hrgate.ENOTFOUND)
			wantCode(t, db.DeleteWebhookEndpoint(ctx, "whe_missing"), hrgate.ENOTFOUND)
			wantCode(t, db.SetWebhookEndpointState(ctx, "whe_missing", ts(3), "x"), hrgate.ENOTFOUND)
		})
		t.Run("ErrInvalidConsumer", func(t *testing.T) {
			e := *f.endpoint
			e.ID, e.ConsumerID = f.g.new(t, hrgate.PrefixWebhookEndpoint), "con_missing"
			wantCode(t, db.CreateWebhookEndpoint(ctx, &e, &hrgate.WebhookSecret{ID: f.g.new(t, hrgate.PrefixWebhookSecret), Key: f.key, CreatedAt: ts(2)}), hrgate.EINVALID)
		})
		t.Run("DisableEnable", func(t *testing.T) {
			if err := db.SetWebhookEndpointState(ctx, f.endpoint.ID, ts(5), "operator"); err != nil {
				t.Fatal(err)
			}
			got, _ := db.FindWebhookEndpoint(ctx, f.endpoint.ID)
			if got.Enabled() || got.DisabledReason != "operator" || !got.DisabledAt.Equal(ts(5)) {
				t.Errorf("disabled = %+v", got)
			}
			if err := db.SetWebhookEndpointState(ctx, f.endpoint.ID, time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
			got, _ = db.FindWebhookEndpoint(ctx, f.endpoint.ID)
			if !got.Enabled() || got.DisabledReason != "" {
				t.Errorf("enabled = %+v", got)
			}
		})
		t.Run("Rotation", func(t *testing.T) {
			keys, err := db.WebhookSecrets(ctx, f.endpoint.ID, ts(3))
			if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Key, f.key) {
				t.Fatalf("WebhookSecrets = %v, %v", keys, err)
			}
			next, _, _ := hrgate.GenerateWebhookSecret(rand.Reader)
			if err := db.RotateWebhookSecret(ctx, f.endpoint.ID, &hrgate.WebhookSecret{ID: f.g.new(t, hrgate.PrefixWebhookSecret), Key: next, CreatedAt: ts(10)}, ts(20)); err != nil {
				t.Fatal(err)
			}
			keys, _ = db.WebhookSecrets(ctx, f.endpoint.ID, ts(15))
			if len(keys) != 2 || !bytes.Equal(keys[0].Key, next) || !bytes.Equal(keys[1].Key, f.key) {
				t.Fatalf("during the overlap: %d keys", len(keys))
			}
			keys, _ = db.WebhookSecrets(ctx, f.endpoint.ID, ts(20))
			if len(keys) != 1 || !bytes.Equal(keys[0].Key, next) {
				t.Fatalf("after the overlap: %d keys", len(keys))
			}
			// A second rotation after the overlap drops the expired key.
			third, _, _ := hrgate.GenerateWebhookSecret(rand.Reader)
			if err := db.RotateWebhookSecret(ctx, f.endpoint.ID, &hrgate.WebhookSecret{ID: f.g.new(t, hrgate.PrefixWebhookSecret), Key: third, CreatedAt: ts(30)}, ts(40)); err != nil {
				t.Fatal(err)
			}
			keys, _ = db.WebhookSecrets(ctx, f.endpoint.ID, ts(0))
			if len(keys) != 2 {
				t.Fatalf("after the second rotation the store holds %d keys, want 2", len(keys))
			}
			wantCode(t, db.RotateWebhookSecret(ctx, "whe_missing", &hrgate.WebhookSecret{ID: f.g.new(t, hrgate.PrefixWebhookSecret), Key: third, CreatedAt: ts(30)}, ts(40)), hrgate.ENOTFOUND)
		})
		t.Run("List", func(t *testing.T) {
			all, err := db.ListWebhookEndpoints(ctx, "")
			if err != nil || len(all) != 1 {
				t.Fatalf("ListWebhookEndpoints = %v, %v", all, err)
			}
			none, err := db.ListWebhookEndpoints(ctx, "con_other")
			if err != nil || len(none) != 0 {
				t.Fatalf("ListWebhookEndpoints(other) = %v, %v", none, err)
			}
		})
		t.Run("Delete", func(t *testing.T) {
			e, _ := f.newEndpoint(t)
			if err := db.DeleteWebhookEndpoint(ctx, e.ID); err != nil {
				t.Fatal(err)
			}
			keys, err := db.WebhookSecrets(ctx, e.ID, ts(0))
			if err != nil || len(keys) != 0 {
				t.Fatalf("keys of a deleted endpoint: %v, %v", keys, err)
			}
		})
	})
}

func TestWebhookDeliveries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		evs := f.appendEvents(t, 5)
		select {
		case <-db.WebhookSignal():
		default:
			t.Fatal("a committed sync did not signal the webhook worker")
		}
		if n := f.fanOutAll(t, f.endpoint.ID); n != 5 {
			t.Fatalf("fanned out %d events, want 5", n)
		}
		if n := f.fanOutAll(t, f.endpoint.ID); n != 0 {
			t.Fatalf("a second fan-out read %d events, want 0", n)
		}
		ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{EndpointID: f.endpoint.ID, Limit: 100})
		if err != nil || len(ds) != 5 {
			t.Fatalf("WebhookDeliveries = %d, %v", len(ds), err)
		}

		claims, err := db.ClaimWebhookDeliveries(ctx, ts(100), time.Minute, 3, "w1")
		if err != nil || len(claims) != 3 {
			t.Fatalf("claim = %d, %v", len(claims), err)
		}
		if claims[0].Endpoint == nil || claims[0].Endpoint.ID != f.endpoint.ID {
			t.Fatalf("claim without its endpoint: %+v", claims[0])
		}
		// The leased ones are not claimed again until the lease ends.
		more, err := db.ClaimWebhookDeliveries(ctx, ts(100), time.Minute, 10, "w2")
		if err != nil || len(more) != 2 {
			t.Fatalf("second claim = %d, %v", len(more), err)
		}
		again, err := db.ClaimWebhookDeliveries(ctx, ts(100+59), time.Minute, 10, "w3")
		if err != nil || len(again) != 0 {
			t.Fatalf("claim within the lease = %d, %v", len(again), err)
		}

		c := claims[0]
		fail := &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(101), StatusCode: 500, Latency: 12 * time.Millisecond, ErrorClass: "status"},
			Status: hrgate.DeliveryPending, NextAttempt: ts(106)}
		if err := db.FinishWebhookAttemptForTest(ctx, c, fail); err != nil {
			t.Fatal(err)
		}
		t.Run("ErrConflictLeaseLost", func(t *testing.T) {
			wantCode(t, db.FinishWebhookAttemptForTest(ctx, c, fail), hrgate.ECONFLICT)
		})
		e, _ := db.FindWebhookEndpoint(ctx, f.endpoint.ID)
		if !e.FailingSince.Equal(ts(101)) {
			t.Errorf("failing since %v, want %v", e.FailingSince, ts(101))
		}
		next, err := db.NextWebhookAttempt(ctx)
		if err != nil || !next.Equal(ts(106)) {
			t.Errorf("NextWebhookAttempt = %v, %v; want %v", next, err, ts(106))
		}
		retry, err := db.ClaimWebhookDeliveries(ctx, ts(106), time.Minute, 10, "w4")
		if err != nil || len(retry) != 1 || retry[0].Delivery.ID != c.Delivery.ID || retry[0].Delivery.Attempts != 1 {
			t.Fatalf("retry claim = %v, %v", retry, err)
		}
		ok := &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(107), StatusCode: 204, Latency: 3 * time.Millisecond},
			Status: hrgate.DeliverySucceeded}
		if err := db.FinishWebhookAttemptForTest(ctx, retry[0], ok); err != nil {
			t.Fatal(err)
		}
		d, attempts, err := db.FindWebhookDelivery(ctx, c.Delivery.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != hrgate.DeliverySucceeded || d.Attempts != 2 || d.LastStatus != 204 || !d.FinishedAt.Equal(ts(107)) {
			t.Errorf("delivery = %+v", d)
		}
		if len(attempts) != 2 || attempts[0].StatusCode != 500 || attempts[0].ErrorClass != "status" || attempts[0].Latency != 12*time.Millisecond ||
			attempts[1].Number != 2 || attempts[1].StatusCode != 204 {
			t.Errorf("attempts = %+v", attempts)
		}
		e, _ = db.FindWebhookEndpoint(ctx, f.endpoint.ID)
		if !e.FailingSince.IsZero() {
			t.Errorf("a success left failing_since %v", e.FailingSince)
		}

		t.Run("Disable", func(t *testing.T) {
			gone := &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(108), StatusCode: 410, ErrorClass: "status"},
				Status: hrgate.DeliveryFailed, Disable: "410 Gone"}
			if err := db.FinishWebhookAttemptForTest(ctx, claims[1], gone); err != nil {
				t.Fatal(err)
			}
			e, _ := db.FindWebhookEndpoint(ctx, f.endpoint.ID)
			if e.Enabled() || e.DisabledReason != "410 Gone" {
				t.Fatalf("endpoint = %+v", e)
			}
			// Nothing of a disabled endpoint is claimed.
			if cs, err := db.ClaimWebhookDeliveries(ctx, ts(1000), time.Minute, 10, "w5"); err != nil || len(cs) != 0 {
				t.Fatalf("claimed %d deliveries of a disabled endpoint (%v)", len(cs), err)
			}
			if err := db.SetWebhookEndpointState(ctx, f.endpoint.ID, time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("Replay", func(t *testing.T) {
			rs, err := db.ReplayWebhookDeliveries(ctx, evs[0].ID, time.Time{}, "", ts(200), f.newMsgID)
			if err != nil || len(rs) != 1 {
				t.Fatalf("replay = %v, %v", rs, err)
			}
			orig, _ := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{EventID: evs[0].ID, Limit: 10})
			if len(orig) != 2 || rs[0].ReplayOf == "" || rs[0].ID == rs[0].ReplayOf || rs[0].Status != hrgate.DeliveryPending {
				t.Fatalf("after a replay the event has %d deliveries: %+v", len(orig), rs[0])
			}
			since, err := db.ReplayWebhookDeliveries(ctx, "", ts(12), f.endpoint.ID, ts(200), f.newMsgID)
			if err != nil || len(since) != 3 {
				t.Fatalf("replay --since = %d, %v; want 3 (events 2 to 4)", len(since), err)
			}
			_, err = db.ReplayWebhookDeliveries(ctx, "", time.Time{}, "", ts(200), f.newMsgID)
			wantCode(t, err, hrgate.EINVALID)
		})
		t.Run("Skipped", func(t *testing.T) {
			cs, err := db.ClaimWebhookDeliveries(ctx, ts(300), time.Minute, 1, "w6")
			if err != nil || len(cs) != 1 {
				t.Fatalf("claim = %v, %v", cs, err)
			}
			if err := db.FinishWebhookAttemptForTest(ctx, cs[0], &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(301)}, Status: hrgate.DeliverySkipped}); err != nil {
				t.Fatal(err)
			}
			d, as, err := db.FindWebhookDelivery(ctx, cs[0].Delivery.ID)
			if err != nil || d.Status != hrgate.DeliverySkipped || len(as) != 0 || d.Attempts != cs[0].Delivery.Attempts {
				t.Fatalf("skipped = %+v, %d attempts, %v", d, len(as), err)
			}
		})
		t.Run("ErrInvalidFilter", func(t *testing.T) {
			_, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{Status: "lost", Limit: 1})
			wantCode(t, err, hrgate.EINVALID)
		})
	})
}

// TestWebhookDeliveryTimeOffID: a time-off event's request id is copied
// from the outbox into its delivery, and from there into what a claim,
// a listing and a replay return, so that the payload can be read without
// the outbox; an employee event's delivery has none.
func TestWebhookDeliveryTimeOffID(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		employee := f.appendEvents(t, 1)[0]
		timeOff := &hrgate.ChangeEvent{ID: f.g.new(t, hrgate.PrefixChangeEvent), Type: hrgate.ChangeTimeOffCancelled, CompanyID: f.company.ID,
			EmployeeID: employee.EmployeeID, SourceID: f.src.ID, TimeOffID: f.g.new(t, hrgate.PrefixTimeOff), Time: ts(20)}
		if err := db.Sync(ctx, f.src, func(tx hrgate.SyncTx) error { return tx.AppendChanges(ctx, []*hrgate.ChangeEvent{timeOff}) }); err != nil {
			t.Fatal(err)
		}
		if n := f.fanOutAll(t, f.endpoint.ID); n != 2 {
			t.Fatalf("fanned out %d events, want 2", n)
		}
		want := map[string]string{employee.ID: "", timeOff.ID: timeOff.TimeOffID}
		check := func(what string, d *hrgate.WebhookDelivery) {
			t.Helper()
			if w, ok := want[d.EventID]; !ok || d.TimeOffID != w {
				t.Errorf("%s: delivery of %s (%s) has time_off_id %q, want %q", what, d.EventID, d.EventType, d.TimeOffID, w)
			}
		}
		claims, err := db.ClaimWebhookDeliveries(ctx, ts(100), time.Minute, 10, "w1")
		if err != nil || len(claims) != 2 {
			t.Fatalf("claim = %d, %v", len(claims), err)
		}
		for _, c := range claims {
			check("claim", c.Delivery)
		}
		ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{Limit: 10})
		if err != nil || len(ds) != 2 {
			t.Fatalf("WebhookDeliveries = %d, %v", len(ds), err)
		}
		for _, d := range ds {
			check("list", d)
		}
		rs, err := db.ReplayWebhookDeliveries(ctx, timeOff.ID, time.Time{}, "", ts(200), f.newMsgID)
		if err != nil || len(rs) != 1 {
			t.Fatalf("replay = %v, %v", rs, err)
		}
		check("replay", rs[0])
		d, _, err := db.FindWebhookDelivery(ctx, rs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		check("stored replay", d)
	})
}

// TestWebhookFanOutConcurrentImports commits events from concurrent sync
// transactions while fan-outs run, and checks that every event is fanned
// out exactly once: on PostgreSQL, seq order is not commit order, and a
// cursor on seq alone would skip the events of a transaction that took
// its seq early and committed late.
func TestWebhookFanOutConcurrentImports(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		const writers, perWriter = 4, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		started := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-started
				for i := range perWriter {
					ev := &hrgate.ChangeEvent{ID: fmt.Sprintf("evt_w%d_%d", w, i), Type: hrgate.ChangeEmployeeCreated, CompanyID: f.company.ID,
						EmployeeID: fmt.Sprintf("emp_w%d_%d", w, i), Time: ts(i)}
					err := db.Sync(ctx, f.src, func(tx hrgate.SyncTx) error {
						if err := tx.AppendChanges(ctx, []*hrgate.ChangeEvent{ev}); err != nil {
							return err
						}
						// Hold the transaction a moment so that others
						// take later seqs and commit first.
						if i%3 == w%3 {
							time.Sleep(2 * time.Millisecond)
						}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		seen := map[string]int{}
		var mu sync.Mutex
		match := func(_ context.Context, ev *hrgate.ChangeEvent) ([]string, error) {
			mu.Lock()
			seen[ev.ID]++
			mu.Unlock()
			return []string{f.endpoint.ID}, nil
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		close(started)
		fan := func() {
			if _, err := db.FanOutWebhooks(ctx, 7, ts(100), f.newMsgID, match); err != nil {
				t.Error(err)
			}
		}
	loop:
		for {
			select {
			case <-done:
				break loop
			default:
				fan()
			}
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); ; {
			fan()
			if left, err := db.WebhookBacklog(ctx, 1); err != nil {
				t.Fatal(err)
			} else if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("change events are still waiting to be fanned out after a minute")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(seen) != writers*perWriter {
			t.Fatalf("fanned out %d distinct events, want %d", len(seen), writers*perWriter)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s fanned out %d times", id, n)
			}
		}
		ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{Limit: 1000})
		if err != nil || len(ds) != writers*perWriter {
			t.Fatalf("%d deliveries (%v), want %d", len(ds), err, writers*perWriter)
		}
	})
}

// TestWebhookClaimSkipLocked runs claimers on several connections at once
// and checks that no delivery is leased to two of them.
func TestWebhookClaimSkipLocked(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		f := newWebhookFixture(t, db)
		f.appendEvents(t, 200)
		f.fanOutAll(t, f.endpoint.ID)
		// A second store on the same database stands for another
		// instance.
		other := MustOpenDB(t, dsn)
		var (
			mu    sync.Mutex
			owner = map[string]string{}
			wg    sync.WaitGroup
		)
		for w := range 8 {
			store := db
			if w%2 == 1 {
				store = other
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("w%d", w)
				for {
					cs, err := store.ClaimWebhookDeliveries(ctx, ts(100), time.Hour, 5, name)
					if err != nil {
						t.Error(err)
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						if prev, dup := owner[c.Delivery.ID]; dup {
							t.Errorf("delivery %s claimed by %s and %s", c.Delivery.ID, prev, name)
						}
						owner[c.Delivery.ID] = name
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(owner) != 200 {
			t.Fatalf("%d deliveries claimed, want 200", len(owner))
		}
	})
}

// TestNextWebhookAttempt: the earliest time a claim can find a delivery
// is its due time, or its lease's end when that is later; deliveries of
// disabled endpoints and finished ones do not count. Each case is checked
// against the reading of every pending delivery that the index walk
// replaced.
func TestNextWebhookAttempt(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		other, _ := f.newEndpoint(t)
		check := func(t *testing.T, want time.Time) {
			t.Helper()
			got, err := db.NextWebhookAttempt(ctx)
			if err != nil || !got.Equal(want) {
				t.Fatalf("NextWebhookAttempt = %v, %v; want %v", got, err, want)
			}
			every, err := db.QueryIntForTest(ctx, `SELECT COALESCE(MIN(CASE WHEN d.lease_until IS NOT NULL AND d.lease_until > d.next_attempt_at `+
				`THEN d.lease_until ELSE d.next_attempt_at END), 0) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id `+
				`WHERE d.status = 'pending' AND e.disabled_at IS NULL`)
			if err != nil {
				t.Fatal(err)
			}
			if (every == 0) != want.IsZero() || (every != 0 && int64(every) != want.UnixMicro()) {
				t.Fatalf("reading every pending delivery gives %d, want %v", every, want)
			}
		}
		t.Run("Empty", func(t *testing.T) { check(t, time.Time{}) })

		f.appendEvents(t, 5)
		if n := f.fanOutAll(t, f.endpoint.ID); n != 5 {
			t.Fatalf("fanned out %d events, want 5", n)
		}
		ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{EndpointID: f.endpoint.ID, Limit: 10})
		if err != nil || len(ds) != 5 {
			t.Fatalf("WebhookDeliveries = %d, %v", len(ds), err)
		}
		// set gives delivery i (0 to 4) its due time and lease end, in
		// seconds of ts; lease 0 is none.
		set := func(t *testing.T, i, due, lease int) {
			t.Helper()
			until := any(nil)
			if lease != 0 {
				until = ts(lease).UnixMicro()
			}
			if err := db.ExecForTest(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?, lease_until = ?, lease_owner = ? WHERE id = ?`,
				ts(due).UnixMicro(), until, map[bool]string{true: "w1"}[lease != 0], ds[i].ID); err != nil {
				t.Fatal(err)
			}
		}
		for i := range ds {
			set(t, i, 101+i, 0)
		}
		t.Run("Due", func(t *testing.T) { check(t, ts(101)) })
		t.Run("LeaseEndsFirst", func(t *testing.T) {
			// 0 is in flight until 102, before 2, the first not in
			// flight, falls due at 103; 1 is in flight until 200.
			set(t, 0, 101, 102)
			set(t, 1, 102, 200)
			check(t, ts(102))
		})
		t.Run("LeaseOfALaterDelivery", func(t *testing.T) {
			set(t, 0, 101, 0)
			set(t, 1, 102, 0)
			set(t, 4, 105, 150)
			check(t, ts(101))
		})
		t.Run("AllInFlight", func(t *testing.T) {
			for i := range ds {
				set(t, i, 101+i, 310-i)
			}
			check(t, ts(306))
		})
		t.Run("LeaseRanOut", func(t *testing.T) {
			// A lease that ended before the delivery's due time (a
			// clock that went back) leaves the due time in force.
			set(t, 3, 90, 80)
			check(t, ts(90))
		})
		t.Run("FinishedAndDisabled", func(t *testing.T) {
			if err := db.ExecForTest(ctx, `UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = ?`, ds[3].ID); err != nil {
				t.Fatal(err)
			}
			check(t, ts(306))
			if err := db.SetWebhookEndpointState(ctx, f.endpoint.ID, ts(400), "test"); err != nil {
				t.Fatal(err)
			}
			check(t, time.Time{})
			if err := db.ExecForTest(ctx, `UPDATE webhook_deliveries SET endpoint_id = ? WHERE id = ?`, other.ID, ds[4].ID); err != nil {
				t.Fatal(err)
			}
			check(t, ts(306))
		})
	})
}

// TestFanOutWebhooksInserts: a round inserts its deliveries in multi-row
// statements, one per event and endpoint matched; a delivery that already
// exists fails the round whole and leaves the cursor where it was.
func TestFanOutWebhooksInserts(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		other, _ := f.newEndpoint(t)
		evs := f.appendEvents(t, 300)
		if !t.Run("ErrConflict", func(t *testing.T) {
			twice := func(context.Context, *hrgate.ChangeEvent) ([]string, error) { return []string{other.ID, other.ID}, nil }
			var err error
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				// On PostgreSQL the events wait for older transactions
				// on the server to end; until then a round reads none.
				var n int
				if n, err = db.FanOutWebhooks(ctx, 500, ts(100), f.newMsgID, twice); err != nil || n > 0 {
					break
				}
			}
			wantCode(t, err, hrgate.ECONFLICT)
			if left, err := db.WebhookBacklog(ctx, 1000); err != nil || left != len(evs) {
				t.Fatalf("backlog after a failed round = %d, %v; want %d", left, err, len(evs))
			}
			if ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{Limit: 10}); err != nil || len(ds) != 0 {
				t.Fatalf("a failed round left %d deliveries (%v)", len(ds), err)
			}
		}) {
			return // the events are fanned out already
		}
		// One round of 600 deliveries: two full statements and a
		// shorter one.
		both := func(context.Context, *hrgate.ChangeEvent) ([]string, error) {
			return []string{f.endpoint.ID, other.ID}, nil
		}
		n := 0
		for deadline := time.Now().Add(time.Minute); n == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			var err error
			if n, err = db.FanOutWebhooks(ctx, 500, ts(100), f.newMsgID, both); err != nil {
				t.Fatal(err)
			}
		}
		if n != len(evs) {
			t.Fatalf("the round read %d events, want %d", n, len(evs))
		}
		for _, e := range []string{f.endpoint.ID, other.ID} {
			ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{EndpointID: e, Limit: 1000})
			if err != nil || len(ds) != len(evs) {
				t.Fatalf("deliveries to %s = %d, %v; want %d", e, len(ds), err, len(evs))
			}
			seen := map[string]bool{}
			for _, d := range ds {
				seen[d.EventID] = true
				if d.Status != hrgate.DeliveryPending || !d.NextAttempt.Equal(ts(100)) || d.ReplayOf != "" {
					t.Fatalf("delivery = %+v", d)
				}
			}
			for _, ev := range evs {
				if !seen[ev.ID] {
					t.Fatalf("event %s has no delivery to %s", ev.ID, e)
				}
			}
		}
	})
}

package webhooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/webhooks"
)

// TestRunPruning: the loop prunes as it starts, by the service's clock,
// and stops with its context. The delivered deliveries and the events the
// fan-out passed go once older than the retention; a delivery waiting for
// its retry stays with its attempt, and is still delivered, its event
// gone; an event not fanned out stays until age alone decides, which is
// what a deployment without the worker asks for.
func TestRunPruning(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.consumer(t, "payroll", "employees:read:identity companies:*")
		r := newReceiver(t)
		_, secret := e.endpoint(t, "payroll", r.URL(), false)
		r.setSecrets(secret)
		w := e.worker(t, webhooks.WorkerConfig{})

		e.importCSV(t, people)
		if n := runOnce(t, w); n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
		// A change whose delivery fails and waits for its retry.
		r.setRespond(func(int) int { return 503 })
		e.clock.Add(time.Minute)
		e.importCSV(t, "remote_id,first_name,last_name\nr1,Augusta,Lovelace\n")
		if n := runOnce(t, w); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
		retrying, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{Status: hrgate.DeliveryPending})
		if err != nil || len(retrying) != 1 {
			t.Fatalf("pending deliveries = %v, %v", retrying, err)
		}
		// A change the worker has not fanned out yet.
		e.importCSV(t, "remote_id,first_name,last_name\nr2,Grace,Brewster\n")
		if n := len(events(t, e)); n != 5 {
			t.Fatalf("%d change events, want 5", n)
		}

		e.clock.Add(2 * time.Hour)
		loopCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.svc.RunPruning(loopCtx, time.Hour, time.Hour, true)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ds, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) <= 1 && len(events(t, e)) <= 1 {
				if len(ds) != 1 || ds[0].ID != retrying[0].ID {
					t.Fatalf("kept deliveries %+v; want the pending one", ds)
				}
				break
			}
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("not pruned: %d deliveries, %d change events kept", len(ds), len(events(t, e)))
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		<-done
		if n := len(events(t, e)); n != 1 {
			t.Fatalf("%d change events kept; want the one not fanned out", n)
		}
		if _, as, err := e.svc.Delivery(ctx, retrying[0].ID); err != nil || len(as) != 1 {
			t.Fatalf("the pending delivery's attempts = %v, %v; want its one", as, err)
		}
		if evs := events(t, e); evs[0].EmployeeID == retrying[0].EmployeeID {
			t.Fatalf("kept the event of the delivery; want the one not fanned out")
		}
		// Replay reaches no further back than the retention.
		if ds, err := e.svc.Replay(ctx, "", e.clock.Now().Add(-24*time.Hour), ""); err != nil || len(ds) != 1 || ds[0].ReplayOf != retrying[0].ID {
			t.Fatalf("replay of the last day = %v, %v; want the pending delivery's event only", ds, err)
		}

		// Without the worker, age alone decides.
		if d, n, err := e.svc.Prune(ctx, time.Hour, false); err != nil || d != 0 || n != 1 {
			t.Fatalf("Prune without fan-out = %d deliveries, %d events, %v; want 0 and 1", d, n, err)
		}
		if _, _, err := e.svc.Prune(ctx, 0, true); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("Prune with no retention: %v; want EINVALID", err)
		}

		// The retry still goes out: a delivery keeps its copy of the
		// event. The receiver checks webhook-timestamp against the real
		// clock, so the test clock comes back first.
		e.clock.Add(-2 * time.Hour)
		r.setRespond(nil)
		e.clock.Add(5 * time.Second)
		runOnce(t, w)
		if d, _, err := e.svc.Delivery(ctx, retrying[0].ID); err != nil || d.Status != hrgate.DeliverySucceeded {
			t.Fatalf("retried delivery = %+v, %v; want succeeded", d, err)
		}
	})
}

// events returns the change events left in the outbox.
func events(t *testing.T, e *env) []*hrgate.ChangeEvent {
	t.Helper()
	evs, err := e.db.ChangeEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// appendEventsAt commits n change events of src written at ts(at),
// ts(at+1), … and returns them.
func (f *webhookFixture) appendEventsAt(t *testing.T, src *hrgate.Source, n, at int) []*hrgate.ChangeEvent {
	t.Helper()
	evs := make([]*hrgate.ChangeEvent, n)
	for i := range evs {
		evs[i] = &hrgate.ChangeEvent{ID: f.g.new(t, hrgate.PrefixChangeEvent), Type: hrgate.ChangeEmployeeCreated, CompanyID: f.company.ID,
			EmployeeID: f.g.new(t, hrgate.PrefixEmployee), SourceID: src.ID, Groups: []string{"identity"}, Time: ts(at + i)}
	}
	if err := f.db.Sync(context.Background(), src, func(tx hrgate.SyncTx) error { return tx.AppendChanges(context.Background(), evs) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

// eventIDs returns the ids of the events left in the outbox.
func eventIDs(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	evs, err := db.ChangeEvents(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	slices.Sort(out)
	return out
}

func eventIDsOf(evs ...[]*hrgate.ChangeEvent) []string {
	var out []string
	for _, e := range evs {
		for _, ev := range e {
			out = append(out, ev.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestPruneChangeEvents: the events written before the cut-off that the
// fan-out has passed go, however many (more than one statement's worth
// here); one written at the cut-off stays, and so do old ones the fan-out
// has not read yet, until it has. Without the fan-out (no worker), age
// alone decides, and the fan-out goes on with what is left.
func TestPruneChangeEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		cut := ts(1100)
		passed := f.appendEventsAt(t, f.src, 1105, 10) // ts(10) … ts(1114)
		f.fanOutAll(t, f.endpoint.ID)
		waiting := f.appendEventsAt(t, f.src, 10, 10) // old, not fanned out yet

		n, err := db.PruneChangeEvents(ctx, cut, true)
		if err != nil || n != 1090 {
			t.Fatalf("PruneChangeEvents = %d, %v; want 1090 (ts(10) to ts(1099))", n, err)
		}
		young := passed[1090:]
		if !young[0].Time.Equal(cut) {
			t.Fatalf("the first event kept is of %v; want the cut-off %v", young[0].Time, cut)
		}
		if got, want := eventIDs(t, db), eventIDsOf(young, waiting); !slices.Equal(got, want) {
			t.Fatalf("kept %d events; want the %d at or after the cut-off and the %d not fanned out", len(got), len(young), len(waiting))
		}
		if n, err := db.PruneChangeEvents(ctx, cut, true); err != nil || n != 0 {
			t.Fatalf("second PruneChangeEvents = %d, %v; want 0", n, err)
		}
		// The deliveries keep their copy of the event.
		if ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{EventID: passed[0].ID, Limit: 10}); err != nil || len(ds) != 1 ||
			ds[0].EmployeeID != passed[0].EmployeeID || !ds[0].EventTime.Equal(passed[0].Time) {
			t.Fatalf("delivery of a pruned event = %v, %v", ds, err)
		}

		if got := f.fanOutAll(t, f.endpoint.ID); got != len(waiting) {
			t.Fatalf("fanned out %d events after pruning; want the %d waiting", got, len(waiting))
		}
		if n, err := db.PruneChangeEvents(ctx, cut, true); err != nil || n != len(waiting) {
			t.Fatalf("PruneChangeEvents once fanned out = %d, %v; want %d", n, err, len(waiting))
		}

		t.Run("NoFanOut", func(t *testing.T) {
			unread := f.appendEventsAt(t, f.src, 3, 20)
			later := f.appendEventsAt(t, f.src, 2, 2000)
			if n, err := db.PruneChangeEvents(ctx, cut, true); err != nil || n != 0 {
				t.Fatalf("PruneChangeEvents behind the cursor = %d, %v; want 0", n, err)
			}
			if n, err := db.PruneChangeEvents(ctx, cut, false); err != nil || n != len(unread) {
				t.Fatalf("PruneChangeEvents by age = %d, %v; want %d", n, err, len(unread))
			}
			if got, want := eventIDs(t, db), eventIDsOf(young, later); !slices.Equal(got, want) {
				t.Fatalf("kept %v; want %v", got, want)
			}
			seen := 0
			for {
				n, err := db.FanOutWebhooks(ctx, 100, ts(2100), f.newMsgID, func(_ context.Context, ev *hrgate.ChangeEvent) ([]string, error) {
					if !slices.Contains(eventIDsOf(later), ev.ID) {
						t.Errorf("fanned out %s; want only the events written after the cut-off", ev.ID)
					}
					return nil, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				seen += n
				if left, err := db.WebhookBacklog(ctx, 1); err != nil {
					t.Fatal(err)
				} else if left == 0 {
					break
				}
				time.Sleep(10 * time.Millisecond) // PostgreSQL: older transactions on the server
			}
			if seen != len(later) {
				t.Fatalf("fanned out %d events; want %d", seen, len(later))
			}
		})
	})
}

// TestPruneChangeEventsTransactionOrder: on PostgreSQL the fan-out goes
// in (transaction id, seq) order, not seq order. An event with a lower
// seq than the cursor's, written by a later transaction, has not been
// passed, and stays.
func TestPruneChangeEventsTransactionOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		if !strings.HasSuffix(t.Name(), "/postgres") {
			t.Skip("SQLite serialises writers: seq order is commit order")
		}
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		other := &hrgate.Source{ID: f.g.new(t, hrgate.PrefixSource), CompanyID: f.company.ID, Name: "hris", Type: hrgate.SourceCSV, CreatedAt: ts(1)}
		if err := db.CreateSource(ctx, other, nil); err != nil {
			t.Fatal(err)
		}
		// The first transaction takes its id (locking its source), waits
		// for the second to commit its events, and then writes its own:
		// lower transaction id, higher seqs.
		first := make([]*hrgate.ChangeEvent, 3)
		for i := range first {
			first[i] = &hrgate.ChangeEvent{ID: f.g.new(t, hrgate.PrefixChangeEvent), Type: hrgate.ChangeEmployeeCreated, CompanyID: f.company.ID,
				EmployeeID: f.g.new(t, hrgate.PrefixEmployee), SourceID: f.src.ID, Time: ts(10)}
		}
		var second []*hrgate.ChangeEvent
		err := db.Sync(ctx, f.src, func(tx hrgate.SyncTx) error {
			second = f.appendEventsAt(t, other, 2, 10)
			return tx.AppendChanges(ctx, first)
		})
		if err != nil {
			t.Fatal(err)
		}
		for {
			n, err := db.FanOutWebhooks(ctx, len(first), ts(100), f.newMsgID, func(context.Context, *hrgate.ChangeEvent) ([]string, error) { return nil, nil })
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				if n != len(first) {
					t.Fatalf("fanned out %d events; want the first transaction's %d", n, len(first))
				}
				break
			}
			time.Sleep(10 * time.Millisecond) // older transactions on the server
		}
		n, err := db.PruneChangeEvents(ctx, ts(1000), true)
		if err != nil || n != len(first) {
			t.Fatalf("PruneChangeEvents = %d, %v; want the %d fanned out", n, err, len(first))
		}
		if got, want := eventIDs(t, db), eventIDsOf(second); !slices.Equal(got, want) {
			t.Fatalf("kept %v; want the second transaction's %v, not fanned out yet", got, want)
		}
	})
}

// TestPruneWebhookDeliveries: the deliveries that ended (succeeded,
// failed, skipped) before the cut-off go with their attempts, however many
// (more than one statement's worth here); one that ended at the cut-off
// stays, and so do pending ones however old, in flight or waiting for a
// retry, and an original while a replay of it stays. Replay still works
// for what is kept.
func TestPruneWebhookDeliveries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		f := newWebhookFixture(t, db)
		cut := ts(1000)
		evs := f.appendEvents(t, 1010)
		f.fanOutAll(t, f.endpoint.ID) // created at ts(100)
		claims, err := db.ClaimWebhookDeliveries(ctx, ts(100), time.Hour, 2000, "w1")
		if err != nil || len(claims) != len(evs) {
			t.Fatalf("claim = %d, %v", len(claims), err)
		}
		byEvent := map[string]*hrgate.WebhookClaim{}
		for _, c := range claims {
			byEvent[c.Delivery.EventID] = c
		}
		const (
			atCut     = 1005 // succeeded at the cut-off: kept
			justOld   = 1006 // succeeded just before it: pruned
			retrying  = 1007 // failed once, pending: kept
			inFlight  = 1008 // claimed, no outcome yet: kept
			replayed  = 1009 // ended long ago, its replay pending: kept
			replayOld = 1004 // ended long ago, its replay too: both pruned
		)
		var rs []*hrgate.WebhookResult
		for i, ev := range evs {
			o := &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(500 + i%7), StatusCode: 204}, Status: hrgate.DeliverySucceeded}
			switch {
			case i == inFlight:
				continue
			case i == atCut:
				o.Attempt.At = cut
			case i == justOld:
				o.Attempt.At = ts(999)
			case i == retrying:
				o = &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(500), StatusCode: 503, ErrorClass: "status"},
					Status: hrgate.DeliveryPending, NextAttempt: ts(5000)}
			case i%3 == 1:
				o = &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(500), StatusCode: 500, ErrorClass: "status"},
					Status: hrgate.DeliveryFailed}
			case i%3 == 2:
				o = &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(500)}, Status: hrgate.DeliverySkipped}
			}
			rs = append(rs, &hrgate.WebhookResult{Claim: byEvent[ev.ID], Outcome: o})
		}
		if err := db.FinishWebhookAttempts(ctx, rs); err != nil {
			t.Fatal(err)
		}
		// One replay that ended long ago, one still pending.
		if r, err := db.ReplayWebhookDeliveries(ctx, evs[replayOld].ID, time.Time{}, "", ts(600), f.newMsgID); err != nil || len(r) != 1 {
			t.Fatalf("replay = %v, %v", r, err)
		}
		rc, err := db.ClaimWebhookDeliveries(ctx, ts(600), time.Minute, 10, "w2")
		if err != nil || len(rc) != 1 || rc[0].Delivery.ReplayOf == "" {
			t.Fatalf("claim of the replay = %v, %v", rc, err)
		}
		if err := db.FinishWebhookAttemptForTest(ctx, rc[0], &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(800), StatusCode: 204},
			Status: hrgate.DeliverySucceeded}); err != nil {
			t.Fatal(err)
		}
		pendingReplay, err := db.ReplayWebhookDeliveries(ctx, evs[replayed].ID, time.Time{}, "", ts(700), f.newMsgID)
		if err != nil || len(pendingReplay) != 1 {
			t.Fatalf("replay = %v, %v", pendingReplay, err)
		}

		n, err := db.PruneWebhookDeliveries(ctx, cut)
		if want := 1005 + 1 + 1; err != nil || n != want {
			t.Fatalf("PruneWebhookDeliveries = %d, %v; want %d", n, err, want)
		}
		ds, err := db.WebhookDeliveries(ctx, hrgate.DeliveryFilter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, d := range ds {
			kept = append(kept, d.ID)
		}
		slices.Sort(kept)
		want := []string{pendingReplay[0].ID}
		for _, i := range []int{atCut, retrying, inFlight, replayed} {
			want = append(want, byEvent[evs[i].ID].Delivery.ID)
		}
		slices.Sort(want)
		if !slices.Equal(kept, want) {
			t.Fatalf("kept %v; want %v", kept, want)
		}
		// The attempts went with their deliveries: those left are of the
		// deliveries kept (at the cut-off, the retry, the replayed one).
		if n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM webhook_attempts`); err != nil || n != 3 {
			t.Fatalf("attempts left = %d, %v; want 3", n, err)
		}
		if _, as, err := db.FindWebhookDelivery(ctx, byEvent[evs[retrying].ID].Delivery.ID); err != nil || len(as) != 1 {
			t.Fatalf("attempts of the pending delivery = %v, %v; want its one", as, err)
		}
		if n, err := db.PruneWebhookDeliveries(ctx, cut); err != nil || n != 0 {
			t.Fatalf("second PruneWebhookDeliveries = %d, %v; want 0", n, err)
		}

		// Once the replay ends long enough ago, it and its original go.
		rc, err = db.ClaimWebhookDeliveries(ctx, ts(700), time.Minute, 10, "w3")
		if err != nil || len(rc) != 1 || rc[0].Delivery.ID != pendingReplay[0].ID {
			t.Fatalf("claim of the pending replay = %v, %v", rc, err)
		}
		if err := db.FinishWebhookAttemptForTest(ctx, rc[0], &hrgate.WebhookOutcome{Attempt: hrgate.WebhookAttempt{At: ts(900)}, Status: hrgate.DeliverySkipped}); err != nil {
			t.Fatal(err)
		}
		if n, err := db.PruneWebhookDeliveries(ctx, cut); err != nil || n != 2 {
			t.Fatalf("PruneWebhookDeliveries after the replay ended = %d, %v; want 2", n, err)
		}

		t.Run("Replay", func(t *testing.T) {
			r, err := db.ReplayWebhookDeliveries(ctx, evs[atCut].ID, time.Time{}, "", ts(1100), f.newMsgID)
			if err != nil || len(r) != 1 || r[0].EmployeeID != evs[atCut].EmployeeID {
				t.Fatalf("replay of an event within the retention = %v, %v", r, err)
			}
			if r, err := db.ReplayWebhookDeliveries(ctx, evs[0].ID, time.Time{}, "", ts(1100), f.newMsgID); err != nil || len(r) != 0 {
				t.Fatalf("replay of a pruned event = %v, %v; want nothing", r, err)
			}
		})
	})
}

package webhooks_test

import (
	"context"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
	"github.com/hrgate/hrgate/webhooks"
)

// failingReads is the store with every employee read failing with code.
type failingReads struct {
	*sqlstore.DB
	code string
}

func (s failingReads) FindEmployees(context.Context, hrgate.EmployeeFilter) ([]*hrgate.Employee, error) {
	return nil, hrgate.Errorf(s.code, "The read failed.")
}

// TestPayloadRefusedForGoodIsSkipped: a payload the gate refuses for a
// reason no retry changes (forbidden, invalid) skips the delivery at
// once, sending nothing; one hrgate cannot read for a reason of its own
// (the database unavailable) records nothing, so the delivery is tried
// again when its lease runs out.
func TestPayloadRefusedForGoodIsSkipped(t *testing.T) {
	for _, c := range []struct {
		code    string
		skipped bool
	}{{hrgate.EFORBIDDEN, true}, {hrgate.EINVALID, true}, {hrgate.EUNAVAILABLE, false}} {
		t.Run(c.code, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, e *env) {
				ctx := context.Background()
				e.consumer(t, "payroll", "employees:read:identity companies:*")
				r := newReceiver(t)
				_, secret := e.endpoint(t, "payroll", r.URL(), false, hrgate.ChangeEmployeeCreated)
				r.setSecrets(secret)
				e.importCSV(t, people)
				runOnce(t, e.workerOn(t, failingReads{e.db, c.code}, webhooks.WorkerConfig{}))
				if got := len(r.messages()); got != 0 {
					t.Fatalf("the receiver got %d deliveries of payloads that could not be read", got)
				}
				skipped, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{Status: hrgate.DeliverySkipped})
				if err != nil {
					t.Fatal(err)
				}
				all, err := e.svc.Deliveries(ctx, hrgate.DeliveryFilter{})
				if err != nil || len(all) == 0 {
					t.Fatalf("deliveries = %d, %v; want the import's", len(all), err)
				}
				want := 0
				if c.skipped {
					want = len(all)
				}
				if len(skipped) != want {
					t.Fatalf("skipped deliveries = %d of %d; want %d", len(skipped), len(all), want)
				}
			})
		})
	}
}

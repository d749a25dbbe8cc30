package gate_test

import (
	"context"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/sandbox"
)

// Reader.TimeOffRequest answers one request of the grant by id, and nil
// for an id that is malformed (an empty one would otherwise match every
// request), unknown, or of another kind.
func TestReaderTimeOffRequest(t *testing.T) {
	ctx := context.Background()
	g, db, _ := MustOpenGate(t)
	err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
		return sandbox.Generate(ctx, sandbox.Options{Companies: 1, Employees: 20, Seed: 3, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, put)
	})
	if err != nil {
		t.Fatal(err)
	}
	rd := gate.NewReader(db, mustPrincipal(t, g, "planner", "time_off:read companies:*"))
	all, err := rd.TimeOffRequests(ctx, hrgate.TimeOffFilter{Page: hrgate.Page{Limit: 10}})
	if err != nil || len(all) == 0 {
		t.Fatalf("the sandbox's time off: %d, %v", len(all), err)
	}
	want := all[len(all)-1]
	got, err := rd.TimeOffRequest(ctx, want.ID)
	if err != nil || got == nil || got.ID != want.ID || got.EmployeeID != want.EmployeeID {
		t.Fatalf("TimeOffRequest(%s) = %+v, %v", want.ID, got, err)
	}
	unknown, err := hrgate.NewID(hrgate.PrefixTimeOff, zeroes{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "tor_", want.EmployeeID, unknown} {
		if got, err := rd.TimeOffRequest(ctx, id); err != nil || got != nil {
			t.Errorf("TimeOffRequest(%q) = %+v, %v; want nothing", id, got, err)
		}
	}
}

// zeroes reads as endless zero bytes.
type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

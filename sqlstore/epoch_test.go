package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate/sqlstore"
)

// clock is a settable clock for the credential refresh.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCredentialEpochRefresh proves the promises of the in-memory
// credential epoch: a change made through the same store is visible at
// once; a change committed by another process (a second handle on the same
// database, as the CLI is) is visible as soon as the refresh interval has
// passed; and a clock that goes backwards never extends that interval.
func TestCredentialEpochRefresh(t *testing.T) {
	const refresh = 250 * time.Millisecond
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
		server, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, CredentialRefresh: refresh, Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = server.Close() })
		// The other handle reads the epoch on every call: it is the
		// reference for what the database holds.
		other, err := sqlstore.Open(ctx, dsn, sqlstore.Options{CredentialRefresh: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = other.Close() })
		epoch := func(db *sqlstore.DB) int64 {
			t.Helper()
			v, err := db.CredentialEpoch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		g := newIDs(7)
		// changeElsewhere commits a credential change through the other
		// handle, as `hrgate consumers delete` would.
		changeElsewhere := func(name string) {
			t.Helper()
			c := newConsumer(t, g, name)
			if err := other.CreateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := other.DeleteConsumer(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("LocalChangeIsImmediate", func(t *testing.T) {
			before := epoch(server)
			c := newConsumer(t, g, "payroll")
			if err := server.CreateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			c.Scopes = []string{"employees:read:identity", "companies:*"}
			if err := server.UpdateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got := epoch(server); got <= before {
				t.Fatalf("epoch after a local change = %d, want more than %d", got, before)
			}
		})

		t.Run("OtherProcessWithinTheInterval", func(t *testing.T) {
			clk.advance(refresh) // the next call reads the database
			before := epoch(server)
			changeElsewhere("elsewhere-1")
			clk.advance(refresh - time.Nanosecond)
			if got := epoch(server); got != before {
				t.Fatalf("epoch = %d before the interval passed; want the cached %d (is the cache bypassed?)", got, before)
			}
			clk.advance(time.Nanosecond)
			if got, want := epoch(server), epoch(other); got != want || got <= before {
				t.Fatalf("epoch = %d once the interval passed, want %d", got, want)
			}
		})

		t.Run("LocalChangeIncludesOtherProcesses", func(t *testing.T) {
			changeElsewhere("elsewhere-2")
			c := newConsumer(t, g, "local")
			if err := server.CreateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := server.DeleteConsumer(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if got, want := epoch(server), epoch(other); got != want {
				t.Fatalf("epoch after a local change = %d, want the database's %d", got, want)
			}
		})

		t.Run("ClockBackwards", func(t *testing.T) {
			clk.advance(refresh)
			before := epoch(server)
			changeElsewhere("elsewhere-3")
			clk.advance(-time.Second)
			if got := epoch(server); got <= before {
				t.Fatalf("epoch = %d after the clock went back, want more than %d", got, before)
			}
		})
	})
}

// TestCredentialEpochEveryCall checks that a negative refresh interval
// reads the database on every call, as before the cache existed.
func TestCredentialEpochEveryCall(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	server, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, CredentialRefresh: -1, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	other := MustOpenDB(t, dsn)
	before, err := server.CredentialEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, newIDs(8), "payroll")
	if err := other.CreateConsumer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteConsumer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := server.CredentialEpoch(ctx); err != nil || got <= before {
		t.Fatalf("epoch = %d, %v; want more than %d with the clock standing still", got, err, before)
	}
}

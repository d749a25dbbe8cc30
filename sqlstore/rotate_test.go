package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

func TestRotateAPIKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(31)
		c := newConsumer(t, g, "payroll")
		c.KeyRotation = hrgate.KeyRotation{MaxAge: 30 * 24 * time.Hour, Grace: 36 * time.Hour}
		if err := db.CreateConsumer(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, err := db.FindConsumer(ctx, c.ID); err != nil || got.KeyRotation != c.KeyRotation {
			t.Fatalf("rotation policy came back as %+v, %v", got, err)
		}
		newKey := func(expires time.Time) *hrgate.APIKey {
			id := g.new(t, hrgate.PrefixAPIKey)
			return &hrgate.APIKey{ID: id, ConsumerID: c.ID, Env: hrgate.KeyLive, Hash: []byte("hash-" + id),
				Scopes: []string{"companies:read"}, AllowCIDRs: []string{"10.0.0.0/8"}, CreatedAt: ts(1), ExpiresAt: expires}
		}
		old := newKey(ts(100))
		if err := db.CreateAPIKey(ctx, old); err != nil {
			t.Fatal(err)
		}
		epoch, _ := db.CredentialEpoch(ctx)

		// Two servers rotate the same key at once: one successor wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		nexts := make([]*hrgate.APIKey, 4)
		for i := range errs {
			nexts[i] = newKey(ts(200))
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.RotateAPIKey(ctx, old.ID, nexts[i], ts(50),
					&hrgate.KeyDelivery{KeyID: nexts[i].ID, Secret: "secret-" + nexts[i].ID, CreatedAt: ts(3)})
			}()
		}
		wg.Wait()
		var winner *hrgate.APIKey
		for i, err := range errs {
			switch hrgate.ErrorCode(err) {
			case "":
				if winner != nil {
					t.Fatal("two rotations of one key both succeeded")
				}
				winner = nexts[i]
			case hrgate.ECONFLICT:
				if _, err := db.FindAPIKey(ctx, nexts[i].ID); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
					t.Fatalf("a losing rotation left its key behind: %v", err)
				}
			default:
				t.Fatalf("rotation %d: %v", i, err)
			}
		}
		if winner == nil {
			t.Fatal("no rotation succeeded")
		}
		got, err := db.FindAPIKey(ctx, old.ID)
		if err != nil || got.ReplacedByID != winner.ID || !got.ExpiresAt.Equal(ts(50)) {
			t.Fatalf("old key after rotation %+v, %v", got, err)
		}
		if e, _ := db.CredentialEpoch(ctx); e <= epoch {
			t.Fatal("rotation did not bump the credential epoch")
		}

		// A grace period never extends a key beyond its own expiry.
		short := newKey(ts(10))
		if err := db.CreateAPIKey(ctx, short); err != nil {
			t.Fatal(err)
		}
		if err := db.RotateAPIKey(ctx, short.ID, newKey(ts(300)), ts(99), nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.FindAPIKey(ctx, short.ID); !got.ExpiresAt.Equal(ts(10)) {
			t.Fatalf("grace extended the key to %v", got.ExpiresAt)
		}

		wantCode(t, db.RotateAPIKey(ctx, g.new(t, hrgate.PrefixAPIKey), newKey(ts(1)), ts(1), nil), hrgate.ENOTFOUND)
		wantCode(t, db.RotateAPIKey(ctx, winner.ID, newKey(ts(1)), time.Time{}, nil), hrgate.EINVALID)

		// Deliveries: pending until taken, then gone; one per winner.
		pending, err := db.PendingKeyDeliveries(ctx)
		if err != nil || len(pending) != 1 || !pending[winner.ID] {
			t.Fatalf("pending %v, %v", pending, err)
		}
		ds, err := db.TakeKeyDeliveries(ctx, c.ID)
		if err != nil || len(ds) != 1 || ds[0].Secret != "secret-"+winner.ID || ds[0].ReplacesID != old.ID ||
			ds[0].ConsumerID != c.ID || !ds[0].CreatedAt.Equal(ts(3)) {
			t.Fatalf("deliveries %+v, %v", ds, err)
		}
		if ds, err := db.TakeKeyDeliveries(ctx, ""); err != nil || len(ds) != 0 {
			t.Fatalf("taken twice: %+v, %v", ds, err)
		}

		// Deleting the consumer deletes its queued secrets too.
		next := newKey(ts(400))
		if err := db.RotateAPIKey(ctx, winner.ID, next, ts(60), &hrgate.KeyDelivery{KeyID: next.ID, Secret: "s", CreatedAt: ts(4)}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteConsumer(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if pending, _ := db.PendingKeyDeliveries(ctx); len(pending) != 0 {
			t.Fatalf("deliveries outlived their consumer: %v", pending)
		}
	})
}

// Keys created before keys had to expire get the default maximum lifetime
// when the key lifecycle migration runs.
func TestMigrationGivesOldKeysAnExpiry(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := upgradedFrom(t, dsn, 1,
			seedRow{`INSERT INTO consumers (id, name, scopes, created_at, modified_at) VALUES ('con_1', 'payroll', '[]', 1, 1)`, nil},
			seedRow{`INSERT INTO api_keys (id, consumer_id, env, hash, created_at) VALUES ('key_old', 'con_1', 'live', ?, 1000000)`, []any{[]byte("h1")}},
			seedRow{`INSERT INTO api_keys (id, consumer_id, env, hash) VALUES ('key_undated', 'con_1', 'live', ?)`, []any{[]byte("h2")}},
			seedRow{`INSERT INTO api_keys (id, consumer_id, env, hash, created_at, expires_at) VALUES ('key_dated', 'con_1', 'live', ?, 5, 7)`, []any{[]byte("h3")}},
		)
		year := 365 * 24 * time.Hour
		k, err := db.FindAPIKey(ctx, "key_old")
		if err != nil || !k.ExpiresAt.Equal(time.UnixMicro(1000000).Add(year).UTC()) {
			t.Fatalf("old key expires at %v, %v", k.ExpiresAt, err)
		}
		k, err = db.FindAPIKey(ctx, "key_undated")
		if err != nil || k.ExpiresAt.Before(time.Now().Add(year-time.Hour)) || k.ExpiresAt.After(time.Now().Add(year+time.Hour)) {
			t.Fatalf("undated key expires at %v, %v", k.ExpiresAt, err)
		}
		k, err = db.FindAPIKey(ctx, "key_dated")
		if err != nil || !k.ExpiresAt.Equal(time.UnixMicro(7).UTC()) {
			t.Fatalf("a key's own expiry changed to %v, %v", k.ExpiresAt, err)
		}
	})
}

// A queued secret is handed to exactly one of several operators fetching
// at the same moment.
func TestTakeKeyDeliveriesOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(41)
		c := newConsumer(t, g, "payroll")
		if err := db.CreateConsumer(ctx, c); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			old := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive,
				Hash: []byte{byte(i), 1}, CreatedAt: ts(1), ExpiresAt: ts(100)}
			next := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive,
				Hash: []byte{byte(i), 2}, CreatedAt: ts(2), ExpiresAt: ts(200)}
			if err := db.CreateAPIKey(ctx, old); err != nil {
				t.Fatal(err)
			}
			if err := db.RotateAPIKey(ctx, old.ID, next, ts(50), &hrgate.KeyDelivery{KeyID: next.ID, Secret: "s" + next.ID, CreatedAt: ts(2)}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string]int{}
		for range 8 {
			wg.Go(func() {
				ds, err := db.TakeKeyDeliveries(ctx, "")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					got[d.KeyID]++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(got) != 3 {
			t.Fatalf("%d of 3 secrets handed out: %v", len(got), got)
		}
		for id, n := range got {
			if n != 1 {
				t.Fatalf("secret of %s handed out %d times", id, n)
			}
		}
	})
}

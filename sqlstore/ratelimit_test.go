package sqlstore_test

import (
	"context"
	"math"
	"reflect"
	"strconv"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// badLimits are limits the schema refuses, as limits.Limit.Validate does.
var badLimits = []struct {
	name  string
	limit hrgate.RateLimit
}{
	{"ErrNegativeRate", hrgate.RateLimit{Rate: -1}},
	{"ErrRateTooHigh", hrgate.RateLimit{Rate: 1e6 + 1, Burst: 1}},
	{"ErrNaNRate", hrgate.RateLimit{Rate: math.NaN()}},
	{"ErrRateBelowOneADay", hrgate.RateLimit{Rate: 1e-9}},
	{"ErrRateJustBelowOneADay", hrgate.RateLimit{Rate: math.Nextafter(hrgate.MinRate, 0), Burst: 1}},
	{"ErrBurstWithoutRate", hrgate.RateLimit{Burst: 10}},
	{"ErrNegativeBurst", hrgate.RateLimit{Rate: 1, Burst: -1}},
	{"ErrBurstTooHigh", hrgate.RateLimit{Rate: 1, Burst: 1_000_001}},
	{"ErrNegativeQuota", hrgate.RateLimit{Quota: -1}},
	{"ErrQuotaTooHigh", hrgate.RateLimit{Quota: 1e12 + 1}},
}

// Limits of consumers, keys and clients come back exactly as written,
// a rate of 50/m included (a float that only DOUBLE PRECISION keeps); a
// change of one bumps the credential epoch; a limit out of bounds is
// EINVALID and leaves the row and the epoch as they were.
func TestRateLimits(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(51)
		perMinute := hrgate.RateLimit{Rate: 50.0 / 60, Burst: 5, Quota: 20000}
		payroll := newConsumer(t, g, "payroll")
		payroll.RateLimit = hrgate.RateLimit{Rate: 200, Burst: 400, Quota: 1e12}
		if err := db.CreateConsumer(ctx, payroll); err != nil {
			t.Fatal(err)
		}
		key := &hrgate.APIKey{
			ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: payroll.ID, Env: hrgate.KeyLive,
			Hash: hrgate.HashAPIKey("limits"), CreatedAt: ts(3), ExpiresAt: ts(1000), RateLimit: perMinute,
		}
		if err := db.CreateAPIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		client := newClient(t, g, payroll.ID, 4)
		client.RateLimit = hrgate.RateLimit{Rate: 1e6, Burst: 1_000_000}
		if err := db.CreateClient(ctx, client); err != nil {
			t.Fatal(err)
		}

		readConsumer := func(t *testing.T) hrgate.RateLimit {
			t.Helper()
			c, err := db.FindConsumer(ctx, payroll.ID)
			if err != nil {
				t.Fatal(err)
			}
			return c.RateLimit
		}
		readKey := func(t *testing.T) hrgate.RateLimit {
			t.Helper()
			k, err := db.FindAPIKeyByHash(ctx, key.Hash)
			if err != nil {
				t.Fatal(err)
			}
			return k.RateLimit
		}
		readClient := func(t *testing.T) hrgate.RateLimit {
			t.Helper()
			c, err := db.FindClient(ctx, client.ID)
			if err != nil {
				t.Fatal(err)
			}
			return c.RateLimit
		}

		t.Run("RoundTrip", func(t *testing.T) {
			if got := readConsumer(t); got != payroll.RateLimit {
				t.Errorf("consumer limit = %+v, want %+v", got, payroll.RateLimit)
			}
			if got := readKey(t); got != perMinute {
				t.Errorf("key limit = %+v, want %+v", got, perMinute)
			}
			if got := readClient(t); got != client.RateLimit {
				t.Errorf("client limit = %+v, want %+v", got, client.RateLimit)
			}
			keys, err := db.ListAPIKeys(ctx, payroll.ID)
			if err != nil || len(keys) != 1 || keys[0].RateLimit != perMinute {
				t.Errorf("ListAPIKeys = %+v, %v", keys, err)
			}
			clients, err := db.ListClients(ctx, payroll.ID)
			if err != nil || len(clients) != 1 || clients[0].RateLimit != client.RateLimit {
				t.Errorf("ListClients = %+v, %v", clients, err)
			}
			consumers, err := db.ListConsumers(ctx)
			if err != nil || len(consumers) != 1 || consumers[0].RateLimit != payroll.RateLimit {
				t.Errorf("ListConsumers = %+v, %v", consumers, err)
			}
		})

		t.Run("SetBumpsEpoch", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				set  func(hrgate.RateLimit) error
				read func(*testing.T) hrgate.RateLimit
			}{
				{"Consumer", func(r hrgate.RateLimit) error { return db.SetConsumerRateLimit(ctx, payroll.ID, r, ts(9)) }, readConsumer},
				{"Key", func(r hrgate.RateLimit) error { return db.SetAPIKeyRateLimit(ctx, key.ID, r) }, readKey},
				{"Client", func(r hrgate.RateLimit) error { return db.SetClientRateLimit(ctx, client.ID, r) }, readClient},
			} {
				t.Run(tc.name, func(t *testing.T) {
					for _, want := range []hrgate.RateLimit{{Rate: 2.5, Quota: 7}, {}} {
						before := epoch(t, db)
						if err := tc.set(want); err != nil {
							t.Fatal(err)
						}
						if got := tc.read(t); got != want {
							t.Fatalf("limit = %+v, want %+v", got, want)
						}
						if after := epoch(t, db); after == before {
							t.Fatalf("epoch stayed %d after a limit change", after)
						}
					}
				})
			}
			c, err := db.FindConsumer(ctx, payroll.ID)
			if err != nil || !c.ModifiedAt.Equal(ts(9)) {
				t.Errorf("consumer modified at %v, %v; want %v", c.ModifiedAt, err, ts(9))
			}
		})

		t.Run("SlowestRate", func(t *testing.T) {
			slowest := hrgate.RateLimit{Rate: hrgate.MinRate, Quota: 1}
			if err := db.SetAPIKeyRateLimit(ctx, key.ID, slowest); err != nil {
				t.Fatalf("a rate of one request a day: %v", err)
			}
			if got := readKey(t); got != slowest {
				t.Fatalf("limit = %+v, want %+v", got, slowest)
			}
		})

		t.Run("ErrOutOfBounds", func(t *testing.T) {
			// Known good values to compare with after each refusal.
			good := hrgate.RateLimit{Rate: 3, Burst: 6, Quota: 9}
			for _, err := range []error{
				db.SetConsumerRateLimit(ctx, payroll.ID, good, ts(10)),
				db.SetAPIKeyRateLimit(ctx, key.ID, good),
				db.SetClientRateLimit(ctx, client.ID, good),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			for i, tc := range badLimits {
				t.Run(tc.name, func(t *testing.T) {
					before := epoch(t, db)
					wantCode(t, db.SetConsumerRateLimit(ctx, payroll.ID, tc.limit, ts(11)), hrgate.EINVALID)
					wantCode(t, db.SetAPIKeyRateLimit(ctx, key.ID, tc.limit), hrgate.EINVALID)
					wantCode(t, db.SetClientRateLimit(ctx, client.ID, tc.limit), hrgate.EINVALID)
					for what, got := range map[string]hrgate.RateLimit{
						"consumer": readConsumer(t), "key": readKey(t), "client": readClient(t),
					} {
						if got != good {
							t.Errorf("%s limit = %+v after a refused change, want %+v", what, got, good)
						}
					}
					if after := epoch(t, db); after != before {
						t.Errorf("epoch moved from %d to %d on a refused change", before, after)
					}

					c := newConsumer(t, g, "bad-"+strconv.Itoa(i))
					c.RateLimit = tc.limit
					wantCode(t, db.CreateConsumer(ctx, c), hrgate.EINVALID)
					_, err := db.FindConsumer(ctx, c.ID)
					wantCode(t, err, hrgate.ENOTFOUND)
					k := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: payroll.ID, Env: hrgate.KeyLive,
						Hash: hrgate.HashAPIKey(tc.name), RateLimit: tc.limit}
					wantCode(t, db.CreateAPIKey(ctx, k), hrgate.EINVALID)
					_, err = db.FindAPIKey(ctx, k.ID)
					wantCode(t, err, hrgate.ENOTFOUND)
					cl := newClient(t, g, payroll.ID, 5)
					cl.RateLimit = tc.limit
					wantCode(t, db.CreateClient(ctx, cl), hrgate.EINVALID)
					_, err = db.FindClient(ctx, cl.ID)
					wantCode(t, err, hrgate.ENOTFOUND)
				})
			}
		})

		// The schema holds the least rate too, against a writer that goes
		// around the store (a trigger on SQLite, a CHECK on PostgreSQL).
		t.Run("SchemaRefusesRateBelowOneADay", func(t *testing.T) {
			for _, tc := range []struct{ table, id string }{
				{"consumers", payroll.ID}, {"api_keys", key.ID}, {"oauth_clients", client.ID},
			} {
				if err := db.ExecForTest(ctx, `UPDATE `+tc.table+` SET limit_rate = ? WHERE id = ?`, 1e-9, tc.id); err == nil {
					t.Errorf("%s: a rate of 1e-9 was stored", tc.table)
				}
				if err := db.ExecForTest(ctx, `UPDATE `+tc.table+` SET limit_rate = ? WHERE id = ?`, hrgate.MinRate, tc.id); err != nil {
					t.Errorf("%s: a rate of one a day was refused: %v", tc.table, err)
				}
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			wantCode(t, db.SetConsumerRateLimit(ctx, g.new(t, hrgate.PrefixConsumer), hrgate.RateLimit{}, ts(1)), hrgate.ENOTFOUND)
			wantCode(t, db.SetAPIKeyRateLimit(ctx, g.new(t, hrgate.PrefixAPIKey), hrgate.RateLimit{}), hrgate.ENOTFOUND)
			wantCode(t, db.SetClientRateLimit(ctx, g.new(t, hrgate.PrefixClient), hrgate.RateLimit{}), hrgate.ENOTFOUND)
		})

		t.Run("GrantChangeKeepsLimit", func(t *testing.T) {
			c, err := db.FindConsumer(ctx, payroll.ID)
			if err != nil {
				t.Fatal(err)
			}
			kept := c.RateLimit
			// A caller holding a stale copy must not write its limit back.
			c.RateLimit = hrgate.RateLimit{Quota: 1}
			c.Scopes = []string{"companies:read"}
			if err := db.UpdateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got := readConsumer(t); got != kept {
				t.Fatalf("UpdateConsumer changed the limit to %+v, want %+v", got, kept)
			}
		})
	})
}

// Consumers, keys and clients that exist when the rate limit migration
// runs keep the configured defaults: every limit reads back as zero.
func TestMigrationLeavesLimitsAtDefaults(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := upgradedFrom(t, dsn, 4,
			seedRow{`INSERT INTO consumers (id, name, scopes, created_at, modified_at) VALUES ('con_1', 'payroll', '[]', 1, 1)`, nil},
			seedRow{`INSERT INTO api_keys (id, consumer_id, env, hash, created_at, expires_at) VALUES ('key_1', 'con_1', 'live', ?, 1, 2)`, []any{[]byte("h1")}},
			seedRow{`INSERT INTO oauth_clients (id, consumer_id, auth_method, secret_hash) VALUES ('cli_1', 'con_1', 'client_secret', ?)`, []any{make([]byte, 32)}},
		)
		c, err := db.FindConsumer(ctx, "con_1")
		if err != nil || !c.RateLimit.IsZero() {
			t.Errorf("consumer = %+v, %v; want no limits of its own", c, err)
		}
		k, err := db.FindAPIKey(ctx, "key_1")
		if err != nil || !k.RateLimit.IsZero() {
			t.Errorf("key = %+v, %v; want no limits of its own", k, err)
		}
		cl, err := db.FindClient(ctx, "cli_1")
		if err != nil || !reflect.DeepEqual(cl.RateLimit, hrgate.RateLimit{}) {
			t.Errorf("client = %+v, %v; want no limits of its own", cl, err)
		}
	})
}

// seedRow is a statement run against a database partly migrated.
type seedRow struct {
	sql  string
	args []any
}

// upgradedFrom opens dsn with migrations 1..upTo applied, writes rows
// through raw SQL as an older hrgate would have, then applies the rest of
// the migrations: the database an upgrade leaves behind.
func upgradedFrom(tb testing.TB, dsn string, upTo int, rows ...seedRow) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.ApplyMigrationsForTest(ctx, upTo); err != nil {
		tb.Fatal(err)
	}
	for _, r := range rows {
		if err := db.ExecForTest(ctx, r.sql, r.args...); err != nil {
			tb.Fatalf("%s: %v", r.sql, err)
		}
	}
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

// A limit stored before the least rate was enforced, slower than one
// request a day, never applied (the server used the defaults); the
// migration that adds the bound returns it to the defaults. Limits within
// the bounds stay as they were.
func TestMigrationResetsRatesBelowOneADay(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := upgradedFrom(t, dsn, 12,
			seedRow{`INSERT INTO consumers (id, name, scopes, created_at, modified_at, limit_rate, limit_burst, limit_quota) ` +
				`VALUES ('con_1', 'slow', '[]', 1, 1, 0.000000001, 1, 5)`, nil},
			seedRow{`INSERT INTO consumers (id, name, scopes, created_at, modified_at, limit_rate, limit_burst, limit_quota) ` +
				`VALUES ('con_2', 'kept', '[]', 1, 1, 2, 3, 4)`, nil},
			seedRow{`INSERT INTO api_keys (id, consumer_id, env, hash, created_at, expires_at, limit_rate, limit_quota) ` +
				`VALUES ('key_1', 'con_1', 'live', ?, 1, 2, 0.000000001, 7)`, []any{[]byte("h1")}},
			seedRow{`INSERT INTO oauth_clients (id, consumer_id, auth_method, secret_hash, limit_rate, limit_burst) ` +
				`VALUES ('cli_1', 'con_1', 'client_secret', ?, 0.000000001, 1)`, []any{make([]byte, 32)}},
		)
		c, err := db.FindConsumer(ctx, "con_1")
		if err != nil || !c.RateLimit.IsZero() {
			t.Errorf("slow consumer = %+v, %v; want the defaults", c, err)
		}
		if c, err := db.FindConsumer(ctx, "con_2"); err != nil || c.RateLimit != (hrgate.RateLimit{Rate: 2, Burst: 3, Quota: 4}) {
			t.Errorf("consumer within the bounds = %+v, %v; want its limit kept", c, err)
		}
		if k, err := db.FindAPIKey(ctx, "key_1"); err != nil || !k.RateLimit.IsZero() {
			t.Errorf("slow key = %+v, %v; want the defaults", k, err)
		}
		if cl, err := db.FindClient(ctx, "cli_1"); err != nil || !cl.RateLimit.IsZero() {
			t.Errorf("slow client = %+v, %v; want the defaults", cl, err)
		}
	})
}

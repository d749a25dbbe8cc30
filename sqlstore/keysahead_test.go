package sqlstore_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// TestPrepareAndDiscardEmployeeKeys: keys made before the transaction
// that inserts their employees are in the key store and cached; once
// discarded, those of ids no employee took are gone from the key store,
// while an employee's own keys stay, whoever asks to discard them.
func TestPrepareAndDiscardEmployeeKeys(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		ks := storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))
		taken := staff(t, env.db, 83, 1)[0]
		// More than one chunk of maxLookup (500) ids.
		var unused []string
		for range 601 {
			id, err := hrgate.NewID(hrgate.PrefixEmployee, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			unused = append(unused, id)
		}
		if err := env.db.PrepareEmployeeKeys(ctx, unused); err != nil {
			t.Fatal(err)
		}
		keys, err := ks.DataKeys(ctx, unused)
		if err != nil || len(keys) != len(unused) {
			t.Fatalf("prepared keys in the key store: %d, %v", len(keys), err)
		}
		for _, id := range unused {
			if !env.kr.Cached(id) {
				t.Fatalf("the key of %s is not cached", id)
			}
		}

		if err := env.db.DiscardEmployeeKeys(ctx, append([]string{taken.ID}, unused...)); err != nil {
			t.Fatal(err)
		}
		if keys, err := ks.DataKeys(ctx, unused); err != nil || len(keys) != 0 {
			t.Fatalf("discarded keys left in the key store: %d, %v", len(keys), err)
		}
		for _, id := range unused {
			if env.kr.Cached(id) {
				t.Fatalf("the discarded key of %s is still cached", id)
			}
		}
		if keys, err := ks.DataKeys(ctx, []string{taken.ID}); err != nil || len(keys) != 1 {
			t.Fatalf("the employee's own key: %d, %v", len(keys), err)
		}
		mustReadAll(t, env.db, []*hrgate.Employee{taken})

		if err := env.db.PrepareEmployeeKeys(ctx, []string{"cmp_x"}); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("an id that is not an employee's: %v", err)
		}
		// The vault's and the encryption state's keys have owners with
		// no employee row: a discard naming them is refused whole and
		// erases nothing.
		for _, owner := range []string{sqlstore.VaultOwner, "datastore"} {
			before, err := ks.DataKeys(ctx, []string{owner})
			if err != nil || len(before) == 0 {
				t.Fatalf("%s has no key to keep: %v", owner, err)
			}
			if err := env.db.DiscardEmployeeKeys(ctx, []string{owner}); hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Fatalf("discarding the keys of %s: %v", owner, err)
			}
			if after, err := ks.DataKeys(ctx, []string{owner}); err != nil || len(after) != len(before) {
				t.Fatalf("%s's keys after a refused discard: %d, %v", owner, len(after), err)
			}
		}
	})
}

// Data keys stored before the key store's migration 2 (on SQLite, the
// table rebuilt WITHOUT ROWID) read back the same after it, and the
// primary key still refuses a second key of one version.
func TestKeyStoreMigrationKeepsDataKeys(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		ks, err := sqlstore.OpenKeyStore(ctx, storetest.KeysDSN(dsn), sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ks.Close() })
		db := ks.DBForTest()
		if err := db.ApplyMigrationsForTest(ctx, 1); err != nil {
			t.Fatal(err)
		}
		for i, owner := range []string{"emp_a", "emp_a", "emp_b"} {
			if err := db.ExecForTest(ctx, `INSERT INTO keyring_data_keys (owner, version, kek_version, wrapped, created_at) VALUES (?, ?, 1, ?, 7)`,
				owner, 1+i%2, []byte{byte(i + 1)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := ks.DataKeys(ctx, []string{"emp_a", "emp_b"})
		if err != nil || len(got) != 3 {
			t.Fatalf("after the migration: %d keys, %v", len(got), err)
		}
		for i, want := range []struct {
			owner   string
			version int
			wrapped byte
		}{{"emp_a", 1, 1}, {"emp_a", 2, 2}, {"emp_b", 1, 3}} {
			k := got[i]
			if k.Owner != want.owner || k.Version != want.version || k.KEKVersion != 1 || len(k.Wrapped) != 1 || k.Wrapped[0] != want.wrapped {
				t.Fatalf("key %d = %+v, want %+v", i, k, want)
			}
		}
		if err := db.ExecForTest(ctx, `INSERT INTO keyring_data_keys (owner, version, kek_version, wrapped) VALUES ('emp_b', 1, 1, x'00')`); err == nil {
			t.Fatal("a second key of one version was stored")
		}
	})
}

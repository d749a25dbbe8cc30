// Package storetest opens real stores for the tests of the packages above
// sqlstore: a fresh SQLite file, and a fresh schema on the PostgreSQL
// server named by HRGATE_TEST_POSTGRES (skipped, saying so, when unset).
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hrgate/hrgate/internal/pgtest"
	"github.com/hrgate/hrgate/sqlstore"
)

// DSNs returns, by database name, functions that make a fresh database for
// one test: "sqlite" always, "postgres" when the test server is set.
func DSNs() map[string]func(tb testing.TB) string {
	return map[string]func(tb testing.TB) string{
		"sqlite":   SQLite,
		"postgres": func(tb testing.TB) string { return pgtest.Schema(tb, pgtest.URL(tb)) },
	}
}

// SQLite returns the path of a database file in a fresh directory.
func SQLite(tb testing.TB) string { return filepath.Join(tb.TempDir(), "hrgate.db") }

// Open opens and migrates the store at dsn and closes it when the test
// ends.
func Open(tb testing.TB, dsn string) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// ForEach runs fn once per database, in subtests named after it, each on
// a fresh migrated store.
func ForEach(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	for name, dsn := range DSNs() {
		t.Run(name, func(t *testing.T) { fn(t, Open(t, dsn(t))) })
	}
}

// OpenKeyStore opens and migrates the key store at dsn and closes it when
// the test ends.
func OpenKeyStore(tb testing.TB, dsn string) *sqlstore.KeyStore {
	tb.Helper()
	ks, err := sqlstore.OpenKeyStore(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		tb.Fatalf("open key store: %v", err)
	}
	tb.Cleanup(func() { _ = ks.Close() })
	return ks
}

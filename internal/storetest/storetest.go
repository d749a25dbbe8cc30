// Package storetest opens real stores for the tests of the packages above
// sqlstore: a fresh SQLite file, and a fresh schema on the PostgreSQL
// server named by HRGATE_TEST_POSTGRES (skipped, saying so, when unset).
package storetest

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hrgate/hrgate/internal/pgtest"
	"github.com/hrgate/hrgate/keyring"
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

// Open opens and migrates the store at dsn, with the keyring of Keyring,
// and closes it when the test ends.
func Open(tb testing.TB, dsn string) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{AutoMigrate: true, Cipher: Keyring(tb, dsn)})
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

// testMasterKey is the master key of every test keyring. It is fixed, so
// that a store reopened in a test finds its keys again; it protects
// nothing but test data.
var testMasterKey = bytes.Repeat([]byte{0x5e}, keyring.MasterKeySize)

// Keyring opens the keyring of the data store at dsn, as hrgate lays it
// out by default: in keys.db beside a SQLite file, in the same schema on
// PostgreSQL. Every call for one dsn opens the same keyring.
func Keyring(tb testing.TB, dsn string) *keyring.Keyring {
	tb.Helper()
	ksDSN := dsn
	if !isPostgres(dsn) {
		ksDSN = filepath.Join(filepath.Dir(dsn), "keys.db")
	}
	p, err := keyring.NewLocalProvider(testMasterKey, nil)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := keyring.Open(context.Background(), OpenKeyStore(tb, ksDSN), p, keyring.Options{})
	if err != nil {
		tb.Fatalf("open keyring: %v", err)
	}
	return k
}

func isPostgres(dsn string) bool {
	u, err := url.Parse(dsn)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

// Dump returns what the data store at dsn holds at rest, for tests that
// search it for values that must not be stored in the clear: the SQLite
// file with its WAL, or a pg_dump of the test schema (bytea columns come
// out in hex there, so search for the hex form too).
func Dump(tb testing.TB, dsn string) []byte {
	tb.Helper()
	if !isPostgres(dsn) {
		var out []byte
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(dsn + suffix)
			if err != nil && !os.IsNotExist(err) {
				tb.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path") // not a libpq parameter
	u.RawQuery = q.Encode()
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		tb.Fatalf("the PostgreSQL tests need pg_dump on the PATH: %v", err)
	}
	cmd := exec.Command(pgDump, "--dbname="+u.String(), "--schema="+schema, "--no-owner") // #nosec G204 -- test helper.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("pg_dump: %v: %s", err, stderr.String())
	}
	return out
}

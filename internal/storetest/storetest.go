// Package storetest opens real stores for the tests of the packages above
// sqlstore: a fresh SQLite file, and a fresh schema on the PostgreSQL
// server named by HRGATE_TEST_POSTGRES (skipped, saying so, when unset).
// Data stores come with a real keyring on a key store of their own, so
// that tests run the encrypted paths production runs.
package storetest

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// Open opens and migrates the data store at dsn with the keyring of
// KeysDSN(dsn), created on first use, and closes both when the test ends.
func Open(tb testing.TB, dsn string) *sqlstore.DB {
	tb.Helper()
	return OpenWith(tb, dsn, Keyring(tb, KeysDSN(dsn)), sqlstore.Options{})
}

// KeysDSN returns where the key store of the data store at dsn is, as
// hrgate's defaults place it: keys.db next to a SQLite file, the same
// database (tables keyring_*) on PostgreSQL.
func KeysDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return dsn
	}
	return filepath.Join(filepath.Dir(dsn), "keys.db")
}

// OpenWith opens and migrates the data store at dsn with the given keyring
// (nil for none) and options, and closes it when the test ends.
func OpenWith(tb testing.TB, dsn string, kr *keyring.Keyring, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	opts.AutoMigrate = true
	if kr != nil {
		opts.Cipher = kr
	}
	db, err := sqlstore.Open(context.Background(), dsn, opts)
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

// MasterKey is the master key of the keyrings tests open. It is a test
// value, never used outside tests.
var MasterKey = bytes.Repeat([]byte{0x5a}, keyring.MasterKeySize)

// Keyring opens the key store at keysDSN and the keyring on it, under
// MasterKey, creating the keyring when the store is new.
func Keyring(tb testing.TB, keysDSN string) *keyring.Keyring {
	tb.Helper()
	return KeyringWith(tb, OpenKeyStore(tb, keysDSN), keyring.Options{})
}

// KeyringWith opens the keyring on ks under MasterKey with opts.
func KeyringWith(tb testing.TB, ks *sqlstore.KeyStore, opts keyring.Options) *keyring.Keyring {
	tb.Helper()
	p, err := keyring.NewLocalProvider(MasterKey, nil)
	if err != nil {
		tb.Fatal(err)
	}
	kr, err := keyring.Open(context.Background(), ks, p, opts)
	if err != nil {
		tb.Fatalf("open keyring: %v", err)
	}
	return kr
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
			b, err := os.ReadFile(dsn + suffix) // #nosec G304 -- a test's own database file.
			if err != nil && !os.IsNotExist(err) {
				tb.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	dump, _, _ := PGDump(tb, dsn)
	return dump
}

// PGDump returns a pg_dump of the test schema of the PostgreSQL dsn (a
// pgtest.Schema URL, whose search_path names the schema), with the URL of
// its server without the schema and the schema's name, for tests that
// search the dump or restore it elsewhere.
func PGDump(tb testing.TB, dsn string) (dump []byte, server, schema string) {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	schema = q.Get("search_path")
	q.Del("search_path") // not a libpq parameter
	u.RawQuery = q.Encode()
	server = u.String()
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		tb.Fatalf("the PostgreSQL tests need pg_dump on the PATH: %v", err)
	}
	cmd := exec.Command(pgDump, "--dbname="+server, "--schema="+schema, "--no-owner", "--no-privileges") // #nosec G204 -- test helper.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dump, err = cmd.Output()
	if err != nil {
		tb.Fatalf("pg_dump: %v: %s", err, stderr.String())
	}
	return dump, server, schema
}

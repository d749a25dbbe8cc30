// Package pgtest gives tests their own PostgreSQL schema on the server
// named by HRGATE_TEST_POSTGRES, so test runs never see each other's data.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// EnvVar names the variable that holds the PostgreSQL URL for tests.
const EnvVar = "HRGATE_TEST_POSTGRES"

// URL returns the test server's URL, or skips the test with a message that
// says how to run it.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		tb.Skipf("%s is not set; skipping PostgreSQL tests (set it to a postgres:// URL to run them)", EnvVar)
	}
	return u
}

// Schema creates a fresh schema on the server at base, drops it when the
// test ends, and returns a URL whose connections use it.
func Schema(tb testing.TB, base string) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hrgate_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("open %s: %v", EnvVar, err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		_ = db.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		_ = db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

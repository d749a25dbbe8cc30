package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLitePragmas checks that the DSN settings reach the connections: a
// pragma the driver silently ignored would weaken durability, integrity or
// the read-only guarantee of the reader pool.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hrgate.db"), Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, tt := range []struct {
		handle string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "foreign_keys", "1"},
		{"writer", "synchronous", "1"},
		{"writer", "busy_timeout", "10000"},
		{"writer", "temp_store", "2"},
		{"writer", "query_only", "0"},
		{"reader", "journal_mode", "wal"},
		{"reader", "busy_timeout", "10000"},
		{"reader", "query_only", "1"},
	} {
		h := db.write
		if tt.handle == "reader" {
			h = db.read
		}
		var got string
		if err := h.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil || got != tt.want {
			t.Errorf("%s: PRAGMA %s = %q, %v; want %q", tt.handle, tt.pragma, got, err, tt.want)
		}
	}
	if _, err := db.read.ExecContext(ctx, "DELETE FROM secrets"); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

// TestRebind checks the placeholder rewriting PostgreSQL needs.
func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?"
	if got, want := postgresDialect().rebind(q), "SELECT a FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4"; got != want {
		t.Errorf("postgres rebind = %q, want %q", got, want)
	}
	if got := sqliteDialect().rebind(q); got != q {
		t.Errorf("sqlite rebind = %q, want it unchanged", got)
	}
}

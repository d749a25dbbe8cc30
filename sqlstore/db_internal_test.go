package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
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

// TestWriteStatementCache checks the cache of the writer's statements: a
// transaction that asks for a statement not yet prepared runs it
// unprepared instead of waiting for the connection it holds itself, the
// statement is prepared once that transaction ends, and later
// transactions run the prepared one. A statement that does not prepare
// reports its error to its caller each time.
func TestWriteStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hrgate.db"), Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const q = `INSERT INTO companies (id, slug, name, created_at, modified_at) VALUES (?, ?, ?, 0, 0)`
	c := db.wstmts
	insert := func(id string) {
		t.Helper()
		// Deadlocks here, rather than failing, if the cache prepares on
		// the pool inside the transaction: the test's timeout names it.
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			_, err := c.txExec(ctx, tx, q, id, id, id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	insert("com_1")
	// The background preparation waits for the connection, which is free
	// now; nothing here depends on how long it takes.
	for {
		c.mu.RLock()
		st, pending := c.stmts[q], c.pending[q]
		c.mu.RUnlock()
		if st != nil {
			break
		}
		if !pending {
			t.Fatal("the statement was neither prepared nor being prepared")
		}
		runtime.Gosched()
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if c.txStmt(ctx, tx, q, []any{1, 2, 3}) == nil {
			t.Error("a prepared statement was not used")
		}
		_, err := c.txExec(ctx, tx, q, "com_2", "com_2", "com_2")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM companies WHERE id IN ('com_1', 'com_2')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("companies written = %d, %v; want 2", n, err)
	}
	for range 2 {
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			_, err := c.txExec(ctx, tx, `INSERT INTO no_such_table VALUES (?)`, 1)
			return err
		})
		if err == nil {
			t.Fatal("a statement on a missing table succeeded")
		}
	}
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Secret returns the secret with the given name, creating it with create
// when it does not exist yet. When several instances create it at once,
// every INSERT but the first does nothing, and all of them read back the
// value that won.
func (db *DB) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	const op = "sqlstore.Secret"
	if name == "" {
		return nil, invalid("A secret needs a name.")
	}
	const get = `SELECT value FROM secrets WHERE name = ?`
	var value []byte
	err := db.stmts.queryRow(ctx, get, name).Scan(&value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, db.translate(err, op)
	}

	fresh, err := create()
	if err != nil {
		return nil, db.translate(fmt.Errorf("create secret %q: %w", name, err), op)
	}
	if len(fresh) == 0 {
		return nil, db.translate(fmt.Errorf("create secret %q: empty value", name), op)
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(
		`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		name, fresh, db.epoch.now().UnixMicro())
	if err != nil {
		return nil, db.translate(err, op)
	}
	// Read through the writer: on SQLite it is the connection that just
	// committed, on PostgreSQL it is the only pool anyway.
	if err := db.write.QueryRowContext(ctx, db.dialect.rebind(get), name).Scan(&value); err != nil {
		return nil, db.translate(err, op)
	}
	return value, nil
}

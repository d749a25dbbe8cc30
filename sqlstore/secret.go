package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The secrets table keeps hrgate's own secrets by name, each sealed under
// the vault's data key and bound to its name (vault.go). Secret,
// FindSecret and PutSecret are its only readers and writers.

// checkSecretName refuses the empty name and the names the vault keeps
// for itself.
func checkSecretName(name string) error {
	if name == "" {
		return invalid("A secret needs a name.")
	}
	if name == vaultSealedName {
		return invalid("The secret name %q is reserved.", name)
	}
	return nil
}

// Secret returns the secret with the given name, creating it with create
// when it does not exist yet. When several instances create it at once,
// every INSERT but the first does nothing, and all of them read back the
// value that won.
func (db *DB) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	const op = "sqlstore.Secret"
	if err := checkSecretName(name); err != nil {
		return nil, err
	}
	const get = `SELECT value FROM secrets WHERE name = ?`
	var stored []byte
	err := db.stmts.queryRow(ctx, get, name).Scan(&stored)
	if err == nil {
		v, err := db.openSecret(ctx, secretValue, name, stored)
		return v, db.translate(err, op)
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
	sealed, err := db.sealSecret(ctx, secretValue, name, fresh)
	if err != nil {
		return nil, db.translate(err, op)
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(
		`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		name, sealed, db.epoch.now().UnixMicro())
	if err != nil {
		return nil, db.translate(err, op)
	}
	// Read through the writer: on SQLite it is the connection that just
	// committed, on PostgreSQL it is the only pool anyway.
	if err := db.write.QueryRowContext(ctx, db.dialect.rebind(get), name).Scan(&stored); err != nil {
		return nil, db.translate(err, op)
	}
	v, err := db.openSecret(ctx, secretValue, name, stored)
	return v, db.translate(err, op)
}

// FindSecret returns the secret with the given name, or ENOTFOUND. It
// reads through the writer, so that a secret another instance just
// replaced is seen.
func (db *DB) FindSecret(ctx context.Context, name string) ([]byte, error) {
	const op = "sqlstore.FindSecret"
	if err := checkSecretName(name); err != nil {
		return nil, err
	}
	var stored []byte
	err := db.write.QueryRowContext(ctx, db.dialect.rebind(`SELECT value FROM secrets WHERE name = ?`), name).Scan(&stored)
	if err != nil {
		return nil, db.notFound(err, op, "Secret")
	}
	v, err := db.openSecret(ctx, secretValue, name, stored)
	return v, db.translate(err, op)
}

// PutSecret stores value under name, replacing any secret of that name,
// and bumps the credential epoch in the same transaction: a replaced
// secret is a credential or checks one (the admin token's digest), and
// every instance must stop trusting the old one.
func (db *DB) PutSecret(ctx context.Context, name string, value []byte) error {
	const op = "sqlstore.PutSecret"
	if err := checkSecretName(name); err != nil {
		return err
	}
	if len(value) == 0 {
		return invalid("A secret cannot be empty.")
	}
	sealed, err := db.sealSecret(ctx, secretValue, name, value)
	if err != nil {
		return db.translate(err, op)
	}
	err = db.inTxBumpingEpoch(ctx, func(tx *sql.Tx) (bool, error) {
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) `+
				`ON CONFLICT (name) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`),
			name, sealed, db.epoch.now().UnixMicro())
		return err == nil, err
	})
	return db.translate(err, op)
}

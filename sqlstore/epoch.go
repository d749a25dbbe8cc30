package sqlstore

import (
	"context"
	"database/sql"
)

// CredentialEpoch returns the current credential epoch: a counter that
// every revocation, grant change and consumer deletion increments in its
// own transaction.
func (db *DB) CredentialEpoch(ctx context.Context) (int64, error) {
	var v int64
	if err := db.stmts.queryRow(ctx, `SELECT value FROM credential_epoch WHERE id = 1`).Scan(&v); err != nil {
		return 0, db.translate(err, "sqlstore.CredentialEpoch")
	}
	return v, nil
}

// execBumpingEpoch runs one credential-changing statement and increments
// the credential epoch in the same transaction, so no reader can see the
// change without also seeing the new epoch.
func (db *DB) execBumpingEpoch(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if res, err = tx.ExecContext(ctx, db.dialect.rebind(query), args...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE credential_epoch SET value = value + 1 WHERE id = 1`)
		return err
	})
	return res, err
}

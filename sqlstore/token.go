package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/hrgate/hrgate"
)

// RevokeToken records the revocation of token jti, valid until expiresAt,
// and bumps the revocation epoch (not the credential epoch) in the same
// transaction, so that every instance refuses the token on its next
// request. A repeated revocation is not an error and, inserting nothing,
// leaves the epoch alone.
func (db *DB) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	const op = "sqlstore.RevokeToken"
	if jti == "" || expiresAt.IsZero() {
		return invalid("A token revocation needs a token id and an expiry.")
	}
	_, err := db.execBumping(ctx, &db.revocations,
		`INSERT INTO oauth_revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING`, jti, expiresAt.UnixMicro())
	return db.translate(err, op)
}

// RevokedTokens returns the ids of the revoked tokens still unexpired at
// now. The list is short: a token outlives its revocation by at most its
// lifetime.
func (db *DB) RevokedTokens(ctx context.Context, now time.Time) ([]string, error) {
	const op = "sqlstore.RevokedTokens"
	rows, err := db.stmts.query(ctx, `SELECT jti FROM oauth_revoked_tokens WHERE expires_at > ? ORDER BY jti`, now.UnixMicro())
	return collect(db, op, rows, err, scanString)
}

// UseAssertionID records a client assertion id until expiresAt. An id
// recorded before is ECONFLICT: the assertion is a replay.
func (db *DB) UseAssertionID(ctx context.Context, id string, expiresAt time.Time) error {
	const op = "sqlstore.UseAssertionID"
	if id == "" || expiresAt.IsZero() {
		return invalid("A client assertion needs an id and an expiry.")
	}
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(
		`INSERT INTO oauth_used_assertions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
		id, expiresAt.UnixMicro())
	if err != nil {
		return db.translate(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return db.translate(err, op)
	}
	if n == 0 {
		return hrgate.Errorf(hrgate.ECONFLICT, "The client assertion was used before.")
	}
	return nil
}

// PurgeTokens deletes revocations and assertion ids that expired before
// now: past their expiry the token or assertion is refused anyway.
func (db *DB) PurgeTokens(ctx context.Context, now time.Time) error {
	const op = "sqlstore.PurgeTokens"
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM oauth_revoked_tokens WHERE expires_at < ?`,
			`DELETE FROM oauth_used_assertions WHERE expires_at < ?`,
		} {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), now.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
	return db.translate(err, op)
}

package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/hrgate/hrgate"
)

// The private_key column is written by InsertSigningKey and read by
// SigningKeys, nowhere else: it is sealed under the vault's data key and
// bound to the key's id (vault.go).
const signingKeyColumns = `id, generation, algorithm, private_key, created_at, activates_at, retires_at`

// SigningKeys returns every stored token signing key ordered by generation.
func (db *DB) SigningKeys(ctx context.Context) ([]*hrgate.SigningKey, error) {
	const op = "sqlstore.SigningKeys"
	// Read through the writer: a key another instance just inserted must
	// be visible to the instance that lost the race to insert it.
	rows, err := db.write.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM oauth_signing_keys ORDER BY generation`)
	keys, err := collect(db, op, rows, err, scanSigningKey)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.PrivateKey, err = db.openSecret(ctx, signingPrivateKey, k.ID, k.PrivateKey); err != nil {
			return nil, db.translate(err, op)
		}
	}
	return keys, nil
}

// InsertSigningKey adds k. A taken id or generation is ECONFLICT: another
// instance rotated first.
func (db *DB) InsertSigningKey(ctx context.Context, k *hrgate.SigningKey) error {
	const op = "sqlstore.InsertSigningKey"
	if k == nil || k.ID == "" || k.Generation <= 0 || len(k.PrivateKey) == 0 {
		return invalid("A signing key needs an id, a generation and a private key.")
	}
	if k.CreatedAt.IsZero() || k.ActivatesAt.IsZero() || !k.ActivatesAt.Before(k.RetiresAt) {
		return invalid("A signing key needs a creation time and an activation before its retirement.")
	}
	sealed, err := db.sealSecret(ctx, signingPrivateKey, k.ID, k.PrivateKey)
	if err != nil {
		return db.translate(err, op)
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(`INSERT INTO oauth_signing_keys (`+signingKeyColumns+`) `+
		`VALUES (?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.Generation, k.Algorithm, sealed, micros(k.CreatedAt), micros(k.ActivatesAt), micros(k.RetiresAt))
	return db.translate(err, op)
}

// DeleteSigningKeys deletes the keys that retired before retiredBefore.
func (db *DB) DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) (int, error) {
	const op = "sqlstore.DeleteSigningKeys"
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM oauth_signing_keys WHERE retires_at < ?`),
		retiredBefore.UnixMicro())
	if err != nil {
		return 0, db.translate(err, op)
	}
	n, err := res.RowsAffected()
	return int(n), db.translate(err, op)
}

// scanSigningKey scans a row as stored: PrivateKey is still sealed.
func scanSigningKey(s scanner) (*hrgate.SigningKey, error) {
	var (
		k                           hrgate.SigningKey
		created, activates, retires sql.NullInt64
	)
	if err := s.Scan(&k.ID, &k.Generation, &k.Algorithm, &k.PrivateKey, &created, &activates, &retires); err != nil {
		return nil, err
	}
	k.CreatedAt, k.ActivatesAt, k.RetiresAt = timeOf(created), timeOf(activates), timeOf(retires)
	return &k, nil
}

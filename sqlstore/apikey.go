package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/hrgate/hrgate"
)

const apiKeyColumns = `id, consumer_id, env, hash, description, scopes, allow_cidrs, created_at, expires_at, ` +
	`revoked_at, last_used_at, last_used_addr, replaced_by_id`

// CreateAPIKey inserts k. ENOTFOUND when its consumer does not exist,
// ECONFLICT when its id or hash is taken.
func (db *DB) CreateAPIKey(ctx context.Context, k *hrgate.APIKey) error {
	const op = "sqlstore.CreateAPIKey"
	if k == nil || k.ID == "" || k.ConsumerID == "" || len(k.Hash) == 0 {
		return invalid("An API key needs an id, a consumer and a hash.")
	}
	if k.Env != hrgate.KeyLive && k.Env != hrgate.KeyTest {
		return invalid("An API key's environment must be live or test.")
	}
	scopes, err := encodeStrings(k.Scopes)
	if err != nil {
		return db.translate(err, op)
	}
	cidrs, err := encodeStrings(k.AllowCIDRs)
	if err != nil {
		return db.translate(err, op)
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(`INSERT INTO api_keys (`+apiKeyColumns+`) `+
		`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.ConsumerID, string(k.Env), k.Hash, k.Description, scopes, cidrs, micros(k.CreatedAt),
		micros(k.ExpiresAt), micros(k.RevokedAt), micros(k.LastUsedAt), k.LastUsedAddr, k.ReplacedByID)
	if err != nil && db.dialect.classify(err).kind == violationForeignKey {
		e := hrgate.ErrNotFound("Consumer")
		e.Err = err
		return e
	}
	return db.translate(err, op)
}

// FindAPIKeyByHash returns the key with the given hash, or ENOTFOUND. It is
// on the path of every authenticated request.
func (db *DB) FindAPIKeyByHash(ctx context.Context, hash []byte) (*hrgate.APIKey, error) {
	const op = "sqlstore.FindAPIKeyByHash"
	if len(hash) == 0 {
		return nil, hrgate.ErrNotFound("API key")
	}
	k, err := scanAPIKey(db.stmts.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return nil, db.notFound(err, op, "API key")
	}
	return k, nil
}

// FindAPIKey returns the key with the given id, or ENOTFOUND.
func (db *DB) FindAPIKey(ctx context.Context, id string) (*hrgate.APIKey, error) {
	const op = "sqlstore.FindAPIKey"
	k, err := scanAPIKey(db.stmts.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return nil, db.notFound(err, op, "API key")
	}
	return k, nil
}

// ListAPIKeys returns the keys of a consumer, or of every consumer when
// consumerID is "", ordered by creation time and then id.
func (db *DB) ListAPIKeys(ctx context.Context, consumerID string) ([]*hrgate.APIKey, error) {
	const op = "sqlstore.ListAPIKeys"
	var q query
	q.write(`SELECT ` + apiKeyColumns + ` FROM api_keys`)
	if consumerID != "" {
		q.and("consumer_id = ?", consumerID)
	}
	// Keys created at the same microsecond, or without a time, still come
	// in a stable order.
	q.write(" ORDER BY created_at, id")
	rows, err := db.stmts.query(ctx, q.sb.String(), q.args...)
	if err != nil {
		return nil, db.translate(err, op)
	}
	defer rows.Close()
	out := []*hrgate.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, db.translate(err, op)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate(err, op)
	}
	return out, nil
}

// RevokeAPIKey marks the key revoked at the given time, or returns
// ENOTFOUND. A key revoked already keeps its first revocation time, so a
// repeated or racing revocation cannot move it later; only an earlier time
// replaces it, so that revoking now cannot be outlived by a revocation
// recorded for a later moment.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	const op = "sqlstore.RevokeAPIKey"
	if at.IsZero() {
		return invalid("A revocation needs a time.")
	}
	res, err := db.execBumpingEpoch(ctx,
		`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND (revoked_at IS NULL OR revoked_at > ?)`,
		micros(at), id, micros(at))
	if err != nil {
		return db.translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return db.translate(err, op)
	}
	var one int
	err = db.write.QueryRowContext(ctx, db.dialect.rebind(`SELECT 1 FROM api_keys WHERE id = ?`), id).Scan(&one)
	return db.notFound(err, op, "API key")
}

// TouchAPIKey records the last use of a key. The time only moves forward,
// so that instances reporting out of order keep the latest use. A key that
// does not exist (deleted meanwhile) is not an error.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time, addr string) error {
	const op = "sqlstore.TouchAPIKey"
	if at.IsZero() {
		return invalid("A use of a key needs a time.")
	}
	_, err := db.write.ExecContext(ctx, db.dialect.rebind(
		`UPDATE api_keys SET last_used_at = ?, last_used_addr = ? `+
			`WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
		micros(at), addr, id, micros(at))
	return db.translate(err, op)
}

func scanAPIKey(s scanner) (*hrgate.APIKey, error) {
	var (
		k                                   hrgate.APIKey
		env, scopes, cidrs                  string
		created, expires, revoked, lastUsed sql.NullInt64
	)
	err := s.Scan(&k.ID, &k.ConsumerID, &env, &k.Hash, &k.Description, &scopes, &cidrs, &created, &expires,
		&revoked, &lastUsed, &k.LastUsedAddr, &k.ReplacedByID)
	if err != nil {
		return nil, err
	}
	k.Env = hrgate.KeyEnv(env)
	if k.Scopes, err = decodeStrings(scopes); err != nil {
		return nil, err
	}
	if k.AllowCIDRs, err = decodeStrings(cidrs); err != nil {
		return nil, err
	}
	k.CreatedAt, k.ExpiresAt = timeOf(created), timeOf(expires)
	k.RevokedAt, k.LastUsedAt = timeOf(revoked), timeOf(lastUsed)
	return &k, nil
}

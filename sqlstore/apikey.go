package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

const apiKeyColumns = `id, consumer_id, env, hash, description, scopes, allow_cidrs, created_at, expires_at, ` +
	`revoked_at, last_used_at, last_used_addr, replaced_by_id, limit_rate, limit_burst, limit_quota`

// CreateAPIKey inserts k. ENOTFOUND when its consumer does not exist,
// ECONFLICT when its id or hash is taken.
func (db *DB) CreateAPIKey(ctx context.Context, k *hrgate.APIKey) error {
	const op = "sqlstore.CreateAPIKey"
	return db.translate(db.consumerRef(db.insertAPIKey(ctx, db.write, k)), op)
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertAPIKey checks and inserts k; CreateAPIKey and RotateAPIKey both
// write keys through it.
func (db *DB) insertAPIKey(ctx context.Context, ex execer, k *hrgate.APIKey) error {
	if k == nil || k.ID == "" || k.ConsumerID == "" || len(k.Hash) == 0 {
		return invalid("An API key needs an id, a consumer and a hash.")
	}
	if k.Env != hrgate.KeyLive && k.Env != hrgate.KeyTest {
		return invalid("An API key's environment must be live or test.")
	}
	if err := checkRateLimit(k.RateLimit); err != nil {
		return err
	}
	scopes, err := encodeStrings(k.Scopes)
	if err != nil {
		return err
	}
	cidrs, err := encodeStrings(k.AllowCIDRs)
	if err != nil {
		return err
	}
	_, err = ex.ExecContext(ctx, db.dialect.rebind(`INSERT INTO api_keys (`+apiKeyColumns+`) `+
		`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.ConsumerID, string(k.Env), k.Hash, k.Description, scopes, cidrs, micros(k.CreatedAt),
		micros(k.ExpiresAt), micros(k.RevokedAt), micros(k.LastUsedAt), k.LastUsedAddr, k.ReplacedByID,
		k.RateLimit.Rate, k.RateLimit.Burst, k.RateLimit.Quota)
	return err
}

// consumerRef turns the violation of a foreign key to consumers into
// ENOTFOUND for the consumer; other errors pass unchanged.
func (db *DB) consumerRef(err error) error {
	if err != nil && db.dialect.classify(err).kind == violationForeignKey {
		e := hrgate.ErrNotFound("Consumer")
		e.Err = err
		return e
	}
	return err
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
	return collect(db, op, rows, err, scanAPIKey)
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

// SetAPIKeyRateLimit replaces the key's own rate limit and bumps the
// credential epoch in the same transaction, so that every instance applies
// the new limit from its next request; ENOTFOUND when there is no such key.
// A limit outside the schema's bounds is EINVALID and changes nothing.
func (db *DB) SetAPIKeyRateLimit(ctx context.Context, id string, r hrgate.RateLimit) error {
	const op = "sqlstore.SetAPIKeyRateLimit"
	if err := checkRateLimit(r); err != nil {
		return err
	}
	res, err := db.execBumpingEpoch(ctx, `UPDATE api_keys SET limit_rate = ?, limit_burst = ?, limit_quota = ? WHERE id = ?`,
		r.Rate, r.Burst, r.Quota, id)
	if err != nil {
		return db.translate(err, op)
	}
	return db.oneRow(res, op, "API key")
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
		&revoked, &lastUsed, &k.LastUsedAddr, &k.ReplacedByID, &k.RateLimit.Rate, &k.RateLimit.Burst, &k.RateLimit.Quota)
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

// RotateAPIKey replaces oldID by next in one transaction, bumping the
// credential epoch so that every server reloads the old key's new expiry.
// The update of the old key is conditional on it being neither rotated nor
// revoked, which makes concurrent rotations of one key produce a single
// successor: the loser's transaction finds no row and rolls back.
func (db *DB) RotateAPIKey(ctx context.Context, oldID string, next *hrgate.APIKey, oldExpiresAt time.Time, delivery *hrgate.KeyDelivery) error {
	const op = "sqlstore.RotateAPIKey"
	if next == nil || next.ID == "" || next.ID == oldID || len(next.Hash) == 0 || oldExpiresAt.IsZero() {
		return invalid("A rotation needs a new key with its own id and hash, and an end for the old key.")
	}
	if delivery != nil && (delivery.KeyID != next.ID || delivery.Secret == "") {
		return invalid("A key delivery must carry the new key's id and secret.")
	}
	var sealed any
	if delivery != nil {
		var err error
		if sealed, err = db.sealSecret(ctx, deliverySecret, delivery.KeyID, []byte(delivery.Secret)); err != nil {
			return db.translate(err, op)
		}
	}
	err := db.inTxBumpingEpoch(ctx, func(tx *sql.Tx) (bool, error) {
		// The successor belongs to the old key's consumer, or nothing
		// happens.
		res, err := tx.ExecContext(ctx, db.dialect.rebind(
			`UPDATE api_keys SET replaced_by_id = ?, `+
				`expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < ? THEN expires_at ELSE ? END `+
				`WHERE id = ? AND consumer_id = ? AND replaced_by_id = '' AND revoked_at IS NULL`),
			next.ID, micros(oldExpiresAt), micros(oldExpiresAt), oldID, next.ConsumerID)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 0 {
			var consumerID string
			err := tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT consumer_id FROM api_keys WHERE id = ?`), oldID).Scan(&consumerID)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return false, hrgate.ErrNotFound("API key")
			case err != nil:
				return false, err
			case consumerID != next.ConsumerID:
				return false, invalid("A key's successor must belong to the same consumer.")
			}
			return false, hrgate.Errorf(hrgate.ECONFLICT, "Key %s was revoked or rotated already; rotate its successor instead.", oldID)
		}
		if err := db.insertAPIKey(ctx, tx, next); err != nil {
			return false, err
		}
		if delivery != nil {
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(
				`INSERT INTO key_deliveries (key_id, consumer_id, replaces_id, secret, created_at) VALUES (?, ?, ?, ?, ?)`),
				delivery.KeyID, next.ConsumerID, oldID, sealed, micros(delivery.CreatedAt)); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return db.translate(err, op)
}

// TakeKeyDeliveries returns the queued key secrets of a consumer, or of
// every consumer when consumerID is "", deleting them in the same
// statement: DELETE … RETURNING hands each row to one caller only, even
// when two operators fetch at once. The secrets are opened before the
// deletion commits, so that one that does not open stays queued.
func (db *DB) TakeKeyDeliveries(ctx context.Context, consumerID string) ([]*hrgate.KeyDelivery, error) {
	const op = "sqlstore.TakeKeyDeliveries"
	var q query
	q.write(`DELETE FROM key_deliveries`)
	if consumerID != "" {
		q.and("consumer_id = ?", consumerID)
	}
	q.write(` RETURNING key_id, consumer_id, replaces_id, secret, created_at`)
	var out []*hrgate.KeyDelivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, db.dialect.rebind(q.sb.String()), q.args...)
		if out, err = collect(db, op, rows, err, scanKeyDelivery); err != nil {
			return err
		}
		for _, d := range out {
			plain, err := db.openSecret(ctx, deliverySecret, d.KeyID, []byte(d.Secret))
			if err != nil {
				return err
			}
			d.Secret = string(plain)
		}
		return nil
	})
	if err != nil {
		return nil, db.translate(err, op)
	}
	slices.SortFunc(out, func(a, b *hrgate.KeyDelivery) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return out, nil
}

// scanKeyDelivery scans a row as stored: Secret is still sealed.
func scanKeyDelivery(s scanner) (*hrgate.KeyDelivery, error) {
	var d hrgate.KeyDelivery
	var created sql.NullInt64
	err := s.Scan(&d.KeyID, &d.ConsumerID, &d.ReplacesID, &d.Secret, &created)
	d.CreatedAt = timeOf(created)
	return &d, err
}

// PendingKeyDeliveries returns the ids of keys whose secrets wait in the
// delivery box.
func (db *DB) PendingKeyDeliveries(ctx context.Context) (map[string]bool, error) {
	const op = "sqlstore.PendingKeyDeliveries"
	rows, err := db.read.QueryContext(ctx, `SELECT key_id FROM key_deliveries`)
	ids, err := collect(db, op, rows, err, scanString)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

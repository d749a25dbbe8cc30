package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/hrgate/hrgate"
)

const consumerColumns = `id, name, description, scopes, created_at, modified_at, rotate_keys_after, rotation_grace, ` +
	`limit_rate, limit_burst, limit_quota`

// CreateConsumer inserts c. A taken name is ECONFLICT, and so is a name
// shaped like a consumer id: FindConsumer looks up by id or name, and must
// not be able to confuse the two.
func (db *DB) CreateConsumer(ctx context.Context, c *hrgate.Consumer) error {
	const op = "sqlstore.CreateConsumer"
	if c == nil || c.ID == "" || c.Name == "" {
		return invalid("A consumer needs an id and a name.")
	}
	if err := checkRateLimit(c.RateLimit); err != nil {
		return err
	}
	scopes, err := encodeStrings(c.Scopes)
	if err != nil {
		return db.translate(err, op)
	}
	// A name shaped like a consumer id could be confused with one by
	// FindConsumer, which looks up by either. Refusing the shape is race-
	// free, where checking the table first would not be on PostgreSQL.
	if hrgate.ValidID(hrgate.PrefixConsumer, c.Name) {
		return hrgate.Errorf(hrgate.ECONFLICT, "A consumer name must not be the id of another consumer.")
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(`INSERT INTO consumers (`+consumerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.ID, c.Name, c.Description, scopes, micros(c.CreatedAt), micros(c.ModifiedAt),
		seconds(c.KeyRotation.MaxAge), seconds(c.KeyRotation.Grace), c.RateLimit.Rate, c.RateLimit.Burst, c.RateLimit.Quota)
	return db.translate(err, op)
}

// UpdateConsumer replaces c's description, scopes and key rotation policy,
// and its modification time when c.ModifiedAt is set. A consumer that does
// not exist is ENOTFOUND. The rate limit is left as it is: only
// SetConsumerRateLimit changes it, so that a grant change racing a limit
// change cannot write back the limit it read before.
func (db *DB) UpdateConsumer(ctx context.Context, c *hrgate.Consumer) error {
	const op = "sqlstore.UpdateConsumer"
	if c == nil || c.ID == "" {
		return invalid("A consumer needs an id.")
	}
	scopes, err := encodeStrings(c.Scopes)
	if err != nil {
		return db.translate(err, op)
	}
	res, err := db.execBumpingEpoch(ctx,
		`UPDATE consumers SET description = ?, scopes = ?, rotate_keys_after = ?, rotation_grace = ?, `+
			`modified_at = COALESCE(?, modified_at) WHERE id = ?`,
		c.Description, scopes, seconds(c.KeyRotation.MaxAge), seconds(c.KeyRotation.Grace), micros(c.ModifiedAt), c.ID)
	if err != nil {
		return db.translate(err, op)
	}
	return db.oneRow(res, op, "Consumer")
}

// SetConsumerRateLimit replaces the consumer's rate limit, and its
// modification time when modifiedAt is not zero, bumping the credential
// epoch in the same transaction so that every instance applies the new
// limit from its next request; ENOTFOUND when there is no such consumer.
// A limit outside the schema's bounds is EINVALID and changes nothing.
func (db *DB) SetConsumerRateLimit(ctx context.Context, id string, r hrgate.RateLimit, modifiedAt time.Time) error {
	const op = "sqlstore.SetConsumerRateLimit"
	if err := checkRateLimit(r); err != nil {
		return err
	}
	res, err := db.execBumpingEpoch(ctx,
		`UPDATE consumers SET limit_rate = ?, limit_burst = ?, limit_quota = ?, modified_at = COALESCE(?, modified_at) WHERE id = ?`,
		r.Rate, r.Burst, r.Quota, micros(modifiedAt), id)
	if err != nil {
		return db.translate(err, op)
	}
	return db.oneRow(res, op, "Consumer")
}

// FindConsumer returns the consumer whose id or name is idOrName, or
// ENOTFOUND. An id match wins over a name match.
func (db *DB) FindConsumer(ctx context.Context, idOrName string) (*hrgate.Consumer, error) {
	const op = "sqlstore.FindConsumer"
	row := db.stmts.queryRow(ctx, `SELECT `+consumerColumns+` FROM consumers WHERE id = ? OR name = ? `+
		`ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`, idOrName, idOrName, idOrName)
	c, err := scanConsumer(row)
	if err != nil {
		return nil, db.notFound(err, op, "Consumer")
	}
	return c, nil
}

// ListConsumers returns every consumer ordered by name.
func (db *DB) ListConsumers(ctx context.Context) ([]*hrgate.Consumer, error) {
	const op = "sqlstore.ListConsumers"
	rows, err := db.stmts.query(ctx, `SELECT `+consumerColumns+` FROM consumers ORDER BY name`)
	return collect(db, op, rows, err, scanConsumer)
}

// DeleteConsumer deletes the consumer with the given id and, through the
// foreign keys' ON DELETE CASCADE, every API key and OAuth client of it;
// ENOTFOUND when there is no such consumer.
func (db *DB) DeleteConsumer(ctx context.Context, id string) error {
	const op = "sqlstore.DeleteConsumer"
	res, err := db.execBumpingEpoch(ctx, `DELETE FROM consumers WHERE id = ?`, id)
	if err != nil {
		return db.translate(err, op)
	}
	return db.oneRow(res, op, "Consumer")
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanConsumer(s scanner) (*hrgate.Consumer, error) {
	var (
		c                 hrgate.Consumer
		scopes            string
		created, modified sql.NullInt64
		maxAge, grace     int64
	)
	err := s.Scan(&c.ID, &c.Name, &c.Description, &scopes, &created, &modified, &maxAge, &grace,
		&c.RateLimit.Rate, &c.RateLimit.Burst, &c.RateLimit.Quota)
	if err != nil {
		return nil, err
	}
	c.KeyRotation = hrgate.KeyRotation{MaxAge: time.Duration(maxAge) * time.Second, Grace: time.Duration(grace) * time.Second}
	if c.Scopes, err = decodeStrings(scopes); err != nil {
		return nil, err
	}
	c.CreatedAt, c.ModifiedAt = timeOf(created), timeOf(modified)
	return &c, nil
}

// oneRow returns ENOTFOUND for what when res affected no row.
func (db *DB) oneRow(res sql.Result, op, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return db.translate(err, op)
	}
	if n == 0 {
		return hrgate.ErrNotFound(what)
	}
	return nil
}

// seconds stores a policy duration in whole seconds.
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

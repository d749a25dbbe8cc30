package sqlstore

import (
	"context"
	"database/sql"

	"github.com/hrgate/hrgate"
)

const clientColumns = `id, consumer_id, description, auth_method, secret_hash, public_jwk, scopes, allow_cidrs, created_at, ` +
	`limit_rate, limit_burst, limit_quota`

// CreateClient inserts c. ENOTFOUND when its consumer does not exist,
// ECONFLICT when its id is taken; a client whose credential does not match
// its method is EINVALID.
func (db *DB) CreateClient(ctx context.Context, c *hrgate.OAuthClient) error {
	const op = "sqlstore.CreateClient"
	if c == nil || c.ID == "" || c.ConsumerID == "" {
		return invalid("An OAuth client needs an id and a consumer.")
	}
	if err := checkRateLimit(c.RateLimit); err != nil {
		return err
	}
	var secretHash []byte
	switch c.AuthMethod {
	case hrgate.AuthClientSecret:
		if len(c.SecretHash) != 32 || len(c.PublicJWK) != 0 {
			return invalid("A client_secret client needs a 32-byte secret hash and no public key.")
		}
		secretHash = c.SecretHash
	case hrgate.AuthPrivateKeyJWT:
		if len(c.SecretHash) != 0 || len(c.PublicJWK) == 0 {
			return invalid("A private_key_jwt client needs a public key and no secret.")
		}
	default:
		return invalid("An OAuth client's method must be client_secret or private_key_jwt.")
	}
	scopes, err := encodeStrings(c.Scopes)
	if err != nil {
		return db.translate(err, op)
	}
	cidrs, err := encodeStrings(c.AllowCIDRs)
	if err != nil {
		return db.translate(err, op)
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(`INSERT INTO oauth_clients (`+clientColumns+`) `+
		`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.ID, c.ConsumerID, c.Description, string(c.AuthMethod), secretHash, string(c.PublicJWK), scopes, cidrs,
		micros(c.CreatedAt), c.RateLimit.Rate, c.RateLimit.Burst, c.RateLimit.Quota)
	return db.translate(db.consumerRef(err), op)
}

// FindClient returns the client with the given id, or ENOTFOUND.
func (db *DB) FindClient(ctx context.Context, id string) (*hrgate.OAuthClient, error) {
	const op = "sqlstore.FindClient"
	c, err := scanClient(db.stmts.queryRow(ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE id = ?`, id))
	if err != nil {
		return nil, db.notFound(err, op, "OAuth client")
	}
	return c, nil
}

// ListClients returns the clients of a consumer, or of every consumer when
// consumerID is "", ordered by creation time and then id.
func (db *DB) ListClients(ctx context.Context, consumerID string) ([]*hrgate.OAuthClient, error) {
	const op = "sqlstore.ListClients"
	var q query
	q.write(`SELECT ` + clientColumns + ` FROM oauth_clients`)
	if consumerID != "" {
		q.and("consumer_id = ?", consumerID)
	}
	q.write(" ORDER BY created_at, id")
	rows, err := db.stmts.query(ctx, q.sb.String(), q.args...)
	return collect(db, op, rows, err, scanClient)
}

// SetClientRateLimit replaces the client's own rate limit and bumps the
// credential epoch in the same transaction, so that every instance applies
// the new limit to the client's token requests and tokens from the next
// request; ENOTFOUND when there is no such client. A limit outside the
// schema's bounds is EINVALID and changes nothing.
func (db *DB) SetClientRateLimit(ctx context.Context, id string, r hrgate.RateLimit) error {
	const op = "sqlstore.SetClientRateLimit"
	if err := checkRateLimit(r); err != nil {
		return err
	}
	res, err := db.execBumpingEpoch(ctx, `UPDATE oauth_clients SET limit_rate = ?, limit_burst = ?, limit_quota = ? WHERE id = ?`,
		r.Rate, r.Burst, r.Quota, id)
	if err != nil {
		return db.translate(err, op)
	}
	return db.oneRow(res, op, "OAuth client")
}

// DeleteClient deletes the client and bumps the credential epoch in the
// same transaction; ENOTFOUND when there is no such client.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	const op = "sqlstore.DeleteClient"
	res, err := db.execBumpingEpoch(ctx, `DELETE FROM oauth_clients WHERE id = ?`, id)
	if err != nil {
		return db.translate(err, op)
	}
	return db.oneRow(res, op, "OAuth client")
}

func scanClient(s scanner) (*hrgate.OAuthClient, error) {
	var (
		c                         hrgate.OAuthClient
		method, jwk, scopes, cidr string
		created                   sql.NullInt64
	)
	err := s.Scan(&c.ID, &c.ConsumerID, &c.Description, &method, &c.SecretHash, &jwk, &scopes, &cidr, &created,
		&c.RateLimit.Rate, &c.RateLimit.Burst, &c.RateLimit.Quota)
	if err != nil {
		return nil, err
	}
	c.AuthMethod = hrgate.ClientAuthMethod(method)
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	if jwk != "" {
		c.PublicJWK = []byte(jwk)
	}
	if c.Scopes, err = decodeStrings(scopes); err != nil {
		return nil, err
	}
	if c.AllowCIDRs, err = decodeStrings(cidr); err != nil {
		return nil, err
	}
	c.CreatedAt = timeOf(created)
	return &c, nil
}

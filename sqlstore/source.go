package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hrgate/hrgate"
)

// sourceSecret is the vault column that keeps webhook signing keys.
var sourceSecret = vaultColumn{table: "source_secrets", key: "source_id", column: "secret", since: 6}

const sourceColumns = `id, company_id, name, type, token_hash, created_at, ` +
	`EXISTS (SELECT 1 FROM source_secrets ss WHERE ss.source_id = sources.id)`

// CreateSource inserts s and, when secret is not empty, its signing key
// sealed under the vault's key, in one transaction. A taken name is
// ECONFLICT; a company that does not exist is EINVALID.
func (db *DB) CreateSource(ctx context.Context, s *hrgate.Source, secret []byte) error {
	const op = "sqlstore.CreateSource"
	switch {
	case s == nil || s.ID == "" || s.CompanyID == "":
		return invalid("A source needs an id and a company.")
	case !hrgate.ValidSourceName(s.Name):
		return invalid("A source name is 1 to 63 lower-case letters, digits, '-' or '_'.")
	case !s.Type.Valid():
		return invalid("A source type is scim, csv or webhook.")
	case (s.Type == hrgate.SourceSCIM) != (len(s.TokenHash) > 0):
		return invalid("A SCIM source, and only a SCIM source, has a token.")
	case (s.Type == hrgate.SourceWebhook) != (len(secret) > 0):
		return invalid("A webhook source, and only a webhook source, has a signing secret.")
	}
	var sealed any
	if len(secret) > 0 {
		var err error
		if sealed, err = db.sealSecret(ctx, sourceSecret, s.ID, secret); err != nil {
			return db.translate(err, op)
		}
	}
	var hash any
	if len(s.TokenHash) > 0 {
		hash = s.TokenHash
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.dialect.rebind(
			`INSERT INTO sources (id, company_id, name, type, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			s.ID, s.CompanyID, s.Name, string(s.Type), hash, micros(s.CreatedAt))
		if err != nil || sealed == nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind(
			`INSERT INTO source_secrets (source_id, secret, created_at) VALUES (?, ?, ?)`), s.ID, sealed, micros(s.CreatedAt))
		return err
	})
	if v := db.dialect.classify(err); v.kind == violationUnique && v.key == "name" {
		return &hrgate.Error{Code: hrgate.ECONFLICT, Message: "A source with this name already exists.", Err: err}
	}
	if err == nil {
		s.HasSecret = sealed != nil
	}
	return db.translate(err, op)
}

// FindSource returns the source with the given id or name, or ENOTFOUND.
// Names are never shaped like ids, so one argument cannot name two.
func (db *DB) FindSource(ctx context.Context, idOrName string) (*hrgate.Source, error) {
	const op = "sqlstore.FindSource"
	row := db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT `+sourceColumns+` FROM sources WHERE id = ? OR name = ?`), idOrName, idOrName)
	s, err := scanSource(row)
	if err != nil {
		return nil, db.notFound(err, op, "Source")
	}
	return s, nil
}

// FindSourceByTokenHash returns the SCIM source whose token has the given
// hash, or ENOTFOUND.
func (db *DB) FindSourceByTokenHash(ctx context.Context, hash []byte) (*hrgate.Source, error) {
	const op = "sqlstore.FindSourceByTokenHash"
	if len(hash) == 0 {
		return nil, hrgate.ErrNotFound("Source")
	}
	row := db.stmts.queryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE token_hash = ?`, hash)
	s, err := scanSource(row)
	if err != nil {
		return nil, db.notFound(err, op, "Source")
	}
	return s, nil
}

// ListSources returns the sources of a company ("" for all) by name.
func (db *DB) ListSources(ctx context.Context, companyID string) ([]*hrgate.Source, error) {
	const op = "sqlstore.ListSources"
	q, args := `SELECT `+sourceColumns+` FROM sources ORDER BY name`, []any(nil)
	if companyID != "" {
		q, args = `SELECT `+sourceColumns+` FROM sources WHERE company_id = ? ORDER BY name`, []any{companyID}
	}
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(q), args...)
	return collect(db, op, rows, err, scanSource)
}

// SourceSecret returns the opened signing key of a webhook source, or
// ENOTFOUND. A key that does not open (changed, or copied from another
// source) is an internal error, logged without the key.
func (db *DB) SourceSecret(ctx context.Context, id string) ([]byte, error) {
	const op = "sqlstore.SourceSecret"
	var stored []byte
	err := db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT secret FROM source_secrets WHERE source_id = ?`), id).Scan(&stored)
	if err != nil {
		return nil, db.notFound(err, op, "Source secret")
	}
	secret, err := db.openSecret(ctx, sourceSecret, id, stored)
	if err != nil {
		return nil, db.translate(err, op)
	}
	return secret, nil
}

// RotateSourceCredential implements hrgate.SourceStore. The new secret is
// sealed before the transaction, as at creation. On SQLite the old sealed
// one is overwritten (secure_delete) and the WAL made to forget it; on
// PostgreSQL its row version stays, sealed, until vacuum reuses the space,
// as after DeleteSource: it opens only with the vault key, and no longer
// authenticates anything.
func (db *DB) RotateSourceCredential(ctx context.Context, id string, tokenHash, secret []byte, at time.Time) error {
	const op = "sqlstore.RotateSourceCredential"
	if (len(tokenHash) > 0) == (len(secret) > 0) {
		return invalid("A new credential is a SCIM token or a webhook signing secret.")
	}
	var sealed any
	if len(secret) > 0 {
		var err error
		if sealed, err = db.sealSecret(ctx, sourceSecret, id, secret); err != nil {
			return db.translate(err, op)
		}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Only a SCIM source has a token hash, only a webhook source a
		// secret row: the update finds the row of the source's kind.
		var (
			res sql.Result
			err error
		)
		if len(tokenHash) > 0 {
			res, err = tx.ExecContext(ctx, db.dialect.rebind(`UPDATE sources SET token_hash = ? WHERE id = ? AND type = 'scim'`), tokenHash, id)
		} else {
			res, err = tx.ExecContext(ctx, db.dialect.rebind(`UPDATE source_secrets SET secret = ?, created_at = ? WHERE source_id = ?`),
				sealed, micros(at), id)
		}
		if n, err := rowsAffected(res, err); err != nil || n == 1 {
			return err
		}
		var typ string
		err = tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT type FROM sources WHERE id = ?`), id).Scan(&typ)
		if errors.Is(err, sql.ErrNoRows) {
			return hrgate.ErrNotFound("Source")
		} else if err != nil {
			return err
		}
		return invalid("A %s source has no credential of that kind.", typ)
	})
	if err != nil {
		return db.translate(err, op)
	}
	if sealed != nil {
		db.flushDeleted(ctx)
	}
	return nil
}

// DeleteSource deletes the source, its secret and its runs, or ENOTFOUND.
// The employees it brought in and the change events it wrote stay.
func (db *DB) DeleteSource(ctx context.Context, id string) error {
	const op = "sqlstore.DeleteSource"
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM sources WHERE id = ?`), id)
	if err != nil {
		return db.translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil {
		return db.translate(err, op)
	} else if n == 0 {
		return hrgate.ErrNotFound("Source")
	}
	// The sealed secret was overwritten in place (secure_delete); make
	// the WAL forget it too.
	db.flushDeleted(ctx)
	return nil
}

func scanSource(s scanner) (*hrgate.Source, error) {
	var (
		src     hrgate.Source
		typ     string
		hash    []byte
		created sql.NullInt64
		secret  bool
	)
	if err := s.Scan(&src.ID, &src.CompanyID, &src.Name, &typ, &hash, &created, &secret); err != nil {
		return nil, err
	}
	src.Type = hrgate.SourceType(typ)
	if len(hash) > 0 {
		src.TokenHash = hash
	}
	src.CreatedAt = timeOf(created)
	src.HasSecret = secret
	return &src, nil
}

var _ hrgate.SourceStore = (*DB)(nil)

// errSourceGone is returned by a sync whose source was deleted meanwhile.
var errSourceGone = errors.New("the source was deleted")

package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hrgate/hrgate"
)

// VaultOwner is the keyring owner whose data key seals hrgate's own
// secrets: the secrets table, token signing keys and key deliveries.
// Employee ids start with "emp_", so no employee is this owner, and no
// erase of an employee reaches the vault's key.
const VaultOwner = "vault"

// vaultSealedName names the row of the secrets table that records that
// every secret in this database is sealed. Its value is sealed too, so
// that opening it at start proves the keyring is the one that sealed
// them, before anything is read or written.
const vaultSealedName = "vault_sealed"

var vaultSealedValue = []byte("hrgate vault v1: every secret in this database is sealed")

// vaultColumn is a column that holds secrets. Each is written only
// through DB.sealSecret and read only through DB.openSecret, with the
// row's key as the record a sealed value is bound to: a value copied to
// another row, or another column, does not open.
type vaultColumn struct {
	table, key, column string
	// text marks a TEXT column, which keeps the sealed bytes in base64.
	text bool
	// since is the data migration that created the column.
	since int
}

var (
	secretValue       = vaultColumn{table: "secrets", key: "name", column: "value", since: 1}
	deliverySecret    = vaultColumn{table: "key_deliveries", key: "key_id", column: "secret", text: true, since: 2}
	signingPrivateKey = vaultColumn{table: "oauth_signing_keys", key: "id", column: "private_key", since: 3}

	// vaultColumns lists every column that holds a secret. A new one
	// (webhook secrets, source credentials, host keys) is added here, so
	// that databases written before it get sealed at open.
	vaultColumns = []vaultColumn{secretValue, deliverySecret, signingPrivateKey, sourceSecret, webhookSecret}
)

func (c vaultColumn) ref(id string) hrgate.FieldRef {
	return hrgate.FieldRef{Table: c.table, RecordID: id, Field: c.column}
}

// encode turns sealed bytes into the value stored in the column.
func (c vaultColumn) encode(b []byte) any {
	if c.text {
		return base64.StdEncoding.EncodeToString(b)
	}
	return b
}

// decode turns the stored value, scanned into bytes, back into what
// encode was given.
func (c vaultColumn) decode(id string, stored []byte) ([]byte, error) {
	if !c.text {
		return stored, nil
	}
	b, err := base64.StdEncoding.DecodeString(string(stored))
	if err != nil {
		return nil, fmt.Errorf("%s of %s %s is not sealed: %w", c.column, c.table, id, hrgate.ErrIntegrity)
	}
	return b, nil
}

// vaultMode says how a data store keeps its secrets.
type vaultMode int

const (
	vaultUnsettled vaultMode = iota // not yet known: checked on first use
	vaultSealed                     // sealed under the cipher
	vaultPlain                      // in the clear (Options.InsecurePlaintext, tests only)
)

// vaultState is what a DB knows of its secrets.
type vaultState struct {
	mu   sync.Mutex
	mode vaultMode
	// err, when set, refuses every use of a secret for the life of the
	// DB: it was opened without the means to handle them.
	err error
}

// openVault settles how the store keeps its secrets as it opens. With a
// cipher, secrets that an earlier hrgate stored in the clear are sealed
// now, and a store sealed by another keyring is refused here, before
// anything else is read or written. A schema too old to hold the secret
// columns is settled later, on first use, once it has been migrated.
func (db *DB) openVault(ctx context.Context) error {
	if db.enc.kr == nil {
		return nil // settled on first use: stores without secrets open as before
	}
	_, err := db.vaultMode(ctx)
	if errors.Is(err, errVaultSchema) {
		return nil
	}
	return err
}

var errVaultSchema = errors.New("the database schema is older than this hrgate; run hrgate migrate")

// vaultMode returns how the store keeps its secrets, settling it on the
// first call that can.
func (db *DB) vaultMode(ctx context.Context) (vaultMode, error) {
	v := &db.vault
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return 0, v.err
	}
	if v.mode != vaultUnsettled {
		return v.mode, nil
	}
	mode, err := db.settleVault(ctx)
	if err != nil {
		return 0, err
	}
	v.mode = mode
	return mode, nil
}

func (db *DB) settleVault(ctx context.Context) (vaultMode, error) {
	if db.enc.kr == nil {
		if !db.enc.insecure {
			db.vault.err = &hrgate.Error{Code: hrgate.EINTERNAL, Message: "Internal error.",
				Err: errors.New("sqlstore: the data store was opened without a keyring, so it neither stores nor reads hrgate's secrets")}
			return 0, db.vault.err
		}
		// A store opened in the clear must not take sealed secrets
		// for plaintext, nor add plaintext ones beside them.
		sealed, err := db.hasVaultMarker(ctx)
		if err != nil {
			return 0, err
		}
		if sealed {
			db.vault.err = &hrgate.Error{Code: hrgate.EINTERNAL, Message: "Internal error.",
				Err: errors.New("sqlstore: the secrets in this database are sealed; open it with its keyring")}
			return 0, db.vault.err
		}
		return vaultPlain, nil
	}
	version, err := db.schemaVersion(ctx, dataSchema)
	if err != nil {
		return 0, err
	}
	for _, c := range vaultColumns {
		if version < c.since {
			return 0, errVaultSchema
		}
	}
	if err := db.sealVault(ctx); err != nil {
		return 0, err
	}
	return vaultSealed, nil
}

// HoldsKeyringData reports whether the data store at dsn was ever opened
// with a keyring: it records a keyring binding, or its secrets are sealed.
// It writes nothing and creates nothing (a SQLite file that does not exist
// is not created), so that the command line can ask before it creates a
// keyring: a data store that holds such data while its key store holds no
// keyring has lost its key store, and a new keyring would open none of it.
func HoldsKeyringData(ctx context.Context, dsn string) (bool, error) {
	var (
		db  *DB
		err error
	)
	if hrgate.IsPostgresDSN(dsn) {
		db, err = openPostgres(ctx, dsn)
	} else {
		if _, serr := os.Stat(dsn); errors.Is(serr, fs.ErrNotExist) {
			return false, nil
		}
		db, err = openSQLite(ctx, dsn, slog.New(slog.DiscardHandler), sqliteTuning{synchronous: "NORMAL"})
	}
	if err != nil {
		return false, err
	}
	db.skipOptimize = true // PRAGMA optimize may write
	defer db.Close()
	bound, err := db.hasStateTable(ctx)
	if err == nil && bound {
		_, _, bound, err = db.readBinding(ctx)
	}
	if err != nil || bound {
		return bound, err
	}
	return db.hasVaultMarker(ctx)
}

// hasVaultMarker reports whether the store's secrets are sealed.
func (db *DB) hasVaultMarker(ctx context.Context) (bool, error) {
	_, found, err := db.vaultMarker(ctx)
	return found, err
}

// vaultMarker returns the stored marker, reading through the writer so
// that a marker another instance just committed is seen.
func (db *DB) vaultMarker(ctx context.Context) ([]byte, bool, error) {
	var one int
	err := db.write.QueryRowContext(ctx, db.dialect.rebind(db.dialect.tableExists), secretValue.table).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	var v []byte
	if err == nil {
		err = db.write.QueryRowContext(ctx, db.dialect.rebind(`SELECT value FROM secrets WHERE name = ?`), vaultSealedName).Scan(&v)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlstore: read the vault marker: %w", err)
	}
	return v, true, nil
}

// sealVault makes sure every secret in the database is sealed under the
// cipher. Once the marker exists it only checks that the marker opens.
// Without it, it seals every secret an earlier hrgate stored in the clear
// and inserts the marker, in one transaction: a failure leaves the
// secrets as they were, and a second start does the work again. The
// marker is inserted first, so that of several instances starting at once
// one converts and the others wait for its commit (PostgreSQL) or queue
// behind it (SQLite), then find the marker.
func (db *DB) sealVault(ctx context.Context) error {
	marker, found, err := db.vaultMarker(ctx)
	if err != nil {
		return err
	}
	if !found {
		// Create the vault's data key before the transaction, so that
		// sealing inside it only reads the key store.
		if err := db.enc.kr.CreateDataKeys(ctx, []string{VaultOwner}); err != nil {
			return fmt.Errorf("sqlstore: create the vault's data key: %w", err)
		}
		sealed, err := db.enc.kr.Seal(ctx, VaultOwner, secretValue.ref(vaultSealedName), vaultSealedValue)
		if err != nil {
			return fmt.Errorf("sqlstore: seal the vault marker: %w", err)
		}
		won, n := false, 0
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, db.dialect.rebind(
				`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
				vaultSealedName, sealed, db.epoch.now().UnixMicro())
			if err != nil {
				return err
			}
			if affected, err := res.RowsAffected(); err != nil || affected == 0 {
				return err // another instance sealed the vault
			}
			won = true
			n, err = db.sealPlaintext(ctx, tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: seal the secrets stored in the clear: %w", err)
		}
		if won {
			if n > 0 {
				db.logger.Info("sealed the secrets an earlier hrgate stored in the clear", "count", n)
				db.compactVault(ctx)
			}
			return nil
		}
		if marker, found, err = db.vaultMarker(ctx); err != nil {
			return err
		} else if !found {
			return errors.New("sqlstore: the vault marker vanished as it was created")
		}
	}
	plain, err := db.enc.kr.Open(ctx, VaultOwner, secretValue.ref(vaultSealedName), marker)
	if err == nil && !bytes.Equal(plain, vaultSealedValue) {
		err = hrgate.ErrIntegrity
	}
	if err != nil {
		return fmt.Errorf("sqlstore: the keyring does not open the secrets of this database: they were sealed by another "+
			"keyring, or its key store lost the vault's key; open the database with the key store and master key "+
			"it was used with: %w", err)
	}
	return nil
}

// sealPlaintext seals, in tx, every secret of every vault column but the
// marker, and returns how many it sealed. It runs once per database,
// before the marker commits, when every value is still in the clear.
func (db *DB) sealPlaintext(ctx context.Context, tx *sql.Tx) (int, error) {
	return db.rewriteVault(ctx, tx, "sqlstore.sealPlaintext", vaultSealedName, func(c vaultColumn, id string, plain []byte) (any, error) {
		return sealWith(ctx, db.enc.kr, c, id, plain)
	})
}

// rewriteVault replaces, in tx, every value of every vault column, but
// that of the row named skip, with what rewrite returns for it, and
// returns how many it replaced.
func (db *DB) rewriteVault(ctx context.Context, tx *sql.Tx, op, skip string,
	rewrite func(c vaultColumn, id string, stored []byte) (any, error)) (int, error) {
	n := 0
	for _, c := range vaultColumns {
		// #nosec G202 -- table and column names come from vaultColumns, constants of this package.
		rows, err := tx.QueryContext(ctx, db.dialect.rebind(
			`SELECT `+c.key+`, `+c.column+` FROM `+c.table+` WHERE `+c.key+` <> ? ORDER BY `+c.key), skip)
		type row struct {
			id     string
			stored []byte
		}
		all, err := collect(db, op, rows, err, func(s scanner) (row, error) {
			var r row
			err := s.Scan(&r.id, &r.stored)
			return r, err
		})
		if err != nil {
			return 0, err
		}
		for _, r := range all {
			v, err := rewrite(c, r.id, r.stored)
			if err != nil {
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(
				`UPDATE `+c.table+` SET `+c.column+` = ? WHERE `+c.key+` = ?`), v, r.id); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// compactVault, after secrets were sealed in place, drops the old row
// versions that still hold them in the clear, as far as the database
// allows: on SQLite it checkpoints the WAL into the file (secure_delete
// has zeroed the old cells) and truncates it; on PostgreSQL it rewrites
// the secret tables. A failure is logged: copies made before, the
// PostgreSQL WAL and backups are out of its reach anyway (docs/security.md).
func (db *DB) compactVault(ctx context.Context) {
	var err error
	switch db.dialect.name {
	case "sqlite":
		var busy, logFrames, checkpointed int
		err = db.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
		if err == nil && busy != 0 {
			err = errors.New("the checkpoint was blocked by a reader")
		}
	case "postgres":
		// Every table vaultColumns names: a list written out here once
		// left out source_secrets, whose old row versions kept webhook
		// signing keys in the clear.
		tables := make([]string, 0, len(vaultColumns))
		for _, c := range vaultColumns {
			if !slices.Contains(tables, c.table) {
				tables = append(tables, c.table)
			}
		}
		// #nosec G202 -- the table names come from vaultColumns, constants of this package.
		_, err = db.write.ExecContext(ctx, `VACUUM FULL `+strings.Join(tables, ", "))
	}
	if err != nil {
		db.logger.Warn("could not remove the old copies of the secrets just sealed from the database files; "+
			"they go as the database reuses the space", "error", err)
	}
}

// sealSecret returns the value to store in column c of row id for the
// secret plain: sealed under the vault's data key, or plain in a store
// opened with InsecurePlaintext.
func (db *DB) sealSecret(ctx context.Context, c vaultColumn, id string, plain []byte) (any, error) {
	mode, err := db.vaultMode(ctx)
	if err != nil {
		return nil, err
	}
	if mode == vaultPlain {
		if c.text {
			return string(plain), nil
		}
		return plain, nil
	}
	return sealWith(ctx, db.enc.kr, c, id, plain)
}

func sealWith(ctx context.Context, cipher hrgate.Cipher, c vaultColumn, id string, plain []byte) (any, error) {
	sealed, err := cipher.Seal(ctx, VaultOwner, c.ref(id), plain)
	if err != nil {
		return nil, fmt.Errorf("seal %s of %s %s: %w", c.column, c.table, id, err)
	}
	return c.encode(sealed), nil
}

// openSecret returns the secret held by column c of row id, as stored.
// A value that does not open (changed, or moved from another row) is an
// error wrapping hrgate.ErrIntegrity, which names the row, never the
// value.
func (db *DB) openSecret(ctx context.Context, c vaultColumn, id string, stored []byte) ([]byte, error) {
	mode, err := db.vaultMode(ctx)
	if err != nil {
		return nil, err
	}
	if mode == vaultPlain {
		return stored, nil
	}
	sealed, err := c.decode(id, stored)
	if err != nil {
		return nil, err
	}
	plain, err := db.enc.kr.Open(ctx, VaultOwner, c.ref(id), sealed)
	if err != nil {
		return nil, fmt.Errorf("open %s of %s %s: %w", c.column, c.table, id, err)
	}
	return plain, nil
}

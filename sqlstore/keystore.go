package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// KeyStore is an hrgate.KeyringStore on SQLite or PostgreSQL: the keys
// migration set, opened on its own so that it can live in another
// database than the data it protects.
type KeyStore struct{ db *DB }

var _ hrgate.KeyringStore = (*KeyStore)(nil)

// OpenKeyStore opens the key store at dsn, a postgres:// URL or a SQLite
// file path, applying its migrations when opts.AutoMigrate is set.
func OpenKeyStore(ctx context.Context, dsn string, opts Options) (*KeyStore, error) {
	db, err := open(ctx, dsn, opts, keySchema)
	if err != nil {
		return nil, err
	}
	return &KeyStore{db: db}, nil
}

// Close closes the key store.
func (s *KeyStore) Close() error { return s.db.Close() }

// Dialect returns "sqlite" or "postgres".
func (s *KeyStore) Dialect() string { return s.db.dialect.name }

// HasKeys reports whether the store holds a keyring. It writes nothing, so
// that a start without the right master key can be refused before
// anything changes.
func (s *KeyStore) HasKeys(ctx context.Context) (bool, error) {
	const op = "sqlstore.HasKeys"
	var one int
	err := s.db.write.QueryRowContext(ctx, s.db.dialect.rebind(s.db.dialect.tableExists), "keyring_keys").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.db.translate(err, op)
	}
	err = s.db.write.QueryRowContext(ctx, `SELECT 1 FROM keyring_keys LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, s.db.translate(err, op)
}

// KeyringID implements hrgate.KeyringStore.
func (s *KeyStore) KeyringID(ctx context.Context, id string) (string, error) {
	const op = "sqlstore.KeyringID"
	db := s.db
	if id != "" {
		_, err := db.write.ExecContext(ctx, db.dialect.rebind(
			`INSERT INTO keyring_meta (id, keyring_id, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`),
			id, db.epoch.now().UnixMicro())
		if err != nil {
			return "", db.translate(err, op)
		}
	}
	var got string
	err := db.write.QueryRowContext(ctx, `SELECT keyring_id FROM keyring_meta WHERE id = 1`).Scan(&got)
	return got, db.notFound(err, op, "keyring")
}

const keyColumns = `purpose, version, wrapped_by, wrapped, state, created_at, retired_at`

// Keys implements hrgate.KeyringStore. It reads through the writer, so
// that a version another instance just inserted is seen.
func (s *KeyStore) Keys(ctx context.Context, purpose string) ([]*hrgate.WrappedKey, error) {
	const op = "sqlstore.Keys"
	rows, err := s.db.write.QueryContext(ctx, s.db.dialect.rebind(
		`SELECT `+keyColumns+` FROM keyring_keys WHERE purpose = ? ORDER BY version`), purpose)
	return collect(s.db, op, rows, err, func(sc scanner) (*hrgate.WrappedKey, error) {
		var (
			k                hrgate.WrappedKey
			state            string
			created, retired sql.NullInt64
		)
		if err := sc.Scan(&k.Purpose, &k.Version, &k.WrappedBy, &k.Wrapped, &state, &created, &retired); err != nil {
			return nil, err
		}
		k.State, k.CreatedAt, k.RetiredAt = hrgate.KeyState(state), timeOf(created), timeOf(retired)
		return &k, nil
	})
}

// InsertKey implements hrgate.KeyringStore.
func (s *KeyStore) InsertKey(ctx context.Context, k *hrgate.WrappedKey) error {
	const op = "sqlstore.InsertKey"
	if k == nil || k.Version <= 0 || len(k.Wrapped) == 0 || k.State != hrgate.KeyActive {
		return invalid("A new keyring key needs a version and wrapped bytes, and starts active.")
	}
	_, err := s.db.write.ExecContext(ctx, s.db.dialect.rebind(`INSERT INTO keyring_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`),
		k.Purpose, k.Version, k.WrappedBy, k.Wrapped, string(k.State), micros(k.CreatedAt))
	return s.db.translate(err, op)
}

// SetKeyState implements hrgate.KeyringStore.
func (s *KeyStore) SetKeyState(ctx context.Context, purpose string, version int, state hrgate.KeyState, at time.Time) error {
	const op = "sqlstore.SetKeyState"
	db := s.db
	var (
		res sql.Result
		err error
	)
	switch state {
	case hrgate.KeyDecryptOnly:
		res, err = db.write.ExecContext(ctx, db.dialect.rebind(
			`UPDATE keyring_keys SET state = 'decrypt_only' WHERE purpose = ? AND version = ? AND state = 'active'`), purpose, version)
	case hrgate.KeyRetired:
		// One statement checks and retires, so that no data key wrapped
		// under the version meanwhile is left without its KEK.
		res, err = db.write.ExecContext(ctx, db.dialect.rebind(
			`UPDATE keyring_keys SET state = 'retired', wrapped = NULL, retired_at = ? `+
				`WHERE purpose = ? AND version = ? AND state <> 'retired' `+
				`AND NOT (purpose = 'kek' AND EXISTS (SELECT 1 FROM keyring_data_keys WHERE kek_version = ?))`),
			at.UnixMicro(), purpose, version, version)
	default:
		return invalid("A key can be made decrypt-only or retired, nothing else.")
	}
	if err != nil {
		return db.translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return db.translate(err, op)
	}
	var current string
	err = db.write.QueryRowContext(ctx, db.dialect.rebind(`SELECT state FROM keyring_keys WHERE purpose = ? AND version = ?`),
		purpose, version).Scan(&current)
	switch {
	case err != nil:
		return db.notFound(err, op, "key version")
	case current == string(state):
		return nil
	case state == hrgate.KeyRetired:
		return hrgate.Errorf(hrgate.ECONFLICT, "Key version %d still wraps data keys.", version)
	}
	return hrgate.Errorf(hrgate.ECONFLICT, "Key version %d is %s.", version, current)
}

const dataKeyColumns = `owner, version, kek_version, wrapped, created_at`

func scanDataKey(sc scanner) (*hrgate.DataKey, error) {
	var (
		k       hrgate.DataKey
		created sql.NullInt64
	)
	if err := sc.Scan(&k.Owner, &k.Version, &k.KEKVersion, &k.Wrapped, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = timeOf(created)
	return &k, nil
}

// DataKeys implements hrgate.KeyringStore. It is the one key-store query
// on the read path (on a cache miss), so it uses the reader pool; a reader
// starts a new snapshot per query and so sees every committed key.
func (s *KeyStore) DataKeys(ctx context.Context, owners []string) ([]*hrgate.DataKey, error) {
	const op = "sqlstore.DataKeys"
	if len(owners) == 0 {
		return nil, nil
	}
	args := make([]any, len(owners))
	for i, o := range owners {
		args[i] = o
	}
	q := `SELECT ` + dataKeyColumns + ` FROM keyring_data_keys WHERE owner IN (?` +
		strings.Repeat(", ?", len(owners)-1) + `) ORDER BY owner, version`
	rows, err := s.db.read.QueryContext(ctx, s.db.dialect.rebind(q), args...)
	return collect(s.db, op, rows, err, scanDataKey)
}

// InsertDataKeys implements hrgate.KeyringStore.
func (s *KeyStore) InsertDataKeys(ctx context.Context, ks []*hrgate.DataKey) error {
	const op = "sqlstore.InsertDataKeys"
	db := s.db
	for _, k := range ks {
		if k == nil || k.Owner == "" || k.Version <= 0 || len(k.Wrapped) == 0 {
			return invalid("A data key needs an owner, a version and wrapped bytes.")
		}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// The KEK is checked inside the transaction: a key wrapped by a
		// version demoted meanwhile would need another re-wrap, and one
		// wrapped by a retired version could never be opened.
		for _, kek := range distinctKEKs(ks) {
			var state string
			err := tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT state FROM keyring_keys WHERE purpose = 'kek' AND version = ?`),
				kek).Scan(&state)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if state != string(hrgate.KeyActive) {
				return hrgate.Errorf(hrgate.ECONFLICT, "Key-encryption key version %d is not active.", kek)
			}
		}
		for len(ks) > 0 {
			chunk := ks[:min(len(ks), maxRowsPerInsert)]
			ks = ks[len(chunk):]
			args := make([]any, 0, 5*len(chunk))
			for _, k := range chunk {
				args = append(args, k.Owner, k.Version, k.KEKVersion, k.Wrapped, micros(k.CreatedAt))
			}
			q := `INSERT INTO keyring_data_keys (` + dataKeyColumns + `) VALUES (?, ?, ?, ?, ?)` +
				strings.Repeat(", (?, ?, ?, ?, ?)", len(chunk)-1) + ` ON CONFLICT (owner, version) DO NOTHING`
			if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), args...); err != nil {
				return err
			}
		}
		return nil
	})
	return db.translate(err, op)
}

func distinctKEKs(ks []*hrgate.DataKey) []int {
	var out []int
	for _, k := range ks {
		seen := false
		for _, v := range out {
			seen = seen || v == k.KEKVersion
		}
		if !seen {
			out = append(out, k.KEKVersion)
		}
	}
	return out
}

// DeleteDataKeys implements hrgate.KeyringStore.
func (s *KeyStore) DeleteDataKeys(ctx context.Context, owner string, below int) (int, error) {
	const op = "sqlstore.DeleteDataKeys"
	if owner == "" {
		return 0, invalid("Name the owner whose data keys to delete.")
	}
	q, args := `DELETE FROM keyring_data_keys WHERE owner = ?`, []any{owner}
	if below > 0 {
		q, args = q+` AND version < ?`, append(args, below)
	}
	res, err := s.db.write.ExecContext(ctx, s.db.dialect.rebind(q), args...)
	if err != nil {
		return 0, s.db.translate(err, op)
	}
	n, err := res.RowsAffected()
	if err == nil && below == 0 && n > 0 {
		// An erase: the wrapped keys must not linger in the WAL.
		s.db.flushDeleted(ctx)
	}
	return int(n), s.db.translate(err, op)
}

// DataKeysNotUnder implements hrgate.KeyringStore.
func (s *KeyStore) DataKeysNotUnder(ctx context.Context, kekVersion, limit int) ([]*hrgate.DataKey, error) {
	const op = "sqlstore.DataKeysNotUnder"
	rows, err := s.db.write.QueryContext(ctx, s.db.dialect.rebind(`SELECT `+dataKeyColumns+` FROM keyring_data_keys `+
		`WHERE kek_version <> ? ORDER BY kek_version, owner, version LIMIT ?`), kekVersion, limit)
	return collect(s.db, op, rows, err, scanDataKey)
}

// RewrapDataKeys implements hrgate.KeyringStore.
func (s *KeyStore) RewrapDataKeys(ctx context.Context, ks []*hrgate.DataKey, from []int) (int, error) {
	const op = "sqlstore.RewrapDataKeys"
	if len(ks) != len(from) {
		return 0, invalid("Every re-wrapped key needs the KEK version it was read under.")
	}
	db := s.db
	total := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, db.dialect.rebind(
			`UPDATE keyring_data_keys SET wrapped = ?, kek_version = ? WHERE owner = ? AND version = ? AND kek_version = ?`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, k := range ks {
			res, err := stmt.ExecContext(ctx, k.Wrapped, k.KEKVersion, k.Owner, k.Version, from[i])
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, db.translate(err, op)
	}
	return total, nil
}

// CountDataKeys implements hrgate.KeyringStore.
func (s *KeyStore) CountDataKeys(ctx context.Context) (map[int]int, error) {
	const op = "sqlstore.CountDataKeys"
	rows, err := s.db.write.QueryContext(ctx, `SELECT kek_version, COUNT(*) FROM keyring_data_keys GROUP BY kek_version`)
	type pair struct{ v, n int }
	ps, err := collect(s.db, op, rows, err, func(sc scanner) (pair, error) {
		var p pair
		err := sc.Scan(&p.v, &p.n)
		return p, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int]int, len(ps))
	for _, p := range ps {
		out[p.v] = p.n
	}
	return out, nil
}

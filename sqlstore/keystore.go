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

// forShare is appended to a SELECT of a key-encryption key row that a
// transaction is about to wrap data keys under. On PostgreSQL it locks the
// row until the transaction ends, so that the rotation demoting that
// version waits for the data keys to be committed: a retirement, which
// needs the version demoted first, then counts them. SQLite serialises
// every write transaction, so it needs no lock.
func (s *KeyStore) forShare() string {
	if s.db.dialect.name == "postgres" {
		return " FOR SHARE"
	}
	return ""
}

// InsertKey implements hrgate.KeyringStore. The new version becomes the
// active one and the purpose's older active versions turn decrypt-only in
// the same transaction, so that a crash never leaves two active versions.
// It refuses a key wrapped by another root than the store's other keys: a
// key store under two master keys could be opened with neither.
func (s *KeyStore) InsertKey(ctx context.Context, k *hrgate.WrappedKey) error {
	const op = "sqlstore.InsertKey"
	if k == nil || k.Version <= 0 || len(k.Wrapped) == 0 || k.WrappedBy == "" || k.State != hrgate.KeyActive {
		return invalid("A new keyring key needs a version, wrapped bytes and its root, and starts active.")
	}
	db := s.db
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var other string
		err := tx.QueryRowContext(ctx, db.dialect.rebind(
			`SELECT wrapped_by FROM keyring_keys WHERE wrapped IS NOT NULL AND wrapped_by <> ? LIMIT 1`), k.WrappedBy).Scan(&other)
		switch {
		case err == nil:
			return hrgate.Errorf(hrgate.ECONFLICT, "The key store's keys are wrapped by master key %s, not %s; "+
				"a key is added only under the master key that wraps the others.", other, k.WrappedBy)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO keyring_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`),
			k.Purpose, k.Version, k.WrappedBy, k.Wrapped, string(k.State), micros(k.CreatedAt)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind(
			`UPDATE keyring_keys SET state = 'decrypt_only' WHERE purpose = ? AND state = 'active' AND version < ?`), k.Purpose, k.Version)
		return err
	})
	return db.translate(err, op)
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
		// under the version meanwhile is left without its KEK. Only a
		// decrypt-only version qualifies: whatever wraps data keys under a
		// version holds its row (forShare) while it is active, so once it
		// is demoted every such data key is committed and counted here.
		res, err = db.write.ExecContext(ctx, db.dialect.rebind(
			`UPDATE keyring_keys SET state = 'retired', wrapped = NULL, retired_at = ? `+
				`WHERE purpose = ? AND version = ? AND state = 'decrypt_only' `+
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
	case current == string(hrgate.KeyActive):
		return hrgate.Errorf(hrgate.ECONFLICT, "The %s key version %d is the active one; it cannot be retired.", purpose, version)
	case state == hrgate.KeyRetired:
		return hrgate.Errorf(hrgate.ECONFLICT, "The %s key version %d still wraps data keys.", purpose, version)
	}
	return hrgate.Errorf(hrgate.ECONFLICT, "The %s key version %d is %s.", purpose, version, current)
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
	var rows *sql.Rows
	var err error
	if len(owners) <= maxCachedOwners {
		// The few owners of one request; larger batches have shapes of
		// their own that would crowd the cache.
		rows, err = s.db.stmts.query(ctx, q, args...)
	} else {
		rows, err = s.db.read.QueryContext(ctx, s.db.dialect.rebind(q), args...)
	}
	return collect(s.db, op, rows, err, scanDataKey)
}

// maxCachedOwners bounds the look-ups of data keys whose statement is
// kept prepared.
const maxCachedOwners = 4

// InsertDataKeys implements hrgate.KeyringStore.
func (s *KeyStore) InsertDataKeys(ctx context.Context, ks []*hrgate.DataKey) ([]*hrgate.DataKey, error) {
	const op = "sqlstore.InsertDataKeys"
	db := s.db
	for _, k := range ks {
		if k == nil || k.Owner == "" || k.Version <= 0 || len(k.Wrapped) == 0 {
			return nil, invalid("A data key needs an owner, a version and wrapped bytes.")
		}
	}
	type ownerVersion struct {
		owner   string
		version int
	}
	var stored []*hrgate.DataKey
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		stored = stored[:0]
		// The KEK is checked inside the transaction: a key wrapped by a
		// version demoted meanwhile would need another re-wrap, and one
		// wrapped by a retired version could never be opened.
		for _, kek := range distinctKEKs(ks) {
			if err := s.checkActiveKEK(ctx, tx, kek); err != nil {
				return err
			}
		}
		for rest := ks; len(rest) > 0; {
			chunk := rest[:min(len(rest), maxRowsPerInsert)]
			rest = rest[len(chunk):]
			args := make([]any, 0, 5*len(chunk))
			byKey := make(map[ownerVersion]*hrgate.DataKey, len(chunk))
			for _, k := range chunk {
				args = append(args, k.Owner, k.Version, k.KEKVersion, k.Wrapped, micros(k.CreatedAt))
				byKey[ownerVersion{k.Owner, k.Version}] = k
			}
			// RETURNING names the rows this statement wrote, not those
			// another writer had stored first, on SQLite and PostgreSQL.
			q := `INSERT INTO keyring_data_keys (` + dataKeyColumns + `) VALUES (?, ?, ?, ?, ?)` +
				strings.Repeat(", (?, ?, ?, ?, ?)", len(chunk)-1) + ` ON CONFLICT (owner, version) DO NOTHING RETURNING owner, version`
			rows, err := db.wstmts.txQuery(ctx, tx, q, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var key ownerVersion
				if err := rows.Scan(&key.owner, &key.version); err != nil {
					rows.Close()
					return err
				}
				if k := byKey[key]; k != nil {
					stored = append(stored, k)
				}
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, db.translate(err, op)
	}
	return stored, nil
}

// checkActiveKEK returns ECONFLICT unless KEK version kek is active,
// holding its row until tx ends on PostgreSQL (forShare).
func (s *KeyStore) checkActiveKEK(ctx context.Context, tx *sql.Tx, kek int) error {
	var state string
	err := s.db.wstmts.txQueryRow(ctx, tx, `SELECT state FROM keyring_keys WHERE purpose = 'kek' AND version = ?`+s.forShare(),
		kek).Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if state != string(hrgate.KeyActive) {
		return hrgate.Errorf(hrgate.ECONFLICT, "Key-encryption key version %d is not active.", kek)
	}
	return nil
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
	if below <= 0 {
		return s.EraseDataKeys(ctx, []string{owner})
	}
	res, err := s.db.write.ExecContext(ctx, s.db.dialect.rebind(
		`DELETE FROM keyring_data_keys WHERE owner = ? AND version < ?`), owner, below)
	n, err := rowsAffected(res, err)
	return n, s.db.translate(err, op)
}

// EraseDataKeys implements hrgate.KeyringStore: one statement per
// maxLookup owners, and one flush of the WAL at the end (after a failure
// too), so that the wrapped keys of an erasure do not linger there.
func (s *KeyStore) EraseDataKeys(ctx context.Context, owners []string) (int, error) {
	const op = "sqlstore.EraseDataKeys"
	if slices.Contains(owners, "") {
		return 0, invalid("Name the owners whose data keys to delete.")
	}
	total := 0
	defer func() {
		if total > 0 {
			s.db.flushDeleted(ctx)
		}
	}()
	for start := 0; start < len(owners); start += maxLookup {
		chunk := owners[start:min(start+maxLookup, len(owners))]
		args := make([]any, len(chunk))
		for i, o := range chunk {
			args[i] = o
		}
		res, err := s.db.write.ExecContext(ctx, s.db.dialect.rebind(
			`DELETE FROM keyring_data_keys WHERE owner IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`), args...)
		n, err := rowsAffected(res, err)
		if err != nil {
			return total, s.db.translate(err, op)
		}
		total += n
	}
	return total, nil
}

// SupersededDataKeyOwners implements hrgate.KeyringStore. Versions are
// created in order, so an owner's newest version is its newest created_at.
func (s *KeyStore) SupersededDataKeyOwners(ctx context.Context, createdBefore time.Time, after string, limit int) ([]string, error) {
	const op = "sqlstore.SupersededDataKeyOwners"
	if limit <= 0 {
		return nil, invalid("Name how many owners to return.")
	}
	rows, err := s.db.read.QueryContext(ctx, s.db.dialect.rebind(`SELECT owner FROM keyring_data_keys WHERE owner > ?
		GROUP BY owner HAVING COUNT(*) > 1 AND MAX(created_at) < ? ORDER BY owner LIMIT ?`), after, micros(createdBefore), limit)
	return collect(s.db, op, rows, err, scanString)
}

// DataKeysBelow implements hrgate.KeyringStore. Both conditions are
// ranges of the (kek_version, owner, version) index: a re-wrap does not
// scan again what it has passed, and finding nothing left is one probe,
// however many keys are under the active version.
func (s *KeyStore) DataKeysBelow(ctx context.Context, kekVersion int, after *hrgate.DataKey, limit int) ([]*hrgate.DataKey, error) {
	const op = "sqlstore.DataKeysBelow"
	q, args := `SELECT `+dataKeyColumns+` FROM keyring_data_keys WHERE kek_version < ?`, []any{kekVersion}
	if after != nil {
		q += ` AND (kek_version, owner, version) > (?, ?, ?)`
		args = append(args, after.KEKVersion, after.Owner, after.Version)
	}
	rows, err := s.db.write.QueryContext(ctx, s.db.dialect.rebind(q+` ORDER BY kek_version, owner, version LIMIT ?`), append(args, limit)...)
	return collect(s.db, op, rows, err, scanDataKey)
}

// RewrapDataKeys implements hrgate.KeyringStore. The KEK versions the keys
// are now wrapped by must be active, checked in the transaction that
// writes them (see forShare): a re-wrapper that missed a rotation must not
// move keys onto a version that is being retired.
func (s *KeyStore) RewrapDataKeys(ctx context.Context, ks []*hrgate.DataKey, from []int) (int, error) {
	const op = "sqlstore.RewrapDataKeys"
	if len(ks) != len(from) {
		return 0, invalid("Every re-wrapped key needs the KEK version it was read under.")
	}
	for _, k := range ks {
		if k == nil || k.Owner == "" || k.Version <= 0 || len(k.Wrapped) == 0 {
			return 0, invalid("A data key needs an owner, a version and wrapped bytes.")
		}
	}
	if len(ks) == 0 {
		return 0, nil
	}
	db := s.db
	total := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, kek := range distinctKEKs(ks) {
			if err := s.checkActiveKEK(ctx, tx, kek); err != nil {
				return err
			}
		}
		var err error
		if db.dialect.name == "postgres" {
			total, err = rewrapPostgres(ctx, tx, ks, from)
		} else {
			total, err = rewrapSQLite(ctx, tx, ks, from)
		}
		return err
	})
	if err != nil {
		return 0, db.translate(err, op)
	}
	return total, nil
}

// rewrapSQLite updates the keys one by one through one prepared
// statement: SQLite runs in process, so a statement costs no round trip.
func rewrapSQLite(ctx context.Context, tx *sql.Tx, ks []*hrgate.DataKey, from []int) (int, error) {
	stmt, err := tx.PrepareContext(ctx,
		`UPDATE keyring_data_keys SET wrapped = ?, kek_version = ? WHERE owner = ? AND version = ? AND kek_version = ?`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	total := 0
	for i, k := range ks {
		res, err := stmt.ExecContext(ctx, k.Wrapped, k.KEKVersion, k.Owner, k.Version, from[i])
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += int(n)
	}
	return total, nil
}

// rewrapPostgres updates every key in one statement, joining the table
// with arrays of the new values: one round trip per batch instead of one
// per key.
func rewrapPostgres(ctx context.Context, tx *sql.Tx, ks []*hrgate.DataKey, from []int) (int, error) {
	owners := make([]string, len(ks))
	versions := make([]int32, len(ks))
	keks := make([]int32, len(ks))
	froms := make([]int32, len(ks))
	wrapped := make([][]byte, len(ks))
	for i, k := range ks {
		owners[i], versions[i], keks[i], froms[i], wrapped[i] = k.Owner, int32(k.Version), int32(k.KEKVersion), int32(from[i]), k.Wrapped
	}
	res, err := tx.ExecContext(ctx, `UPDATE keyring_data_keys AS d SET wrapped = u.wrapped, kek_version = u.kek `+
		`FROM unnest($1::text[], $2::integer[], $3::integer[], $4::integer[], $5::bytea[]) AS u(owner, version, kek, from_kek, wrapped) `+
		`WHERE d.owner = u.owner AND d.version = u.version AND d.kek_version = u.from_kek`,
		owners, versions, keks, froms, wrapped)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RewrapKeys implements hrgate.KeyringStore. On PostgreSQL the table is
// locked against writes for the transaction, so that no key version is
// added under the old root while the others move to the new one; SQLite
// serialises write transactions anyway.
func (s *KeyStore) RewrapKeys(ctx context.Context, ks []*hrgate.WrappedKey, from string) error {
	const op = "sqlstore.RewrapKeys"
	if len(ks) == 0 || from == "" {
		return invalid("Name the keys to re-wrap and the root they were wrapped by.")
	}
	to := ks[0].WrappedBy
	for _, k := range ks {
		if k == nil || k.Version <= 0 || len(k.Wrapped) == 0 || k.WrappedBy != to || to == "" || to == from {
			return invalid("Every re-wrapped key needs wrapped bytes and the same new root, other than the old one.")
		}
	}
	db := s.db
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if db.dialect.name == "postgres" {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE keyring_keys IN EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		for _, k := range ks {
			res, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE keyring_keys SET wrapped = ?, wrapped_by = ? `+
				`WHERE purpose = ? AND version = ? AND wrapped_by = ? AND state <> 'retired'`),
				k.Wrapped, k.WrappedBy, k.Purpose, k.Version, from)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return hrgate.Errorf(hrgate.ECONFLICT, "The %s key version %d changed while the keys were re-wrapped; nothing was changed, try again.", k.Purpose, k.Version)
			}
		}
		var left int
		if err := tx.QueryRowContext(ctx, db.dialect.rebind(
			`SELECT COUNT(*) FROM keyring_keys WHERE wrapped IS NOT NULL AND wrapped_by <> ?`), to).Scan(&left); err != nil {
			return err
		}
		if left > 0 {
			return hrgate.Errorf(hrgate.ECONFLICT, "%d key versions were added or changed while the keys were re-wrapped; nothing was changed, try again.", left)
		}
		return nil
	})
	return db.translate(err, op)
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

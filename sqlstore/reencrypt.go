package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyring"
)

// The re-encryption jobs bring stored employees in line with the keyring
// and the policy, batch by batch. Each batch is its own transaction, and a
// row is changed only if it still holds what the job read (compare and
// swap), so a crash loses at most the batch under way, the next run
// carries on from what is left, and two instances running the jobs at once
// do not undo each other. See docs/encryption.md.

// DefaultReencryptBatch is the batch size Reencrypt uses for 0.
const DefaultReencryptBatch = 500

// ReencryptResult counts what one Reencrypt did.
type ReencryptResult struct {
	// Reindexed rows had their blind indexes recomputed under the active
	// index key.
	Reindexed int `json:"reindexed"`
	// Encrypted rows had plain-text groups sealed that the policy now
	// encrypts.
	Encrypted int `json:"encrypted"`
	// Rotated rows were re-sealed under a new data key version.
	Rotated int `json:"rotated"`
	// Settled employees had the data key versions a rotation left behind
	// deleted, once no instance could still seal under them.
	Settled int `json:"settled"`
	// Skipped rows could not be read (their keys erased, or tampered
	// with); each is logged. They do not hold a job back.
	Skipped int `json:"skipped"`
}

// Total is the number of rows changed.
func (r ReencryptResult) Total() int { return r.Reindexed + r.Encrypted + r.Rotated }

// Reencrypt runs the data-side re-encryption jobs, each until it has
// nothing left to do or ctx ends, batch rows at a time (0 means
// DefaultReencryptBatch):
//
//   - re-index: recompute the blind indexes of rows below the active
//     index key version, after keyring.Rotate(ctx, hrgate.PurposeIndex);
//   - encrypt: seal the plain text left in groups the policy encrypts (a
//     database from before field encryption, or a confidential group the
//     operator started to encrypt), after which a plain-text value in
//     them is refused as an integrity error;
//   - rotate: after StartDataKeyRotation, give every employee a new data
//     key version and re-seal its groups under it;
//   - settle: once a rotation is older than keyring.MaxCacheTTL, so that
//     no instance can still seal under an older version, re-seal what
//     was sealed under one meanwhile and delete the older versions — in
//     that order, so that a crash never leaves a value whose key is gone.
//
// A job with nothing to do costs one read of the encryption state: each
// records in it the point it reached (index version, strict groups,
// rotation round, settled round) and is skipped while that is current.
// `hrgate serve` runs Reencrypt on keyring.rewrap_interval.
func (db *DB) Reencrypt(ctx context.Context, batch int) (ReencryptResult, error) {
	var res ReencryptResult
	enc := db.enc
	if enc.kr == nil {
		return res, nil
	}
	if !enc.bound.Load() {
		return res, errNotBound
	}
	if batch <= 0 {
		batch = DefaultReencryptBatch
	}
	if err := enc.kr.Refresh(ctx); err != nil {
		return res, err
	}
	st, err := db.loadState(ctx)
	if err != nil {
		return res, err
	}
	db.useState(st)
	if res.Reindexed, res.Skipped, err = db.reindex(ctx, st, batch); err != nil {
		return res, err
	}
	var skipped int
	if res.Encrypted, skipped, err = db.encryptPlain(ctx, st, batch); err != nil {
		return res, err
	}
	res.Skipped += skipped
	if res.Rotated, skipped, err = db.rotateDataKeys(ctx, st, batch); err != nil {
		return res, err
	}
	res.Skipped += skipped
	if res.Settled, skipped, err = db.settleDataKeys(ctx, st, batch); err != nil {
		return res, err
	}
	res.Skipped += skipped
	return res, nil
}

// RunReencrypt runs Reencrypt every interval until ctx ends. Failures are
// logged and retried next time.
func (db *DB) RunReencrypt(ctx context.Context, every time.Duration, batch int) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := db.Reencrypt(ctx, batch)
		switch {
		case err != nil && ctx.Err() == nil:
			db.logger.Error("re-encrypting employee data failed; will retry", "err", err)
		case res.Total() > 0 || res.Skipped > 0:
			db.logger.Info("re-encrypted employee data", "reindexed", res.Reindexed, "encrypted", res.Encrypted,
				"rotated", res.Rotated, "skipped", res.Skipped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StartDataKeyRotation starts a rotation of every employee's data key,
// which Reencrypt then carries out, and returns its round. Employees
// written from now on get fresh keys and are not rotated again.
func (db *DB) StartDataKeyRotation(ctx context.Context) (int64, error) {
	const op = "sqlstore.StartDataKeyRotation"
	if db.enc.kr == nil {
		return 0, db.translate(errNoCipher, op)
	}
	if !db.enc.bound.Load() {
		return 0, db.translate(errNotBound, op)
	}
	st, err := db.updateState(ctx, func(s *encState) bool {
		s.dekTarget++
		return true
	})
	if err != nil {
		return 0, db.translate(err, op)
	}
	db.useState(st)
	db.logger.Info("started a rotation of the employees' data keys", "round", st.dekTarget)
	return st.dekTarget, nil
}

// EncryptionStatus describes the field encryption of the data store, for
// `hrgate keyring status`.
type EncryptionStatus struct {
	KeyringID string `json:"keyring_id"`
	// Encrypted lists the groups this instance writes sealed.
	Encrypted []string `json:"encrypted_groups"`
	// Strict lists the groups in which every row is known to be sealed; a
	// plain-text value there is refused as tampering.
	Strict []string `json:"strict_groups"`
	// PendingEncryption lists the groups the policy encrypts that may
	// still hold plain text, until the encrypt job has run.
	PendingEncryption []string `json:"pending_encryption"`
	// IndexVersion is the active index key version; IndexDone the version
	// every row's blind indexes reached.
	IndexVersion int   `json:"index_version"`
	IndexDone    int64 `json:"index_done"`
	// DataKeyRound is the current data-key rotation round;
	// DataKeyRoundDone the round every row reached.
	DataKeyRound     int64 `json:"data_key_round"`
	DataKeyRoundDone int64 `json:"data_key_round_done"`
	// DataKeyRoundSettled is the last round after which no employee was
	// left with an older data key version.
	DataKeyRoundSettled int64 `json:"data_key_round_settled"`
}

// EncryptionStatus reports the encryption state.
func (db *DB) EncryptionStatus(ctx context.Context) (*EncryptionStatus, error) {
	const op = "sqlstore.EncryptionStatus"
	enc := db.enc
	if enc.kr == nil {
		return nil, db.translate(errNoCipher, op)
	}
	if !enc.bound.Load() {
		return nil, db.translate(errNotBound, op)
	}
	st, err := db.loadState(ctx)
	if err != nil {
		return nil, db.translate(err, op)
	}
	names := func(s hrgate.GroupSet) []string {
		out := []string{}
		for _, g := range s.Groups() {
			out = append(out, g.String())
		}
		return out
	}
	return &EncryptionStatus{
		KeyringID: enc.kr.ID(), Encrypted: names(enc.sealed), Strict: names(st.strict & enc.sealed),
		PendingEncryption: names(enc.sealed &^ st.strict), IndexVersion: enc.kr.IndexVersion(), IndexDone: st.indexDone,
		DataKeyRound: st.dekTarget, DataKeyRoundDone: st.dekDone, DataKeyRoundSettled: st.dekSettled,
	}, nil
}

// jobRow is one employee row a job read: its id and the stored forms of
// some groups, copied out of the driver's buffers.
type jobRow struct {
	id  string
	raw [numGroups][]byte
}

// scanJobRows runs q, whose columns are id and then the columns of groups,
// and returns the rows.
func (db *DB) scanJobRows(ctx context.Context, groups []hrgate.FieldGroup, q string, args ...any) ([]*jobRow, error) {
	rows, err := db.write.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*jobRow
	for rows.Next() {
		r := &jobRow{}
		dest := make([]any, 1+len(groups))
		dest[0] = &r.id
		for i := range groups {
			dest[1+i] = &r.raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func columnsOf(groups []hrgate.FieldGroup) string {
	cols := make([]string, len(groups))
	for i, g := range groups {
		cols[i] = groupRefs[g]
	}
	return strings.Join(cols, ", ")
}

func ownersOf(rows []*jobRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

// skipRow logs a row a job cannot read and tells whether err is such a
// per-row failure; any other error stops the job.
func (db *DB) skipRow(job string, err error) bool {
	var ge *groupError
	if !errors.As(err, &ge) || !(errors.Is(err, hrgate.ErrIntegrity) || errors.Is(err, hrgate.ErrKeyErased) || errors.Is(err, errCorruptGroup)) {
		return false
	}
	db.logger.Error("a re-encryption job skipped an employee whose field group cannot be read", "job", job,
		"employee", ge.id, "group", ge.group.String(), "err", err)
	return true
}

// reindex recomputes the blind indexes of the rows below the active index
// key version.
func (db *DB) reindex(ctx context.Context, st encState, batch int) (done, skipped int, err error) {
	enc := db.enc
	version := enc.kr.IndexVersion()
	if st.indexDone >= int64(version) {
		return 0, 0, nil
	}
	groups := []hrgate.FieldGroup{hrgate.GroupContact, hrgate.GroupGovernmentID}
	q := `SELECT id, ` + columnsOf(groups) + ` FROM employees WHERE id > ? AND bi_version < ? AND deleted_at IS NULL ORDER BY id LIMIT ?`
	// Every row is read once: its keys keep no AES-GCM instance.
	dec := enc.bulkDecoder()
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return done, skipped, err
		}
		rows, err := db.scanJobRows(ctx, groups, q, after, version, batch)
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: re-index: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].id
		if err := enc.kr.Prefetch(ctx, ownersOf(rows)); err != nil {
			return done, skipped, err
		}
		type update struct {
			id         string
			nid, email []byte
		}
		var ups []update
		for _, r := range rows {
			e := &hrgate.Employee{ID: r.id}
			if err := decodeGroups(ctx, dec, e, groups, r.raw[:len(groups)]); err != nil {
				if db.skipRow("re-index", err) {
					skipped++
					continue
				}
				return done, skipped, err
			}
			nid, email := db.blindIndexes(e)
			ups = append(ups, update{r.id, nid, email})
		}
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, db.dialect.rebind(`UPDATE employees SET bi_national_id = ?, bi_personal_email = ?, bi_version = ? `+
				`WHERE id = ? AND bi_version < ? AND deleted_at IS NULL`))
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, u := range ups {
				res, err := stmt.ExecContext(ctx, u.nid, u.email, version, u.id, version)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				done += int(n)
			}
			return nil
		})
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: re-index: %w", err)
		}
	}
	if _, err := db.updateState(ctx, func(s *encState) bool {
		if s.indexDone >= int64(version) {
			return false
		}
		s.indexDone = int64(version)
		return true
	}); err != nil {
		return done, skipped, err
	}
	db.logger.Info("blind indexes are all under the active index key", "version", version, "reindexed", done)
	return done, skipped, nil
}

// encryptPlain seals the plain-text values of the groups the policy
// encrypts but the state does not yet hold strict, then makes them strict.
func (db *DB) encryptPlain(ctx context.Context, st encState, batch int) (done, skipped int, err error) {
	enc := db.enc
	pending := enc.sealed &^ st.strict
	if pending == 0 {
		return 0, 0, nil
	}
	groups := pending.Groups()
	conds := make([]string, len(groups))
	for i, g := range groups {
		conds[i] = `substr(` + groupRefs[g] + `, 1, 1) = ?`
	}
	// Soft-deleted rows are included: they hold data too.
	q := `SELECT id, ` + columnsOf(groups) + ` FROM employees WHERE id > ? AND (` + strings.Join(conds, " OR ") + `) ORDER BY id LIMIT ?`
	plainMark := []byte{groupCodecV1}
	complete := true
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return done, skipped, err
		}
		args := []any{after}
		for range groups {
			args = append(args, plainMark)
		}
		rows, err := db.scanJobRows(ctx, groups, q, append(args, batch)...)
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: encrypt: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].id
		if err := enc.kr.CreateDataKeys(ctx, ownersOf(rows)); err != nil {
			return done, skipped, err
		}
		var ups []groupSwap
		var raced []string
		for _, r := range rows {
			u := groupSwap{id: r.id}
			bad := false
			for i, g := range groups {
				raw := r.raw[i]
				if len(raw) == 0 || raw[0] != groupCodecV1 {
					continue
				}
				var probe hrgate.Employee
				if err := decodeGroup(raw, &probe, g); err != nil {
					db.skipRow("encrypt", &groupError{r.id, g, err})
					bad = true
					break
				}
				sealed, err := enc.kr.Seal(ctx, r.id, groupRef(r.id, g), raw)
				if err != nil {
					return done, skipped, err
				}
				u.add(g, raw, sealed)
			}
			if bad {
				skipped++
				continue
			}
			if len(u.cols) > 0 {
				ups = append(ups, u)
			}
		}
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			for _, u := range ups {
				n, err := db.swapGroups(ctx, tx, u)
				if err != nil {
					return err
				}
				if n == 0 {
					complete = false // changed meanwhile: the next run looks again
					raced = append(raced, u.id)
				}
				done += int(n)
			}
			return nil
		})
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: encrypt: %w", err)
		}
		if err := db.eraseAgainIfErased(ctx, raced); err != nil {
			return done, skipped, err
		}
	}
	if !complete || skipped > 0 {
		// A group becomes strict only once no row holds plain text in it.
		return done, skipped, nil
	}
	st, err = db.updateState(ctx, func(s *encState) bool {
		if s.strict&pending == pending {
			return false
		}
		s.strict |= pending
		return true
	})
	if err != nil {
		return done, skipped, err
	}
	db.useState(st)
	db.logger.Info("every row of these field groups is encrypted; plain text in them is now refused", "groups", pending.String(), "encrypted", done)
	return done, skipped, nil
}

// rotateDataKeys carries out a data-key rotation round: per batch, new key
// versions first (key store), then the rows re-sealed under them (one
// transaction), then the rows marked done. A crash after any step leaves
// every value readable, and a row not yet marked is simply rotated again,
// to yet another version, the next time. The old versions stay: another
// instance may hold them in its cache as the newest for up to
// keyring.MaxCacheTTL and seal under them; settleDataKeys deletes them
// after that.
func (db *DB) rotateDataKeys(ctx context.Context, st encState, batch int) (done, skipped int, err error) {
	enc := db.enc
	target := st.dekTarget
	if st.dekDone >= target {
		return 0, 0, nil
	}
	groups := sealableGroups.Groups()
	q := `SELECT id, ` + columnsOf(groups) + ` FROM employees WHERE id > ? AND dek_round < ? ORDER BY id LIMIT ?`
	complete := true
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return done, skipped, err
		}
		rows, err := db.scanJobRows(ctx, groups, q, after, target, batch)
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: rotate data keys: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].id
		var owners []string
		for _, r := range rows {
			if hasSealed(r.raw[:len(groups)]) {
				owners = append(owners, r.id)
			}
		}
		// 1. New versions, committed to the key store before anything is
		// sealed under them.
		if err := enc.kr.RotateDataKeys(ctx, owners); err != nil {
			return done, skipped, err
		}
		if err := db.crashPoint("rotate: new keys"); err != nil {
			return done, skipped, err
		}
		var ups []groupSwap
		var marks []any
		for _, r := range rows {
			u, bad, err := db.reseal(ctx, "rotate", r, groups, keyring.IsSealed)
			if err != nil {
				return done, skipped, err
			}
			switch {
			case bad:
				skipped++
			case len(u.cols) == 0:
				marks = append(marks, r.id) // nothing sealed: nothing to rotate
			default:
				ups = append(ups, u)
			}
		}
		// 2. Re-seal, each row only if it still holds what was read.
		var resealed []groupSwap
		var raced []string
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			for _, u := range ups {
				n, err := db.swapGroups(ctx, tx, u)
				switch {
				case err != nil:
					return err
				case n == 1:
					resealed = append(resealed, u)
				default:
					complete = false
					raced = append(raced, u.id)
				}
			}
			return nil
		})
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: rotate data keys: %w", err)
		}
		if err := db.eraseAgainIfErased(ctx, raced); err != nil {
			return done, skipped, err
		}
		if err := db.crashPoint("rotate: re-sealed"); err != nil {
			return done, skipped, err
		}
		for _, u := range resealed {
			marks = append(marks, u.id)
		}
		// 3. Mark the rows done.
		if len(marks) > 0 {
			_, err := db.write.ExecContext(ctx, db.dialect.rebind(`UPDATE employees SET dek_round = ? WHERE dek_round < ? AND id IN (?`+
				strings.Repeat(", ?", len(marks)-1)+`)`), append([]any{target, target}, marks...)...)
			if err != nil {
				return done, skipped, fmt.Errorf("sqlstore: rotate data keys: %w", err)
			}
		}
		done += len(resealed)
	}
	if !complete {
		return done, skipped, nil
	}
	if _, err := db.updateState(ctx, func(s *encState) bool {
		if s.dekDone >= target {
			return false
		}
		s.dekDone = target
		return true
	}); err != nil {
		return done, skipped, err
	}
	db.logger.Info("every employee's data key is rotated", "round", target, "rotated", done, "skipped", skipped)
	return done, skipped, nil
}

// settleDataKeys deletes the data key versions rotations left behind, for
// the owners whose newest version is older than keyring.MaxCacheTTL: from
// then on every instance seals under the newest. A value an instance
// sealed under an older version before its cache caught up is re-sealed
// first, in a transaction that changes the row only if it still holds
// what was read; a row that changed meanwhile waits for the next run.
// Owners that are not employees (the vault) are left alone.
//
// Finding the owners scans the key store's data keys, so the job runs
// only while the state's settled round is below the rotation round. Once
// a round is done and no owner holds an older version any more, settled
// or not yet, the round is recorded as settled and the job stops.
func (db *DB) settleDataKeys(ctx context.Context, st encState, batch int) (done, skipped int, err error) {
	enc := db.enc
	target := st.dekTarget
	if st.dekSettled >= target {
		return 0, 0, nil
	}
	groups := sealableGroups.Groups()
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return done, skipped, err
		}
		owners, err := enc.kr.SettledOwners(ctx, after, batch)
		if err != nil {
			return done, skipped, err
		}
		if len(owners) == 0 {
			return done, skipped, db.recordSettled(ctx, st)
		}
		after = owners[len(owners)-1]
		args := make([]any, len(owners))
		for i, o := range owners {
			args[i] = o
		}
		rows, err := db.scanJobRows(ctx, groups, `SELECT id, `+columnsOf(groups)+` FROM employees WHERE id IN (?`+
			strings.Repeat(", ?", len(owners)-1)+`)`, args...)
		if err != nil {
			return done, skipped, fmt.Errorf("sqlstore: settle data keys: %w", err)
		}
		if len(rows) == 0 {
			continue // owners that are not employees
		}
		// One read of the key store for the batch's keys, which the
		// versions, the opens and the seals below then find cached.
		if err := enc.kr.Prefetch(ctx, ownersOf(rows)); err != nil {
			return done, skipped, err
		}
		// An owner is ready once nothing of its row is sealed under an
		// older version: at once when nothing was, else once the swap
		// that re-seals it has committed.
		type owner struct {
			id     string
			newest int
		}
		var ready, swapped []owner
		var ups []groupSwap
		for _, r := range rows {
			newest, err := enc.kr.NewestDataKeyVersion(ctx, r.id)
			if err != nil {
				if db.skipRow("settle", &groupError{r.id, groups[0], err}) {
					skipped++
					continue
				}
				return done, skipped, err
			}
			u, bad, err := db.reseal(ctx, "settle", r, groups, func(raw []byte) bool {
				v, ok := keyring.SealedKeyVersion(raw)
				return ok && v != newest
			})
			switch {
			case err != nil:
				return done, skipped, err
			case bad:
				skipped++
			case len(u.cols) == 0:
				ready = append(ready, owner{r.id, newest})
			default:
				ups = append(ups, u)
				swapped = append(swapped, owner{r.id, newest})
			}
		}
		// Re-seal the batch in one transaction, each row only if it
		// still holds what was read; one written meanwhile waits for the
		// next run.
		if len(ups) > 0 {
			err := db.inTx(ctx, func(tx *sql.Tx) error {
				for i, u := range ups {
					n, err := db.swapGroups(ctx, tx, u)
					if err != nil {
						return err
					}
					if n == 1 {
						ready = append(ready, swapped[i])
					}
				}
				return nil
			})
			if err != nil {
				return done, skipped, fmt.Errorf("sqlstore: settle data keys: %w", err)
			}
		}
		if err := db.crashPoint("settle: re-sealed"); err != nil {
			return done, skipped, err
		}
		for _, o := range ready {
			if _, err := enc.kr.DeleteDataKeysBelow(ctx, o.id, o.newest); err != nil {
				return done, skipped, err
			}
			done++
		}
	}
}

// recordSettled records st's rotation round as settled once it is done
// and no owner is left with an older data key version: one too recent to
// settle yet keeps the job running, as does one whose row it skipped.
func (db *DB) recordSettled(ctx context.Context, st encState) error {
	target := st.dekTarget
	if st.dekDone < target {
		return nil // the round is under way: it leaves older versions behind
	}
	left, err := db.enc.kr.HasSupersededDataKeys(ctx)
	if err != nil || left {
		return err
	}
	_, err = db.updateState(ctx, func(s *encState) bool {
		if s.dekSettled >= target {
			return false
		}
		s.dekSettled = target
		return true
	})
	return err
}

// groupSwap is one employee row a job rewrites: its group columns cols,
// from old, the stored forms the job read, to new.
type groupSwap struct {
	id       string
	cols     []string
	old, new [][]byte
}

func (u *groupSwap) add(g hrgate.FieldGroup, old, new []byte) {
	u.cols, u.old, u.new = append(u.cols, groupRefs[g]), append(u.old, old), append(u.new, new)
}

// reseal returns the swap that re-seals, under the newest data key of
// employee r, each of its groups whose stored form stale selects. skip
// reports a row that cannot be read, which it logs as skipped by job; any
// other failure is err.
func (db *DB) reseal(ctx context.Context, job string, r *jobRow, groups []hrgate.FieldGroup, stale func(raw []byte) bool) (u groupSwap, skip bool, err error) {
	u.id = r.id
	kr := db.enc.kr
	// The job reads every row once, under data key versions on their way
	// out: its keys keep no AES-GCM instance (OpenRecordOnce).
	rec := kr.OpenRecordOnce(r.id, employeeTable, r.id)
	defer rec.Close()
	for i, g := range groups {
		raw := r.raw[i]
		if !stale(raw) {
			continue
		}
		plain, err := rec.OpenAppend(ctx, nil, groupRefs[g], raw)
		if err != nil {
			if db.skipRow(job, &groupError{r.id, g, err}) {
				return u, true, nil
			}
			return u, false, err
		}
		sealed, err := kr.Seal(ctx, r.id, groupRef(r.id, g), plain)
		if err != nil {
			return u, false, err
		}
		u.add(g, raw, sealed)
	}
	return u, false, nil
}

// swapGroups sets the group columns of u to u.new, provided they still
// hold u.old, and returns how many rows it changed (0 or 1).
func (db *DB) swapGroups(ctx context.Context, tx *sql.Tx, u groupSwap) (int64, error) {
	set := make([]string, len(u.cols))
	where := make([]string, len(u.cols))
	args := make([]any, 0, 2*len(u.cols)+1)
	for i, c := range u.cols {
		set[i], where[i] = c+` = ?`, c+` = ?`
		args = append(args, u.new[i])
	}
	args = append(args, u.id)
	for _, o := range u.old {
		args = append(args, o)
	}
	res, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE employees SET `+strings.Join(set, ", ")+
		` WHERE id = ? AND `+strings.Join(where, " AND ")), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// eraseAgainIfErased erases again the data keys of those of ids that were
// erased while a job worked on them: the job may have created a key for
// them after the erase destroyed theirs. The key sealed nothing that was
// stored, but no key of an erased employee should remain.
func (db *DB) eraseAgainIfErased(ctx context.Context, ids []string) error {
	for _, id := range ids {
		var one int
		err := db.write.QueryRowContext(ctx, db.dialect.rebind(
			`SELECT 1 FROM employees WHERE id = ? AND deleted_at IS NOT NULL AND g_identity IS NULL`), id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if err := db.enc.kr.Erase(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// crashPoint lets tests stop a job or an erase between two of its steps,
// as a crash would; it does nothing otherwise.
func (db *DB) crashPoint(step string) error {
	if db.testCrash == nil {
		return nil
	}
	return db.testCrash(step)
}

func hasSealed(raw [][]byte) bool {
	for _, r := range raw {
		if keyring.IsSealed(r) {
			return true
		}
	}
	return false
}

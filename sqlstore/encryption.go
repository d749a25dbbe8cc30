package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyring"
)

// FieldCipher is what the data store needs of its cipher: hrgate.Cipher,
// and the keyring operations behind the binding, the blind indexes and
// the re-encryption jobs. keyring.Keyring implements it.
type FieldCipher interface {
	hrgate.Cipher
	// ID names the keyring; the data store records it and refuses to
	// open with another.
	ID() string
	// IndexVersion is the version of the index key BlindIndex hashes
	// with first.
	IndexVersion() int
	// ActiveBlindIndex is BlindIndex's first hash alone, the one a write
	// stores; nil for a value that is empty once normalised.
	ActiveBlindIndex(kind, value string) []byte
	// Refresh reads the keyring's keys again, to learn of rotations made
	// by other instances.
	Refresh(ctx context.Context) error
	// RotateDataKeys gives each owner a new data key version.
	RotateDataKeys(ctx context.Context, owners []string) error
	// SettledOwners returns owners whose older data key versions no
	// instance can still seal under, and NewestDataKeyVersion the version
	// Seal uses for one of them. HasSupersededDataKeys reports whether any
	// owner still holds an older version, settled or not.
	SettledOwners(ctx context.Context, after string, limit int) ([]string, error)
	HasSupersededDataKeys(ctx context.Context) (bool, error)
	NewestDataKeyVersion(ctx context.Context, owner string) (int, error)
	// DeleteDataKeysBelow deletes owner's data key versions below version.
	DeleteDataKeysBelow(ctx context.Context, owner string, version int) (int, error)
	// OpenRecord returns an opener of the sealed fields of one record,
	// which looks the owner's data keys up once for all of them.
	OpenRecord(owner, table, record string) keyring.RecordOpener
	// OpenRecordOnce is OpenRecord for a record read once in a bulk
	// pass, which leaves no AES-GCM instance in the keyring's cache.
	OpenRecordOnce(owner, table, record string) keyring.RecordOpener
	// Cached reports whether owner's data keys are in memory, so that an
	// open reads nothing from the key store.
	Cached(owner string) bool
	// CreateNewDataKeys is CreateDataKeys for owners given their ids just
	// now, which do not look their keys up first.
	CreateNewDataKeys(ctx context.Context, owners []string) error
	// EraseOwners is Erase for many owners, in one deletion.
	EraseOwners(ctx context.Context, owners []string) error
}

var _ FieldCipher = (*keyring.Keyring)(nil)

// Group sets by sensitivity. Internal groups are never encrypted;
// restricted ones always are; confidential ones are unless the operator
// opts out (Options.PlaintextGroups).
var (
	restrictedGroups, sealableGroups = func() (r, s hrgate.GroupSet) {
		for _, g := range hrgate.FieldGroups() {
			switch g.Sensitivity() {
			case hrgate.Restricted:
				r, s = r.With(g), s.With(g)
			case hrgate.Confidential:
				s = s.With(g)
			}
		}
		return r, s
	}()
)

// groupRefs holds the column name of each group, the Field of its
// FieldRef, so that the read path builds none.
var groupRefs = func() (out [numGroups]string) {
	for g := range out {
		out[g] = groupColumn(hrgate.FieldGroup(g))
	}
	return out
}()

// groupRef names where group g of employee id is stored. A sealed group is
// bound to it: moved to another employee or column, it does not open.
func groupRef(id string, g hrgate.FieldGroup) hrgate.FieldRef {
	return hrgate.FieldRef{Table: employeeTable, RecordID: id, Field: groupRefs[g]}
}

// employeeTable is the Table of the FieldRef of every employee group.
const employeeTable = "employees"

// stateOwner owns the data key that seals the encryption state. It cannot
// collide with an employee id, which always has a prefix and underscore.
const stateOwner = "datastore"

// encryption is the data store's field-encryption policy and state.
type encryption struct {
	// kr is nil when the store was opened without a cipher.
	kr       FieldCipher
	insecure bool
	// sealed is the set of groups written sealed.
	sealed hrgate.GroupSet
	// strict holds the groups (a hrgate.GroupSet) in which a plain-text
	// value is refused as an integrity error: a sealed group every row of
	// which is known to be sealed. Without a cipher (and without
	// InsecurePlaintext) it holds every group that may be encrypted, so
	// that such a store reads none of them.
	strict atomic.Uint32
	// dekRound is the data-key rotation round new rows are written at.
	dekRound atomic.Int64
	// bound is set once the keyring binding was checked and the state
	// loaded; until then (a schema not yet migrated) the store neither
	// writes employees nor reads encrypted groups.
	bound atomic.Bool
}

func (enc *encryption) strictGroups() hrgate.GroupSet { return hrgate.GroupSet(enc.strict.Load()) }

// newEncryption checks the options and returns the policy they ask for.
func newEncryption(opts Options) (*encryption, error) {
	enc := &encryption{insecure: opts.InsecurePlaintext}
	if bad := opts.PlaintextGroups & restrictedGroups; bad != 0 {
		return nil, fmt.Errorf("sqlstore: the restricted field groups %s are always encrypted; only confidential groups can be stored in plain text", bad)
	}
	switch {
	case opts.Cipher != nil && opts.InsecurePlaintext:
		return nil, errors.New("sqlstore: InsecurePlaintext and a Cipher exclude each other")
	case opts.Cipher != nil:
		kr, ok := opts.Cipher.(FieldCipher)
		if !ok {
			return nil, fmt.Errorf("sqlstore: the cipher %T lacks the keyring operations the data store needs (sqlstore.FieldCipher)", opts.Cipher)
		}
		enc.kr = kr
		enc.sealed = sealableGroups &^ opts.PlaintextGroups
		// Until the state is loaded, every group that may be sealed is
		// strict: nothing is trusted that has not been checked.
		enc.strict.Store(uint32(sealableGroups))
	case opts.InsecurePlaintext:
		enc.bound.Store(true)
	default:
		enc.strict.Store(uint32(sealableGroups))
		enc.bound.Store(true)
	}
	return enc, nil
}

// errNoCipher is returned where an encrypted group would be read or
// written by a store opened without a cipher.
var errNoCipher = errors.New("the data store was opened without a cipher (keyring), so it neither reads nor writes encrypted field groups; " +
	"open it with Options.Cipher, or with Options.InsecurePlaintext for tests and benchmarks")

// errNotBound is returned by a store with a cipher whose schema predates
// field encryption.
var errNotBound = errors.New("the database schema predates field encryption; run hrgate migrate")

// checkWritable reports whether employees may be written.
func (enc *encryption) checkWritable() error {
	switch {
	case enc.kr == nil && !enc.insecure:
		return errNoCipher
	case !enc.bound.Load():
		return errNotBound
	}
	return nil
}

// encState is the part of the encryption state that must not change
// without the keyring: it is stored sealed.
type encState struct {
	// strict is the set of groups in which every row is sealed.
	strict hrgate.GroupSet
	// indexDone is the index key version every row's blind indexes
	// reached.
	indexDone int64
	// dekTarget is the current data-key rotation round; dekDone the last
	// round every row reached.
	dekTarget, dekDone int64
	// dekSettled is the last round after which no owner was left with
	// an older data key version: the settle job runs only while it is
	// below dekTarget.
	dekSettled int64
}

// The state's formats: V1 holds four counters, V2 adds dekSettled. V1 is
// still read, as a state in which no rotation has settled.
const (
	encStateV1 = 1
	encStateV2 = 2
)

func (s encState) encode() []byte {
	b := []byte{encStateV2}
	for _, v := range []uint64{uint64(s.strict), uint64(s.indexDone), uint64(s.dekTarget), uint64(s.dekDone), uint64(s.dekSettled)} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func decodeEncState(b []byte) (encState, error) {
	var s encState
	if len(b) == 0 || (b[0] != encStateV1 && b[0] != encStateV2) {
		return s, errors.New("unknown encryption state format")
	}
	var vals [5]uint64
	count := 4
	if b[0] == encStateV2 {
		count = 5
	}
	b = b[1:]
	for i := range count {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return s, errors.New("truncated encryption state")
		}
		vals[i], b = v, b[n:]
	}
	if len(b) != 0 || vals[0] > uint64(hrgate.AllGroups) || vals[1] > 1<<31 || vals[2] > 1<<40 || vals[3] > vals[2] || vals[4] > vals[2] {
		return s, errors.New("malformed encryption state")
	}
	return encState{strict: hrgate.GroupSet(vals[0]), indexDone: int64(vals[1]), dekTarget: int64(vals[2]), dekDone: int64(vals[3]),
		dekSettled: int64(vals[4])}, nil
}

// stateRef binds the sealed state to its row and keyring.
func stateRef(keyringID string) hrgate.FieldRef {
	return hrgate.FieldRef{Table: "encryption_state", RecordID: keyringID, Field: "state"}
}

// hasStateTable reports whether the schema has the encryption_state table.
func (db *DB) hasStateTable(ctx context.Context) (bool, error) {
	var one int
	err := db.write.QueryRowContext(ctx, db.dialect.rebind(db.dialect.tableExists), "encryption_state").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// readBinding returns the recorded keyring id and sealed state, found
// false when the store was never opened with a keyring.
func (db *DB) readBinding(ctx context.Context) (id string, sealed []byte, found bool, err error) {
	err = db.write.QueryRowContext(ctx, `SELECT keyring_id, state FROM encryption_state WHERE id = 1`).Scan(&id, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	return id, sealed, err == nil, err
}

// checkBinding refuses, before anything is written, a store recorded as
// encrypted under another keyring, and a store opened with
// InsecurePlaintext that was ever opened with a keyring.
func (db *DB) checkBinding(ctx context.Context) error {
	enc := db.enc
	if enc.kr == nil && !enc.insecure {
		return nil
	}
	ok, err := db.hasStateTable(ctx)
	if err != nil || !ok {
		return err
	}
	id, _, found, err := db.readBinding(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("sqlstore: read the keyring binding: %w", err)
	case !found:
		return nil
	case enc.insecure:
		return fmt.Errorf("sqlstore: this database holds data encrypted under keyring %s; it cannot be opened with InsecurePlaintext", id)
	case id != enc.kr.ID():
		return fmt.Errorf("sqlstore: this database is encrypted under keyring %s, but the key store holds keyring %s: "+
			"the key store was replaced or recreated (a deleted keys.db is regenerated empty). Restore the key store this "+
			"database was encrypted with (keyring.database) and its master key; with another keyring the encrypted fields cannot be read. "+
			"Nothing was written to the database", id, enc.kr.ID())
	}
	return nil
}

// bind records the keyring on first use, loads the sealed state, and
// drops from its strict set the groups the operator no longer encrypts.
// Its callers have refused another keyring (checkBinding) just before; one
// recorded since by another instance is caught by createBinding, or by the
// state, which does not open under this keyring. Such a state is refused:
// it was tampered with.
func (db *DB) bind(ctx context.Context) error {
	enc := db.enc
	if enc.kr == nil {
		return nil
	}
	ok, err := db.hasStateTable(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: bind keyring: %w", err)
	}
	if !ok {
		return nil // bound by Migrate
	}
	_, _, found, err := db.readBinding(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: bind keyring: %w", err)
	}
	if !found {
		if err := db.createBinding(ctx); err != nil {
			return err
		}
	}
	st, err := db.loadState(ctx)
	if err != nil {
		return err
	}
	if st.strict&^enc.sealed != 0 {
		// The operator stopped encrypting a confidential group: new rows
		// hold it in plain text, so it is strict no more.
		if st, err = db.updateState(ctx, func(s *encState) bool {
			if s.strict&^enc.sealed == 0 {
				return false
			}
			s.strict &= enc.sealed
			return true
		}); err != nil {
			return err
		}
	}
	db.useState(st)
	enc.bound.Store(true)
	return nil
}

// createBinding records the keyring. A store with no employee yet holds no
// plain text, so every group it seals starts strict; an existing one
// starts with none, and the encryption job makes each strict once it has
// sealed its rows.
func (db *DB) createBinding(ctx context.Context) error {
	enc := db.enc
	var one int
	err := db.write.QueryRowContext(ctx, `SELECT 1 FROM employees LIMIT 1`).Scan(&one)
	empty := errors.Is(err, sql.ErrNoRows)
	if err != nil && !empty {
		return fmt.Errorf("sqlstore: bind keyring: %w", err)
	}
	st := encState{}
	if empty {
		st.strict = enc.sealed
		st.indexDone = int64(enc.kr.IndexVersion())
	}
	id := enc.kr.ID()
	sealed, err := enc.kr.Seal(ctx, stateOwner, stateRef(id), st.encode())
	if err != nil {
		return fmt.Errorf("sqlstore: bind keyring: %w", err)
	}
	now := db.epoch.now().UnixMicro()
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(
		`INSERT INTO encryption_state (id, keyring_id, state, created_at, modified_at) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		id, sealed, now, now)
	if err != nil {
		return fmt.Errorf("sqlstore: bind keyring: %w", err)
	}
	// Another instance may have bound first, with another keyring.
	if err := db.checkBinding(ctx); err != nil {
		return err
	}
	db.logger.Info("recorded the keyring of the data store", "keyring", id, "strict_groups", st.strict.String())
	return nil
}

// loadState reads and opens the sealed state.
func (db *DB) loadState(ctx context.Context) (encState, error) {
	st, _, err := db.readState(ctx)
	return st, err
}

func (db *DB) readState(ctx context.Context) (encState, []byte, error) {
	kr := db.enc.kr
	id, sealed, found, err := db.readBinding(ctx)
	if err != nil {
		return encState{}, nil, fmt.Errorf("sqlstore: read the encryption state: %w", err)
	}
	if !found {
		return encState{}, nil, errors.New("sqlstore: the encryption state is missing")
	}
	plain, err := kr.Open(ctx, stateOwner, stateRef(id), sealed)
	if err != nil {
		return encState{}, nil, fmt.Errorf("sqlstore: the encryption state of the database does not open under keyring %s: "+
			"it was tampered with, or the key store is not the one this database was encrypted with: %w", id, err)
	}
	st, err := decodeEncState(plain)
	if err != nil {
		return encState{}, nil, fmt.Errorf("sqlstore: the encryption state: %w", err)
	}
	return st, sealed, nil
}

// updateState applies change to the state and stores it, unless change
// reports no change. It compares and swaps, retrying when another
// instance changed the state meanwhile, and returns the state stored.
func (db *DB) updateState(ctx context.Context, change func(*encState) bool) (encState, error) {
	kr := db.enc.kr
	for range 10 {
		st, old, err := db.readState(ctx)
		if err != nil {
			return st, err
		}
		if !change(&st) {
			return st, nil
		}
		sealed, err := kr.Seal(ctx, stateOwner, stateRef(kr.ID()), st.encode())
		if err != nil {
			return st, fmt.Errorf("sqlstore: seal the encryption state: %w", err)
		}
		res, err := db.write.ExecContext(ctx, db.dialect.rebind(
			`UPDATE encryption_state SET state = ?, modified_at = ? WHERE id = 1 AND state = ?`),
			sealed, db.epoch.now().UnixMicro(), old)
		if err != nil {
			return st, fmt.Errorf("sqlstore: store the encryption state: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return st, err
		}
	}
	return encState{}, errors.New("sqlstore: the encryption state keeps changing under this update; try again")
}

// useState makes st the policy of this instance.
func (db *DB) useState(st encState) {
	db.enc.strict.Store(uint32(st.strict & db.enc.sealed))
	db.enc.dekRound.Store(st.dekTarget)
}

// errPlainInSealedGroup is the integrity error of a plain-text value in a
// group whose every row must be sealed: someone with write access to the
// database put it there.
var errPlainInSealedGroup = fmt.Errorf("a plain-text value where only sealed values may be: %w", hrgate.ErrIntegrity)

// groupError says which employee and group could not be read. It never
// holds the value.
type groupError struct {
	id    string
	group hrgate.FieldGroup
	err   error
}

func (e *groupError) Error() string {
	return fmt.Sprintf("employee %s, field group %s: %v", e.id, e.group, e.err)
}

func (e *groupError) Unwrap() error { return e.err }

// groupDecoder is what decodeGroups needs besides the row, fixed for
// all the rows of one read: the policy, its strict groups as the read
// began, and how sealed groups are opened.
type groupDecoder struct {
	enc    *encryption
	strict hrgate.GroupSet
	// once opens with OpenRecordOnce: the read opens many employees
	// once each (a sync comparing an import with what is stored, a job
	// scanning every row), and the AES-GCM instance OpenRecord keeps per
	// employee, about 1 KiB, would fill the keyring's cache with some
	// 100 MB per 100,000 employees that nobody is about to read.
	once bool
}

// decoder returns the decoder of a read that serves employees to a
// caller: their keys keep their AES-GCM instances, for the reads that
// follow.
func (enc *encryption) decoder() groupDecoder {
	return groupDecoder{enc: enc, strict: enc.strictGroups()}
}

// bulkDecoder returns the decoder of a read of many employees, each read
// once (see groupDecoder.once).
func (enc *encryption) bulkDecoder() groupDecoder {
	return groupDecoder{enc: enc, strict: enc.strictGroups(), once: true}
}

// openRecord returns the opener of the sealed groups of employee id.
func (d groupDecoder) openRecord(id string) keyring.RecordOpener {
	if d.once {
		return d.enc.kr.OpenRecordOnce(id, employeeTable, id)
	}
	return d.enc.kr.OpenRecord(id, employeeTable, id)
}

// decodeGroups fills the groups of e in list from their stored forms in
// raw, opening the sealed ones. The fields of all of them are substrings
// of one string: one allocation per employee whatever the number of
// groups, decrypted or not. NULL, from a row written without the group,
// is the zero value.
func decodeGroups[B ~[]byte](ctx context.Context, d groupDecoder, e *hrgate.Employee, list []hrgate.FieldGroup, raw []B) error {
	enc, strict := d.enc, d.strict
	n := 0
	for _, r := range raw {
		if keyring.IsSealed(r) {
			n += max(len(r)-keyring.MinSealedOverhead, 0)
		} else {
			n += len(r)
		}
	}
	// No stored form is shorter than what it decodes to, so buf does not
	// grow past n.
	buf := make([]byte, 0, n)
	// Group i decodes from buf[start[i]:end[i]], its codec byte left out.
	var start, end [numGroups]int
	// One opener for every sealed group of the employee: the data keys
	// are looked up, and the associated data naming the employee built,
	// once. It reads nothing until a sealed group needs it.
	var rec keyring.RecordOpener
	if enc.kr != nil {
		rec = d.openRecord(e.ID)
		defer rec.Close()
	}
	for i, r := range raw {
		g := list[i]
		if len(r) > 0 {
			switch r[0] {
			case groupCodecV1:
				if strict.Has(g) {
					return &groupError{e.ID, g, errPlainInSealedGroup}
				}
				start[i] = len(buf)
				buf = append(buf, r[1:]...)
			case keyring.SealedFormat:
				if !sealableGroups.Has(g) {
					return &groupError{e.ID, g, errCorruptGroup}
				}
				if enc.kr == nil {
					return &groupError{e.ID, g, errNoCipher}
				}
				if !enc.bound.Load() {
					return &groupError{e.ID, g, errNotBound}
				}
				at := len(buf)
				var err error
				if buf, err = rec.OpenAppend(ctx, buf, groupRefs[g], []byte(r)); err != nil {
					return &groupError{e.ID, g, err}
				}
				if len(buf) == at || buf[at] != groupCodecV1 {
					return &groupError{e.ID, g, errCorruptGroup}
				}
				// The codec byte stays in buf, where removing it would
				// move the whole group.
				start[i] = at + 1
			default:
				return &groupError{e.ID, g, errCorruptGroup}
			}
		}
		end[i] = len(buf)
	}
	// buf is not written again: the string shares its array, as
	// strings.Builder does, and saves a copy per employee.
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // #nosec G103 -- buf is never written after this line; see above.
	for i, g := range list {
		if len(raw[i]) > 0 {
			if err := decodeGroupFields(all[start[i]:end[i]], e, g); err != nil {
				return &groupError{e.ID, g, err}
			}
		}
	}
	return nil
}

// sealGroup returns the stored form of group g of e: its codec bytes,
// sealed for e when the policy encrypts g.
func (db *DB) sealGroup(ctx context.Context, e *hrgate.Employee, g hrgate.FieldGroup) ([]byte, error) {
	plain := encodeGroup(e, g)
	if !db.enc.sealed.Has(g) {
		return plain, nil
	}
	return db.enc.kr.Seal(ctx, e.ID, groupRef(e.ID, g), plain)
}

// blindIndexes returns the blind indexes of e under the active index key,
// nil for values that are empty.
//
// The version a row records with them must be read (indexVersion) before
// they are computed. Should a rotation land in between, the row then
// records a version below the key it was hashed with, and the re-index
// job hashes it again; read after, it could record the new version with a
// hash made under the old key, which no job would redo and which no search
// finds once the old key is retired.
func (db *DB) blindIndexes(e *hrgate.Employee) (nationalID, personalEmail []byte) {
	kr := db.enc.kr
	if kr == nil {
		return nil, nil
	}
	// Only the active key: the older ones, which BlindIndex hashes with
	// too for searches during a rotation, would be hashed for nothing.
	return kr.ActiveBlindIndex(keyring.IndexNationalID, e.GovernmentID.Value),
		kr.ActiveBlindIndex(keyring.IndexPersonalEmail, e.Contact.PersonalEmail)
}

// indexVersion is the version of the active index key, 0 without a
// cipher.
func (enc *encryption) indexVersion() int {
	if enc.kr == nil {
		return 0
	}
	return enc.kr.IndexVersion()
}

// prepareEmployees makes sure employees can be written, and that each has
// a data key, created for the whole batch in one write to the key store.
// A key created for a batch that then fails stays unused in the key
// store; it seals nothing. fresh says that the employees were given their
// ids just now (a sync's inserts), so that their keys are not looked up
// first (CreateNewDataKeys).
func (db *DB) prepareEmployees(ctx context.Context, es []*hrgate.Employee, fresh bool) error {
	if len(es) == 0 {
		return nil
	}
	owners := make([]string, len(es))
	for i, e := range es {
		owners[i] = e.ID
	}
	return db.prepareKeys(ctx, owners, fresh)
}

// prepareKeys makes sure employees can be written, and creates the data
// keys of owners that lack one (see prepareEmployees).
func (db *DB) prepareKeys(ctx context.Context, owners []string, fresh bool) error {
	if err := db.enc.checkWritable(); err != nil {
		return err
	}
	if db.enc.sealed == 0 {
		return nil
	}
	if fresh {
		return db.enc.kr.CreateNewDataKeys(ctx, owners)
	}
	return db.enc.kr.CreateDataKeys(ctx, owners)
}

// checkEmployeeIDs refuses ids that are not employees': the key store
// also holds the keys of the vault and of the encryption state, whose
// owners have no employee row, and neither method below may touch them.
func checkEmployeeIDs(ids []string) error {
	for _, id := range ids {
		if !hrgate.ValidID(hrgate.PrefixEmployee, id) {
			return invalid("An employee id has the form emp_… .")
		}
	}
	return nil
}

// PrepareEmployeeKeys creates the data keys of employees about to be
// inserted with the given ids, before the transaction that inserts them:
// on SQLite the key store is a database of its own, and its write, made
// inside the sync transaction, held the one writer of the main database
// for as long as it took. The keys are cached, so the insert finds them.
// Ids that no insert takes must be handed to DiscardEmployeeKeys.
func (db *DB) PrepareEmployeeKeys(ctx context.Context, ids []string) error {
	const op = "sqlstore.PrepareEmployeeKeys"
	if err := checkEmployeeIDs(ids); err != nil {
		return err
	}
	if len(ids) == 0 || db.enc.kr == nil {
		return nil
	}
	return db.translate(db.prepareKeys(ctx, ids, true), op)
}

// DiscardEmployeeKeys erases the keys PrepareEmployeeKeys created for ids
// that no employee took (the transaction failed, or the record turned out
// to exist). An id that an employee holds keeps its keys, whoever asks.
func (db *DB) DiscardEmployeeKeys(ctx context.Context, ids []string) error {
	const op = "sqlstore.DiscardEmployeeKeys"
	if err := checkEmployeeIDs(ids); err != nil {
		return err
	}
	if len(ids) == 0 || db.enc.kr == nil {
		return nil
	}
	for start := 0; start < len(ids); start += maxLookup {
		chunk := ids[start:min(start+maxLookup, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.read.QueryContext(ctx, db.dialect.rebind(`SELECT id FROM employees WHERE id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`), args...)
		stored, err := collect(db, op, rows, err, scanString)
		if err != nil {
			return err
		}
		taken := make(map[string]bool, len(stored))
		for _, id := range stored {
			taken[id] = true
		}
		unused := slices.DeleteFunc(slices.Clone(chunk), func(id string) bool { return taken[id] })
		if err := db.enc.kr.EraseOwners(ctx, unused); err != nil {
			return db.translate(err, op)
		}
	}
	return nil
}

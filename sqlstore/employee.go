package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyring"
)

// groupColumn returns the column that holds field group g: "g_" and the
// group's canonical name, as the migrations declare them.
func groupColumn(g hrgate.FieldGroup) string { return "g_" + g.String() }

// numGroups is the number of field groups, each stored in its own column.
const numGroups = int(hrgate.GroupGovernmentID) + 1

// employeeSelect holds, for every set of field groups, the column list
// FindEmployees selects, so that no request builds it.
var employeeSelect = func() (out [hrgate.AllGroups + 1]string) {
	for s := range out {
		cols := `id, company_id, source_id, remote_id, created_at, modified_at`
		for _, g := range hrgate.GroupSet(s).Groups() {
			cols += ", " + groupColumn(g)
		}
		out[s] = cols
	}
	return out
}()

// employeeRow is what FindEmployees scans a row into, in one allocation.
type employeeRow struct {
	created, modified sql.NullInt64
	// RawBytes lets the decoder read the driver's buffer without another
	// copy; nothing keeps a reference past the row.
	raw  [numGroups]sql.RawBytes
	dest [6 + numGroups]any
}

// FindEmployees returns the live employees of f.Scope that match f, ordered
// by id. Only the columns of f.Groups are read, and only they are
// decrypted: the other groups never leave the database and are left zero,
// and Loaded is exactly f.Groups.
//
// A group that does not decrypt or verify (tampered with, moved from
// another record, its key erased) fails the whole call with EINTERNAL; the
// log names the employee and the group, never the value.
func (db *DB) FindEmployees(ctx context.Context, f hrgate.EmployeeFilter) ([]*hrgate.Employee, error) {
	const op = "sqlstore.FindEmployees"
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if f.Scope.IsNone() {
		return []*hrgate.Employee{}, nil
	}
	groups := f.Groups & hrgate.AllGroups
	if db.enc.kr != nil && !db.enc.bound.Load() && (groups&sealableGroups != 0 || f.NationalID != "" || f.PersonalEmail != "") {
		return nil, db.translate(errNotBound, op)
	}
	var listBuf [numGroups]hrgate.FieldGroup
	list := listBuf[:0]
	for g := hrgate.GroupIdentity; int(g) < numGroups; g++ {
		if groups.Has(g) {
			list = append(list, g)
		}
	}

	q := ownedQuery("employees", employeeSelect[groups], f.Scope, f.ID, f.CompanyID)
	if f.SourceID != "" {
		q.and("source_id = ?", f.SourceID)
		if f.RemoteID != "" {
			// remote_id <> '' lets the planner use the partial unique
			// index on (source_id, remote_id).
			q.and("remote_id = ? AND remote_id <> ''", f.RemoteID)
		}
	}
	if f.Status != "" {
		q.and("employment_status = ?", string(f.Status))
	}
	if !f.ModifiedAfter.IsZero() {
		q.and("modified_at > ?", f.ModifiedAfter.UnixMicro())
	}
	for _, s := range []struct{ kind, value, column string }{
		{keyring.IndexNationalID, f.NationalID, "bi_national_id"},
		{keyring.IndexPersonalEmail, f.PersonalEmail, "bi_personal_email"},
	} {
		if s.value == "" {
			continue
		}
		if db.enc.kr == nil {
			return nil, db.translate(fmt.Errorf("search by %s: %w", s.kind, errNoCipher), op)
		}
		hashes := db.enc.kr.BlindIndex(s.kind, s.value)
		if len(hashes) == 0 {
			// Nothing is left of the value once normalised: it matches
			// no employee.
			return []*hrgate.Employee{}, nil
		}
		q.and(s.column + " IN (?" + strings.Repeat(", ?", len(hashes)-1) + ")")
		for _, h := range hashes {
			q.args = append(q.args, h)
		}
	}
	q.page(f.Page)

	qctx := ctx
	if f.ID != "" && db.dialect.name == "sqlite" {
		// A look-up by primary key in a local file reads one row in
		// microseconds: a cancellable context would cost database/sql a
		// goroutine and the driver an interrupt watcher for nothing. Only
		// that query runs without cancellation, and not for a request
		// already cancelled. Decoding keeps ctx: it may fetch the
		// employee's data key from the key store, which can be a
		// PostgreSQL server across a network.
		if err := ctx.Err(); err != nil {
			return nil, db.translate(err, op)
		}
		qctx = context.WithoutCancel(ctx)
	}
	rows, err := db.stmts.query(qctx, q.sb.String(), q.args...)
	if err != nil {
		return nil, db.translate(err, op)
	}
	defer rows.Close()

	const fixed = 6
	r := &employeeRow{}
	dest := r.dest[:fixed+len(list)]
	for i := range list {
		dest[fixed+i] = &r.raw[i]
	}
	dest[4], dest[5] = &r.created, &r.modified
	enc := db.enc
	dec := enc.decoder()
	if f.ReadOnce {
		dec = enc.bulkDecoder()
	}
	// In a list of employees whose encrypted groups are read, a row
	// whose data keys are not in memory is copied aside, so that the keys
	// of all such rows are fetched at once (Prefetch) rather than with one
	// key-store query per employee; the others decode in place. A look-up
	// by id decodes in place: its one key is fetched by the open itself
	// when it is not cached.
	mayDefer := enc.kr != nil && groups&sealableGroups != 0 && f.ID == ""
	var (
		page     pageBuffer
		deferred []*hrgate.Employee
	)
	out := []*hrgate.Employee{}
	for rows.Next() {
		e := &hrgate.Employee{Loaded: groups}
		dest[0], dest[1], dest[2], dest[3] = &e.ID, &e.CompanyID, &e.SourceID, &e.RemoteID
		if err := rows.Scan(dest...); err != nil {
			return nil, db.translate(err, op)
		}
		e.CreatedAt, e.ModifiedAt = timeOf(r.created), timeOf(r.modified)
		if mayDefer && !enc.kr.Cached(e.ID) {
			page.add(r.raw[:len(list)])
			deferred = append(deferred, e)
		} else if err := decodeGroups(ctx, dec, e, list, r.raw[:len(list)]); err != nil {
			return nil, db.groupFailure(err, op)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate(err, op)
	}
	if len(deferred) == 0 {
		return out, nil
	}
	rows.Close()
	owners := make([]string, len(deferred))
	for i, e := range deferred {
		owners[i] = e.ID
	}
	if err := enc.kr.Prefetch(ctx, owners); err != nil {
		return nil, db.translate(err, op)
	}
	var raws [numGroups][]byte
	for i, e := range deferred {
		if err := decodeGroups(ctx, dec, e, list, page.row(i, raws[:len(list)])); err != nil {
			return nil, db.groupFailure(err, op)
		}
	}
	return out, nil
}

// pageBuffer keeps copies of the stored groups of some employees of a page
// in one growing array.
type pageBuffer struct {
	data []byte
	// ends holds, per row, the end offset of each of its groups.
	ends   []int
	ngroup int
}

func (p *pageBuffer) add(raw []sql.RawBytes) {
	p.ngroup = len(raw)
	for _, r := range raw {
		p.data = append(p.data, r...)
		p.ends = append(p.ends, len(p.data))
	}
}

// row fills dst with the groups of row i, empty where the column was
// NULL.
func (p *pageBuffer) row(i int, dst [][]byte) [][]byte {
	start := 0
	if i > 0 {
		start = p.ends[i*p.ngroup-1]
	}
	for j := range dst {
		end := p.ends[i*p.ngroup+j]
		dst[j] = p.data[start:end:end]
		start = end
	}
	return dst
}

// groupFailure logs a field group that cannot be read, naming the
// employee and the group but never a value, and returns the internal
// error the caller gets.
func (db *DB) groupFailure(err error, op string) error {
	var ge *groupError
	if errors.As(err, &ge) {
		db.logger.Error("an employee field group cannot be read: it is damaged, tampered with, moved from another record, or its key was erased",
			"employee", ge.id, "group", ge.group.String(), "integrity", errors.Is(err, hrgate.ErrIntegrity),
			"key_erased", errors.Is(err, hrgate.ErrKeyErased), "err", err)
	}
	return db.translate(err, op)
}

// CountEmployees returns the number of live employees in scope.
func (db *DB) CountEmployees(ctx context.Context, scope hrgate.CompanyScope) (int, error) {
	const op = "sqlstore.CountEmployees"
	if scope.IsNone() {
		return 0, nil
	}
	q := ownedQuery("employees", "COUNT(*)", scope, "", "")
	var n int
	if err := db.stmts.queryRow(ctx, q.sb.String(), q.args...).Scan(&n); err != nil {
		return 0, db.translate(err, op)
	}
	return n, nil
}

const employeeColumns = `id, company_id, source_id, remote_id, created_at, modified_at, employment_status, ` +
	`g_identity, g_employment, g_contact, g_personal, g_compensation, g_banking, g_government_id, ` +
	`bi_national_id, bi_personal_email, bi_version, dek_round`

// employeeArgs returns the function that appends the values of
// employeeColumns for an employee. Every group is written, whatever
// e.Loaded says: a new employee has all of them. A group with no field set
// is written as its empty encoding rather than NULL, sealed like any
// other, so that a missing ciphertext can be told from an empty one. The
// groups the policy encrypts are sealed under the employee's data key,
// which prepareEmployees created.
func (db *DB) employeeArgs(ctx context.Context) func(args []any, e *hrgate.Employee) ([]any, error) {
	round := db.enc.dekRound.Load()
	// Once per batch, and before any index is computed: see blindIndexes.
	version := db.enc.indexVersion()
	return func(args []any, e *hrgate.Employee) ([]any, error) {
		args = append(args, e.ID, e.CompanyID, e.SourceID, e.RemoteID, micros(e.CreatedAt), micros(e.ModifiedAt),
			string(e.Employment.Status))
		for g := hrgate.GroupIdentity; g <= hrgate.GroupGovernmentID; g++ {
			v, err := db.sealGroup(ctx, e, g)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		nid, email := db.blindIndexes(e)
		return append(args, nid, email, version, round), nil
	}
}

package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/hrgate/hrgate"
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
// by id. Only the columns of f.Groups are read: the other groups never leave
// the database and are left zero, and Loaded is exactly f.Groups.
func (db *DB) FindEmployees(ctx context.Context, f hrgate.EmployeeFilter) ([]*hrgate.Employee, error) {
	const op = "sqlstore.FindEmployees"
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if f.Scope.IsNone() {
		return []*hrgate.Employee{}, nil
	}
	groups := f.Groups & hrgate.AllGroups
	var listBuf [numGroups]hrgate.FieldGroup
	list := listBuf[:0]
	for g := hrgate.GroupIdentity; int(g) < numGroups; g++ {
		if groups.Has(g) {
			list = append(list, g)
		}
	}

	q := ownedQuery("employees", employeeSelect[groups], f.Scope, f.ID, f.CompanyID)
	if f.Status != "" {
		q.and("employment_status = ?", string(f.Status))
	}
	if !f.ModifiedAfter.IsZero() {
		q.and("modified_at > ?", f.ModifiedAfter.UnixMicro())
	}
	q.page(f.Page)

	if f.ID != "" && db.dialect.name == "sqlite" {
		// A look-up by primary key in a local file reads one row in
		// microseconds and cannot wait on a network: there is nothing to
		// cancel, and a cancellable context costs database/sql a
		// goroutine and the driver an interrupt watcher per query.
		ctx = context.WithoutCancel(ctx)
	}
	rows, err := db.stmts.query(ctx, q.sb.String(), q.args...)
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
	out := []*hrgate.Employee{}
	for rows.Next() {
		e := &hrgate.Employee{Loaded: groups}
		dest[0], dest[1], dest[2], dest[3] = &e.ID, &e.CompanyID, &e.SourceID, &e.RemoteID
		if err := rows.Scan(dest...); err != nil {
			return nil, db.translate(err, op)
		}
		e.CreatedAt, e.ModifiedAt = timeOf(r.created), timeOf(r.modified)
		if err := decodeGroups(e, list, r.raw[:len(list)]); err != nil {
			return nil, db.translate(err, op)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate(err, op)
	}
	return out, nil
}

// decodeGroups fills the groups of e in list from their stored forms in
// raw. The fields of all of them are substrings of one string: one
// allocation per employee rather than one per group. NULL, from a row
// written without the group, is the zero value.
func decodeGroups(e *hrgate.Employee, list []hrgate.FieldGroup, raw []sql.RawBytes) error {
	var b strings.Builder
	n := 0
	for _, r := range raw {
		n += len(r)
	}
	b.Grow(n)
	var end [numGroups]int
	for i, r := range raw {
		if len(r) > 0 {
			if r[0] != groupCodecV1 {
				return fmt.Errorf("decode %s of employee %s: %w", list[i], e.ID, errCorruptGroup)
			}
			b.Write(r[1:])
		}
		end[i] = b.Len()
	}
	all := b.String()
	start := 0
	for i, g := range list {
		if len(raw[i]) > 0 {
			if err := decodeGroupFields(all[start:end[i]], e, g); err != nil {
				return fmt.Errorf("decode %s of employee %s: %w", g, e.ID, err)
			}
		}
		start = end[i]
	}
	return nil
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
	`g_identity, g_employment, g_contact, g_personal, g_compensation, g_banking, g_government_id`

// employeeArgs appends the values of employeeColumns for e. Every group is
// written, whatever e.Loaded says: a new employee has all of them. A group
// with no field set is written as its empty encoding rather than NULL so that, once
// groups are encrypted, a missing ciphertext can be told from an empty one.
func employeeArgs(args []any, e *hrgate.Employee) ([]any, error) {
	args = append(args, e.ID, e.CompanyID, e.SourceID, e.RemoteID, micros(e.CreatedAt), micros(e.ModifiedAt),
		string(e.Employment.Status))
	for g := hrgate.GroupIdentity; g <= hrgate.GroupGovernmentID; g++ {
		args = append(args, encodeGroup(e, g))
	}
	return args, nil
}

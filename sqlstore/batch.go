package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/hrgate/hrgate"
)

// maxRowsPerInsert bounds the rows of one multi-row INSERT. Larger
// statements stop paying off well before the bind-parameter limits of either
// database (measured with BenchmarkInsertBatch).
const maxRowsPerInsert = 256

// InsertBatch inserts every object of b in one transaction, in dependency
// order. A duplicate id, company slug or (source, remote id) is ECONFLICT, a
// reference to a missing company or employee is EINVALID, and in either case
// nothing of b is stored.
func (db *DB) InsertBatch(ctx context.Context, b *hrgate.Batch) error {
	const op = "sqlstore.InsertBatch"
	if b == nil || b.Len() == 0 {
		return nil
	}
	if err := validateBatch(b); err != nil {
		return err
	}
	if err := db.prepareEmployees(ctx, b.Employees, false); err != nil {
		return db.translate(err, op)
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error { return insertBatchTx(ctx, db, tx, b) })
	return db.translate(err, op)
}

// Import writes a stream of batches in ONE transaction: fn calls put for
// each batch, and either every batch is stored or, when fn or any put
// fails, none is. It serves bulk loads (the sandbox, full imports) whose
// partial application would leave a half-written company behind.
func (db *DB) Import(ctx context.Context, fn func(put func(*hrgate.Batch) error) error) error {
	const op = "sqlstore.Import"
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		return fn(func(b *hrgate.Batch) error {
			if b == nil || b.Len() == 0 {
				return nil
			}
			if err := validateBatch(b); err != nil {
				return err
			}
			if err := db.prepareEmployees(ctx, b.Employees, false); err != nil {
				return err
			}
			return insertBatchTx(ctx, db, tx, b)
		})
	})
	return db.translate(err, op)
}

func insertBatchTx(ctx context.Context, db *DB, tx *sql.Tx, b *hrgate.Batch) error {
	if err := insertRows(ctx, db, tx, "companies", companyColumns, b.Companies, companyArgs); err != nil {
		return err
	}
	if err := insertRows(ctx, db, tx, "teams", teamColumns, b.Teams, teamArgs); err != nil {
		return err
	}
	if err := insertRows(ctx, db, tx, "locations", locationColumns, b.Locations, locationArgs); err != nil {
		return err
	}
	if err := insertRows(ctx, db, tx, "employees", employeeColumns, b.Employees, db.employeeArgs(ctx)); err != nil {
		return err
	}
	if err := refuseErasedTimeOff(ctx, db, tx, b); err != nil {
		return err
	}
	if err := insertRows(ctx, db, tx, "time_off_requests", timeOffRequestColumns, b.TimeOffRequests, timeOffRequestArgs); err != nil {
		return err
	}
	return insertRows(ctx, db, tx, "time_off_balances", timeOffBalanceColumns, b.TimeOffBalances, timeOffBalanceArgs)
}

// refuseErasedTimeOff refuses, ECONFLICT, a batch with time off of an
// erased employee: an erasure empties the employee's time off, and a bulk
// load must not bring it back. The employees the batch itself inserts are
// live; an id of no employee is left to the foreign key (EINVALID).
func refuseErasedTimeOff(ctx context.Context, db *DB, tx *sql.Tx, b *hrgate.Batch) error {
	inBatch := make(map[string]bool, len(b.Employees))
	for _, e := range b.Employees {
		inBatch[e.ID] = true
	}
	var ids []string
	for _, r := range b.TimeOffRequests {
		if !inBatch[r.EmployeeID] {
			ids = append(ids, r.EmployeeID)
		}
	}
	for _, bal := range b.TimeOffBalances {
		if !inBatch[bal.EmployeeID] {
			ids = append(ids, bal.EmployeeID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return holdEmployees(ctx, db, tx, ids)
}

// validateBatch rejects what the schema would accept but no caller means:
// nil objects and objects without an id or company.
func validateBatch(b *hrgate.Batch) error {
	for _, c := range b.Companies {
		if c == nil || c.ID == "" || c.Slug == "" {
			return invalid("Every company needs an id and a slug.")
		}
		if !hrgate.ValidSlug(c.Slug) {
			return invalid("A company slug is 1 to 63 lower-case letters, digits or '-'.")
		}
		// Scopes name a company by id or by slug; slugs hold no '_', so
		// only an id of the com_ form keeps one name from reaching two
		// companies.
		if !hrgate.ValidID(hrgate.PrefixCompany, c.ID) {
			return invalid("A company id has the form " + hrgate.PrefixCompany + "_… .")
		}
	}
	for _, t := range b.Teams {
		if t == nil || t.ID == "" || t.CompanyID == "" {
			return invalid("Every team needs an id and a company.")
		}
	}
	for _, l := range b.Locations {
		if l == nil || l.ID == "" || l.CompanyID == "" {
			return invalid("Every location needs an id and a company.")
		}
	}
	for _, e := range b.Employees {
		if e == nil || e.ID == "" || e.CompanyID == "" {
			return invalid("Every employee needs an id and a company.")
		}
	}
	for _, r := range b.TimeOffRequests {
		if r == nil || r.ID == "" || r.CompanyID == "" || r.EmployeeID == "" {
			return invalid("Every time-off request needs an id, a company and an employee.")
		}
	}
	for _, t := range b.TimeOffBalances {
		if t == nil || t.ID == "" || t.CompanyID == "" || t.EmployeeID == "" {
			return invalid("Every time-off balance needs an id, a company and an employee.")
		}
	}
	return nil
}

// insertRows inserts items into table with multi-row INSERT statements of
// up to maxRowsPerInsert rows. argsOf appends the values of one item in the
// order of cols. The statement for full chunks is prepared once per call.
func insertRows[T any](ctx context.Context, db *DB, tx *sql.Tx, table, cols string, items []T,
	argsOf func([]any, T) ([]any, error)) error {
	if len(items) == 0 {
		return nil
	}
	ncols := strings.Count(cols, ",") + 1
	per := min(maxRowsPerInsert, db.dialect.maxParams/ncols, len(items))
	args := make([]any, 0, per*ncols)
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for start := 0; start < len(items); start += per {
		end := min(start+per, len(items))
		args = args[:0]
		for _, it := range items[start:end] {
			var err error
			if args, err = argsOf(args, it); err != nil {
				return err
			}
		}
		var err error
		switch {
		case end-start < per:
			// The few rows of one request (a SCIM create, a webhook
			// event) come here, in shapes that repeat: wstmts keeps them.
			_, err = db.wstmts.txExec(ctx, tx, insertSQL(table, cols, ncols, end-start), args...)
		case full == nil && end < len(items):
			// Worth preparing only when the same shape runs again.
			full, err = tx.PrepareContext(ctx, db.dialect.rebind(insertSQL(table, cols, ncols, per)))
			if err == nil {
				_, err = full.ExecContext(ctx, args...)
			}
		case full != nil:
			_, err = full.ExecContext(ctx, args...)
		default:
			_, err = db.wstmts.txExec(ctx, tx, insertSQL(table, cols, ncols, per), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// insertSQL returns "INSERT INTO table (cols) VALUES (?, ...), ..." for rows
// rows.
func insertSQL(table, cols string, ncols, rows int) string {
	var b strings.Builder
	b.Grow(len(table) + len(cols) + 32 + rows*(ncols*3+4))
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(cols)
	b.WriteString(") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range ncols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

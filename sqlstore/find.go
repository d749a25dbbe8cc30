package sqlstore

import (
	"context"

	"github.com/hrgate/hrgate"
)

// findAll is the shared body of the Find methods: it checks the page,
// answers an empty scope without touching the database, runs the query
// build returns on the read side, and scans every row with scan.
func findAll[T any](ctx context.Context, db *DB, op string, page hrgate.Page, scope hrgate.CompanyScope,
	build func() *query, scan func(scanner) (T, error)) ([]T, error) {
	if err := checkPage(page); err != nil {
		return nil, err
	}
	if scope.IsNone() {
		return []T{}, nil
	}
	q := build()
	rows, err := db.stmts.query(ctx, q.sb.String(), q.args...)
	return collect(db, op, rows, err, scan)
}

package sqlstore

import (
	"context"
	"database/sql"

	"github.com/hrgate/hrgate"
)

// findAll is the shared body of the Find methods: it checks the page,
// answers an empty scope without touching the database, runs the query
// build returns on the read side, and scans every row with scan.
func findAll[T any](ctx context.Context, db *DB, op string, page hrgate.Page, scope hrgate.CompanyScope,
	build func() *query, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err := checkPage(page); err != nil {
		return nil, err
	}
	out := []T{}
	if scope.IsNone() {
		return out, nil
	}
	q := build()
	rows, err := db.stmts.query(ctx, q.sb.String(), q.args...)
	if err != nil {
		return nil, db.translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, db.translate(err, op)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate(err, op)
	}
	return out, nil
}

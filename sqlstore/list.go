package sqlstore

import (
	"database/sql"
)

// scanString scans a row of one text column.
func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

// collect scans every row of rows (and an error from the query that made
// them) with scan, translating failures for op. It closes rows.
func collect[T any](db *DB, op string, rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, db.translate(err, op)
	}
	defer rows.Close()
	out := []T{}
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

package sqlstore

import (
	"context"
	"database/sql"

	"github.com/hrgate/hrgate"
)

const companyColumns = `id, slug, name, country, sandbox, source_id, remote_id, created_at, modified_at`

// FindCompanies returns the live companies of f.Scope that match f, ordered
// by id.
func (db *DB) FindCompanies(ctx context.Context, f hrgate.CompanyFilter) ([]*hrgate.Company, error) {
	const op = "sqlstore.FindCompanies"
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if f.Scope.IsNone() {
		return []*hrgate.Company{}, nil
	}
	var q query
	q.write(`SELECT ` + companyColumns + ` FROM companies`)
	q.companies(f.Scope)
	if f.ID != "" {
		q.and("(id = ? OR slug = ?)", f.ID, f.ID)
	}
	q.page(f.Page)

	rows, err := db.stmts.query(ctx, q.sb.String(), q.args...)
	if err != nil {
		return nil, db.translate(err, op)
	}
	defer rows.Close()
	out := []*hrgate.Company{}
	for rows.Next() {
		var (
			c                 hrgate.Company
			created, modified sql.NullInt64
		)
		if err := rows.Scan(&c.ID, &c.Slug, &c.Name, &c.Country, &c.Sandbox, &c.SourceID, &c.RemoteID,
			&created, &modified); err != nil {
			return nil, db.translate(err, op)
		}
		c.CreatedAt, c.ModifiedAt = timeOf(created), timeOf(modified)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.translate(err, op)
	}
	return out, nil
}

func companyArgs(args []any, c *hrgate.Company) ([]any, error) {
	return append(args, c.ID, c.Slug, c.Name, c.Country, c.Sandbox, c.SourceID, c.RemoteID,
		micros(c.CreatedAt), micros(c.ModifiedAt)), nil
}

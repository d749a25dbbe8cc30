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
	build := func() *query {
		q := &query{}
		q.write(`SELECT ` + companyColumns + ` FROM companies`)
		q.companies(f.Scope)
		if f.ID != "" {
			q.and("(id = ? OR slug = ?)", f.ID, f.ID)
		}
		q.page(f.Page)
		return q
	}
	return findAll(ctx, db, "sqlstore.FindCompanies", f.Page, f.Scope, build, func(rows scanner) (*hrgate.Company, error) {
		var (
			c                 hrgate.Company
			created, modified sql.NullInt64
		)
		err := rows.Scan(&c.ID, &c.Slug, &c.Name, &c.Country, &c.Sandbox, &c.SourceID, &c.RemoteID, &created, &modified)
		c.CreatedAt, c.ModifiedAt = timeOf(created), timeOf(modified)
		return &c, err
	})
}

func companyArgs(args []any, c *hrgate.Company) ([]any, error) {
	return append(args, c.ID, c.Slug, c.Name, c.Country, c.Sandbox, c.SourceID, c.RemoteID,
		micros(c.CreatedAt), micros(c.ModifiedAt)), nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hrgate/hrgate"
)

const (
	teamColumns     = `id, company_id, source_id, remote_id, name, type, parent_id, created_at, modified_at`
	locationColumns = `id, company_id, source_id, remote_id, name, type, address, created_at, modified_at`
)

// orgQuery builds the SELECT of cols from table for f.
func orgQuery(table, cols string, f hrgate.OrgFilter) *query {
	q := ownedQuery(table, cols, f.Scope, f.ID, f.CompanyID)
	q.page(f.Page)
	return q
}

// FindTeams returns the live teams of f.Scope that match f, ordered by id.
func (db *DB) FindTeams(ctx context.Context, f hrgate.OrgFilter) ([]*hrgate.Team, error) {
	build := func() *query { return orgQuery("teams", teamColumns, f) }
	return findAll(ctx, db, "sqlstore.FindTeams", f.Page, f.Scope, build, func(rows scanner) (*hrgate.Team, error) {
		var (
			t                 hrgate.Team
			created, modified sql.NullInt64
		)
		err := rows.Scan(&t.ID, &t.CompanyID, &t.SourceID, &t.RemoteID, &t.Name, &t.Type, &t.ParentID, &created, &modified)
		t.CreatedAt, t.ModifiedAt = timeOf(created), timeOf(modified)
		return &t, err
	})
}

// FindLocations returns the live locations of f.Scope that match f, ordered
// by id.
func (db *DB) FindLocations(ctx context.Context, f hrgate.OrgFilter) ([]*hrgate.Location, error) {
	build := func() *query { return orgQuery("locations", locationColumns, f) }
	return findAll(ctx, db, "sqlstore.FindLocations", f.Page, f.Scope, build, func(rows scanner) (*hrgate.Location, error) {
		var (
			l                 hrgate.Location
			address           sql.RawBytes
			created, modified sql.NullInt64
		)
		if err := rows.Scan(&l.ID, &l.CompanyID, &l.SourceID, &l.RemoteID, &l.Name, &l.Type, &address,
			&created, &modified); err != nil {
			return nil, err
		}
		if len(address) > 0 {
			if err := json.Unmarshal(address, &l.Address); err != nil {
				return nil, fmt.Errorf("decode address of location %s: %w", l.ID, err)
			}
		}
		l.CreatedAt, l.ModifiedAt = timeOf(created), timeOf(modified)
		return &l, nil
	})
}

func teamArgs(args []any, t *hrgate.Team) ([]any, error) {
	return append(args, t.ID, t.CompanyID, t.SourceID, t.RemoteID, t.Name, t.Type, t.ParentID,
		micros(t.CreatedAt), micros(t.ModifiedAt)), nil
}

func locationArgs(args []any, l *hrgate.Location) ([]any, error) {
	address, err := json.Marshal(l.Address)
	if err != nil {
		return nil, fmt.Errorf("encode address of location %s: %w", l.ID, err)
	}
	return append(args, l.ID, l.CompanyID, l.SourceID, l.RemoteID, l.Name, l.Type, string(address),
		micros(l.CreatedAt), micros(l.ModifiedAt)), nil
}

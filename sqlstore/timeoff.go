package sqlstore

import (
	"context"
	"database/sql"

	"github.com/hrgate/hrgate"
)

const (
	timeOffRequestColumns = `id, company_id, employee_id, source_id, remote_id, type, status, start_date, end_date, ` +
		`amount, units, created_at, modified_at`
	timeOffBalanceColumns = `id, company_id, employee_id, source_id, remote_id, policy_type, balance, used, units, ` +
		`created_at, modified_at`
)

// timeOffQuery builds the SELECT of cols from table for f.
func timeOffQuery(table, cols string, f hrgate.TimeOffFilter) *query {
	q := ownedQuery(table, cols, f.Scope, f.ID, f.CompanyID)
	if f.EmployeeID != "" {
		q.and("employee_id = ?", f.EmployeeID)
	}
	if !f.ModifiedAfter.IsZero() {
		q.and("modified_at > ?", f.ModifiedAfter.UnixMicro())
	}
	q.page(f.Page)
	return q
}

// FindTimeOffRequests returns the live time-off requests of f.Scope that
// match f, ordered by id.
func (db *DB) FindTimeOffRequests(ctx context.Context, f hrgate.TimeOffFilter) ([]*hrgate.TimeOffRequest, error) {
	build := func() *query { return timeOffQuery("time_off_requests", timeOffRequestColumns, f) }
	return findAll(ctx, db, "sqlstore.FindTimeOffRequests", f.Page, f.Scope, build, scanTimeOffRequest)
}

// FindTimeOffBalances returns the live time-off balances of f.Scope that
// match f, ordered by id.
func (db *DB) FindTimeOffBalances(ctx context.Context, f hrgate.TimeOffFilter) ([]*hrgate.TimeOffBalance, error) {
	build := func() *query { return timeOffQuery("time_off_balances", timeOffBalanceColumns, f) }
	return findAll(ctx, db, "sqlstore.FindTimeOffBalances", f.Page, f.Scope, build, func(rows scanner) (*hrgate.TimeOffBalance, error) {
		var (
			b                 hrgate.TimeOffBalance
			created, modified sql.NullInt64
		)
		err := rows.Scan(&b.ID, &b.CompanyID, &b.EmployeeID, &b.SourceID, &b.RemoteID, &b.PolicyType,
			&b.Balance, &b.Used, &b.Units, &created, &modified)
		b.CreatedAt, b.ModifiedAt = timeOf(created), timeOf(modified)
		return &b, err
	})
}

// scanTimeOffRequest reads the timeOffRequestColumns of one row.
func scanTimeOffRequest(rows scanner) (*hrgate.TimeOffRequest, error) {
	var (
		r                 hrgate.TimeOffRequest
		created, modified sql.NullInt64
	)
	err := rows.Scan(&r.ID, &r.CompanyID, &r.EmployeeID, &r.SourceID, &r.RemoteID, &r.Type, &r.Status,
		&r.StartDate, &r.EndDate, &r.Amount, &r.Units, &created, &modified)
	r.CreatedAt, r.ModifiedAt = timeOf(created), timeOf(modified)
	return &r, err
}

func timeOffRequestArgs(args []any, r *hrgate.TimeOffRequest) ([]any, error) {
	return append(args, r.ID, r.CompanyID, r.EmployeeID, r.SourceID, r.RemoteID, r.Type, r.Status,
		r.StartDate, r.EndDate, r.Amount, r.Units, micros(r.CreatedAt), micros(r.ModifiedAt)), nil
}

func timeOffBalanceArgs(args []any, b *hrgate.TimeOffBalance) ([]any, error) {
	return append(args, b.ID, b.CompanyID, b.EmployeeID, b.SourceID, b.RemoteID, b.PolicyType,
		b.Balance, b.Used, b.Units, micros(b.CreatedAt), micros(b.ModifiedAt)), nil
}

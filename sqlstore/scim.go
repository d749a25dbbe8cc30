package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/hrgate/hrgate"
)

// The SCIM state of a source's users (docs/scim.md, migration 0009): the
// userName and whether the source deleted the user. It is written in the
// sync engine's transaction, with the employee change it belongs to.

var (
	_ hrgate.SCIMUserStore   = (*DB)(nil)
	_ hrgate.SCIMUserTx      = (*syncTx)(nil)
	_ hrgate.EmployeeCheckTx = (*syncTx)(nil)
)

// userKey is the form of a userName that uniqueness and look-ups compare:
// userName is case-insensitive (RFC 7643 §4.1.1).
func userKey(name string) string { return strings.ToLower(name) }

const scimUserColumns = `employee_id, source_id, user_name, deleted_at`

func scanSCIMUser(s scanner) (*hrgate.SCIMUser, error) {
	var (
		u       hrgate.SCIMUser
		deleted sql.NullInt64
	)
	if err := s.Scan(&u.EmployeeID, &u.SourceID, &u.UserName, &deleted); err != nil {
		return nil, err
	}
	u.DeletedAt = timeOf(deleted)
	return &u, nil
}

// SCIMUsers returns the SCIM state of the given employees of the source.
func (db *DB) SCIMUsers(ctx context.Context, sourceID string, employeeIDs []string) (map[string]*hrgate.SCIMUser, error) {
	const op = "sqlstore.SCIMUsers"
	out := make(map[string]*hrgate.SCIMUser, len(employeeIDs))
	for start := 0; start < len(employeeIDs); start += maxLookup {
		chunk := employeeIDs[start:min(start+maxLookup, len(employeeIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, sourceID)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := db.read.QueryContext(ctx, db.dialect.rebind(`SELECT `+scimUserColumns+` FROM scim_users WHERE source_id = ? AND employee_id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`), args...)
		us, err := collect(db, op, rows, err, scanSCIMUser)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			out[u.EmployeeID] = u
		}
	}
	return out, nil
}

// FindSCIMUserByName returns the source's user, not deleted, whose
// userName is name ignoring case, or ENOTFOUND.
func (db *DB) FindSCIMUserByName(ctx context.Context, sourceID, name string) (*hrgate.SCIMUser, error) {
	const op = "sqlstore.FindSCIMUserByName"
	u, err := scanSCIMUser(db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT `+scimUserColumns+
		` FROM scim_users WHERE source_id = ? AND user_key = ? AND deleted_at IS NULL`), sourceID, userKey(name)))
	if err != nil {
		return nil, db.notFound(err, op, "User")
	}
	return u, nil
}

const putSCIMUser = `INSERT INTO scim_users (employee_id, source_id, user_name, user_key, deleted_at) ` +
	`SELECT id, source_id, ?, ?, ? FROM employees WHERE id = ? AND source_id = ? AND deleted_at IS NULL ` +
	`ON CONFLICT (employee_id) DO UPDATE SET user_name = excluded.user_name, ` +
	`user_key = excluded.user_key, deleted_at = excluded.deleted_at WHERE scim_users.deleted_at IS NULL`

// PutSCIMUser inserts or replaces the SCIM state of a live employee of the
// transaction's source (an erased one is EINVALID, as another source's
// is). The partial unique index on (source_id, user_key) makes a taken
// userName ECONFLICT even between concurrent transactions on PostgreSQL.
// A stored userName other than was (when given) is ECONFLICT with cause
// hrgate.ErrSCIMUserChanged.
func (t *syncTx) PutSCIMUser(ctx context.Context, u *hrgate.SCIMUser, was string) error {
	switch {
	case u == nil || u.EmployeeID == "" || u.UserName == "":
		return invalid("A SCIM user needs an employee and a userName.")
	case u.SourceID != t.src.ID:
		return invalid("A source writes only its own users.")
	}
	// One statement: the row is written only for a live employee of the
	// source (EraseEmployee takes no source lock, so a write racing an
	// erasure must not bring the erased person's userName back), the
	// partial unique index refuses a taken userName, and a deleted
	// user's row, or one renamed since the writer read it, is left as it
	// is (the WHERE of the update, which PostgreSQL evaluates on the row
	// as last committed, under its lock): a write that read the user
	// before a concurrent DELETE or rename committed cannot undo it.
	query, args := putSCIMUser, []any{u.UserName, userKey(u.UserName), micros(u.DeletedAt), u.EmployeeID, t.src.ID}
	if was != "" {
		query, args = putSCIMUser+` AND scim_users.user_name = ?`, append(args, was)
	}
	n, err := rowsAffected(t.db.wstmts.txExec(ctx, t.tx, query, args...))
	if err == nil && n != 1 {
		return t.whyNotPut(ctx, u.EmployeeID)
	}
	if v := t.db.dialect.classify(err); v.kind == violationUnique {
		return &hrgate.Error{Code: hrgate.ECONFLICT, Message: "Another user of this source has this userName.", Err: err}
	}
	return err
}

// whyNotPut tells why PutSCIMUser wrote no row for the employee id: not
// a live employee of the source (EINVALID), a deleted user (ENOTFOUND),
// or else a user renamed since the writer read it (ECONFLICT, naming the
// stored userName). It reads the rows as last committed, as the refused
// statement saw them.
func (t *syncTx) whyNotPut(ctx context.Context, id string) error {
	var (
		deleted sql.NullInt64
		name    sql.NullString
	)
	switch err := t.db.wstmts.txQueryRow(ctx, t.tx, `SELECT s.deleted_at, s.user_name FROM employees e `+
		`LEFT JOIN scim_users s ON s.employee_id = e.id WHERE e.id = ? AND e.source_id = ? AND e.deleted_at IS NULL`,
		id, t.src.ID).Scan(&deleted, &name); {
	case errors.Is(err, sql.ErrNoRows):
		return invalid("A source writes only its own users.")
	case err != nil:
		return err
	case deleted.Valid:
		return hrgate.ErrNotFound("User")
	}
	return &hrgate.Error{Code: hrgate.ECONFLICT, Message: "The user was renamed since it was read.",
		Err: &hrgate.SCIMUserRenamed{UserName: name.String}}
}

// LiveEmployees returns which of ids name employees of the transaction's
// source that are not erased.
func (t *syncTx) LiveEmployees(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for start := 0; start < len(ids); start += maxLookup {
		chunk := ids[start:min(start+maxLookup, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, t.src.ID)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := t.db.wstmts.txQuery(ctx, t.tx, `SELECT id FROM employees WHERE source_id = ? AND deleted_at IS NULL AND id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hrgate/hrgate"
)

// EraseEmployee crypto-shreds the employee with the given id, in three
// steps, each of which may be repeated:
//
//  1. the record is hidden (deleted_at set), so that no read meets a
//     record whose keys are gone;
//  2. the employee's data keys are destroyed in the key store, after
//     which no copy of its encrypted groups, in this database or any
//     backup of it, can be opened;
//  3. the record is tombstoned: every field group and blind index is
//     emptied, and the keys are destroyed once more, in case a
//     re-encryption job working on the record created one meanwhile.
//
// A crash between the steps leaves the record hidden and, after step 2,
// unreadable; running the erase again finishes it. Erasing an erased
// employee succeeds and changes nothing. The record itself stays, so that
// its id is never reused and its time off keeps its reference. ENOTFOUND
// when no employee has the id.
func (db *DB) EraseEmployee(ctx context.Context, id string) error {
	const op = "sqlstore.EraseEmployee"
	if id == "" {
		return invalid("Name the employee to erase.")
	}
	enc := db.enc
	if enc.kr == nil && !enc.insecure {
		return db.translate(errNoCipher, op)
	}
	now := db.epoch.now().UnixMicro()
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(
		`UPDATE employees SET deleted_at = COALESCE(deleted_at, ?) WHERE id = ?`), now, id)
	if err != nil {
		return db.translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil {
		return db.translate(err, op)
	} else if n == 0 {
		var one int
		err := db.write.QueryRowContext(ctx, db.dialect.rebind(`SELECT 1 FROM employees WHERE id = ?`), id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return hrgate.ErrNotFound("employee")
		}
		return db.translate(err, op)
	}
	if enc.kr != nil {
		if err := enc.kr.Erase(ctx, id); err != nil {
			return db.translate(err, op)
		}
	}
	if err := db.crashPoint("erase: keys destroyed"); err != nil {
		return err
	}
	_, err = db.write.ExecContext(ctx, db.dialect.rebind(`UPDATE employees SET modified_at = ?, employment_status = '', `+
		`g_identity = NULL, g_employment = NULL, g_contact = NULL, g_personal = NULL, `+
		`g_compensation = NULL, g_banking = NULL, g_government_id = NULL, `+
		`bi_national_id = NULL, bi_personal_email = NULL WHERE id = ?`), now, id)
	if err != nil {
		return db.translate(err, op)
	}
	// A SCIM userName is personal data too (docs/scim.md).
	if _, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM scim_users WHERE employee_id = ?`), id); err != nil {
		return db.translate(err, op)
	}
	if enc.kr != nil {
		// Once more: a re-encryption job that read the record before it
		// was hidden may have created a key for it since. A job that
		// reads it after this finds nothing to seal, and erases again
		// what it created (eraseAgainIfErased).
		if err := enc.kr.Erase(ctx, id); err != nil {
			return db.translate(err, op)
		}
	}
	db.flushDeleted(ctx)
	return nil
}

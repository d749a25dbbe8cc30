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
//     record whose keys are gone; in the same transaction its time-off
//     requests and balances are hidden and tombstoned (eraseTimeOff),
//     since they are kept in the clear and no key destroys them;
//  2. the employee's data keys are destroyed in the key store, after
//     which no copy of its encrypted groups, in this database or any
//     backup of it, can be opened;
//  3. the record is tombstoned: every field group and blind index is
//     emptied, and the keys are destroyed once more, in case a
//     re-encryption job working on the record created one meanwhile.
//
// A crash between the steps leaves the record hidden, its time off
// already emptied, and, after step 2, the record unreadable; running the
// erase again finishes it. Erasing an erased employee succeeds and
// changes nothing. The record and the time-off rows stay, emptied, so
// that the employee's id is never reused and a source re-sending a
// request's remote id finds the tombstone and is refused
// (docs/sources.md). ENOTFOUND when no employee has the id.
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
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// On PostgreSQL the row is locked FOR UPDATE, the one mode that
		// waits for the FOR KEY SHARE of a sync writing the employee's
		// time off (holdEmployees), and that such a sync waits for.
		lock := ""
		if db.dialect.name == "postgres" {
			lock = ` FOR UPDATE`
		}
		var one int
		err := db.wstmts.txQueryRow(ctx, tx, `SELECT 1 FROM employees WHERE id = ?`+lock, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return hrgate.ErrNotFound("employee")
		} else if err != nil {
			return err
		}
		if _, err := db.wstmts.txExec(ctx, tx, `UPDATE employees SET deleted_at = COALESCE(deleted_at, ?) WHERE id = ?`, now, id); err != nil {
			return err
		}
		return db.eraseTimeOff(ctx, tx, id, now)
	})
	if err != nil {
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

// eraseTimeOff hides the time-off requests and balances of the employee
// and empties what they say (type, status, dates, amounts, units, policy).
// Unlike the employee's groups they are stored in the clear, so emptying
// them is their only erasure. The rows stay, with their ids and their
// source's remote ids, so that a source re-sending one finds it and is
// refused rather than creating it anew. It changes no row erased before.
//
// On PostgreSQL a sync writing time off holds its employee's row FOR KEY
// SHARE (holdEmployees), which the FOR UPDATE of step 1 conflicts with:
// either the sync commits first and its rows are there to be erased here,
// or it waits and then finds the employee erased.
func (db *DB) eraseTimeOff(ctx context.Context, tx *sql.Tx, id string, now int64) error {
	if _, err := db.wstmts.txExec(ctx, tx, `UPDATE time_off_requests SET type = '', status = '', start_date = '', `+
		`end_date = '', amount = '', units = '', modified_at = ?, deleted_at = COALESCE(deleted_at, ?) `+
		`WHERE employee_id = ? AND (deleted_at IS NULL OR type <> '' OR status <> '' OR start_date <> '' `+
		`OR end_date <> '' OR amount <> '' OR units <> '')`, now, now, id); err != nil {
		return err
	}
	_, err := db.wstmts.txExec(ctx, tx, `UPDATE time_off_balances SET policy_type = '', balance = '', used = '', `+
		`units = '', modified_at = ?, deleted_at = COALESCE(deleted_at, ?) `+
		`WHERE employee_id = ? AND (deleted_at IS NULL OR policy_type <> '' OR balance <> '' OR used <> '' `+
		`OR units <> '')`, now, now, id)
	return err
}

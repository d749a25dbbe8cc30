package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// RecordMessage inserts the id of an inbound message of the source, and
// reports whether it was new. The insert is the first write of the
// transaction that applies the message. On PostgreSQL, Sync has locked
// the source's row, so that the messages of one source are applied one
// after the other, as SQLite serialises every writer: a patch or a time-off
// cancel reads the stored record and writes it back whole, and two
// messages reading it at once under READ COMMITTED would each write back
// the other's change undone. A concurrent delivery of the same id waits
// on that lock until the first transaction ends, then finds the row (or,
// if the first rolled back, inserts it), so a message id is applied at
// most once. Ids older than hrgate.MessageRetention are deleted on the
// way, so the table holds about a day of messages.
func (t *syncTx) RecordMessage(ctx context.Context, id string, at time.Time) (bool, error) {
	if id == "" {
		return false, invalid("An inbound message needs an id.")
	}
	// Sync has locked the source's row (FOR NO KEY UPDATE) already.
	if _, err := t.db.wstmts.txExec(ctx, t.tx, `DELETE FROM source_messages WHERE source_id = ? AND received_at < ?`,
		t.src.ID, at.Add(-hrgate.MessageRetention).UnixMicro()); err != nil {
		return false, err
	}
	res, err := t.db.wstmts.txExec(ctx, t.tx, `INSERT INTO source_messages (source_id, message_id, received_at) VALUES (?, ?, ?) `+
		`ON CONFLICT (source_id, message_id) DO NOTHING`, t.src.ID, id, at.UnixMicro())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetMessageOutcome stores the answer of a message recorded in this
// transaction.
func (t *syncTx) SetMessageOutcome(ctx context.Context, id string, outcome []byte) error {
	res, err := t.db.wstmts.txExec(ctx, t.tx, `UPDATE source_messages SET outcome = ? WHERE source_id = ? AND message_id = ?`,
		string(outcome), t.src.ID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return invalid("The message was not recorded in this transaction.")
	}
	return nil
}

// MessageOutcome returns the stored answer of a remembered inbound
// message, or ENOTFOUND.
func (db *DB) MessageOutcome(ctx context.Context, sourceID, id string) ([]byte, error) {
	const op = "sqlstore.MessageOutcome"
	var outcome string
	err := db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT outcome FROM source_messages WHERE source_id = ? AND message_id = ?`),
		sourceID, id).Scan(&outcome)
	if err != nil {
		return nil, db.notFound(err, op, "Message")
	}
	return []byte(outcome), nil
}

// TimeOff returns the stored time-off requests of the source with the
// given remote ids, keyed by remote id.
func (t *syncTx) TimeOff(ctx context.Context, remoteIDs []string) (map[string]*hrgate.TimeOffRequest, error) {
	out := make(map[string]*hrgate.TimeOffRequest, len(remoteIDs))
	for start := 0; start < len(remoteIDs); start += maxLookup {
		chunk := remoteIDs[start:min(start+maxLookup, len(remoteIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, t.src.ID)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := t.db.wstmts.txQuery(ctx, t.tx, `SELECT `+timeOffRequestColumns+
			` FROM time_off_requests WHERE source_id = ? AND remote_id <> '' AND remote_id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r, err := scanTimeOffRequest(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[r.RemoteID] = r
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

// checkTimeOff refuses a request the transaction's source may not write.
func (t *syncTx) checkTimeOff(r *hrgate.TimeOffRequest) error {
	switch {
	case r == nil || r.ID == "" || r.RemoteID == "" || r.EmployeeID == "":
		return invalid("Every synced time-off request needs an id, a remote id and an employee.")
	case r.SourceID != t.src.ID || r.CompanyID != t.src.CompanyID:
		return invalid("A source writes only its own company's time off.")
	}
	return nil
}

// InsertTimeOff inserts new time-off requests of the source.
func (t *syncTx) InsertTimeOff(ctx context.Context, rs []*hrgate.TimeOffRequest) error {
	for _, r := range rs {
		if err := t.checkTimeOff(r); err != nil {
			return err
		}
	}
	if err := t.holdLiveEmployees(ctx, rs); err != nil {
		return err
	}
	return insertRows(ctx, t.db, t.tx, "time_off_requests", timeOffRequestColumns, rs, timeOffRequestArgs)
}

// UpdateTimeOff rewrites stored time-off requests of the source. A
// request that is gone is ECONFLICT.
func (t *syncTx) UpdateTimeOff(ctx context.Context, rs []*hrgate.TimeOffRequest) error {
	for _, r := range rs {
		if err := t.checkTimeOff(r); err != nil {
			return err
		}
	}
	if err := t.holdLiveEmployees(ctx, rs); err != nil {
		return err
	}
	for _, r := range rs {
		res, err := t.db.wstmts.txExec(ctx, t.tx, `UPDATE time_off_requests SET employee_id = ?, type = ?, status = ?, `+
			`start_date = ?, end_date = ?, amount = ?, units = ?, modified_at = ? WHERE id = ? AND source_id = ? AND deleted_at IS NULL`,
			r.EmployeeID, r.Type, r.Status, r.StartDate, r.EndDate, r.Amount, r.Units, micros(r.ModifiedAt), r.ID, t.src.ID)
		if n, err := rowsAffected(res, err); err != nil {
			return err
		} else if n != 1 {
			return &hrgate.Error{Code: hrgate.ECONFLICT, Message: "A time-off request of this source was removed during the sync; send it again."}
		}
	}
	return nil
}

// holdLiveEmployees refuses time off of an erased employee, ECONFLICT.
// The caller has checked its employees already; this check is for an
// erasure that commits meanwhile (holdEmployees).
func (t *syncTx) holdLiveEmployees(ctx context.Context, rs []*hrgate.TimeOffRequest) error {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.EmployeeID)
	}
	return holdEmployees(ctx, t.db, t.tx, ids)
}

var errTimeOffOfErased = &hrgate.Error{Code: hrgate.ECONFLICT, Message: "The employee of a time-off request was erased; the time off is refused."}

// holdEmployees refuses, ECONFLICT (errTimeOffOfErased), time off of the
// employees ids names when one of them is erased; an id of no employee
// is left to the foreign key.
// On PostgreSQL it holds their rows FOR KEY SHARE until the transaction
// ends, which the first step of EraseEmployee (the row locked FOR UPDATE)
// waits for and which waits for it, while ordinary updates of the
// employees (a sync, SCIM, re-encryption) go on:
// either this transaction commits first and the erasure then empties the
// time off it wrote, or the erasure commits first and the lock, taken on
// the row as last committed, finds the employee erased. SQLite runs one
// writer at a time, so what the check sees holds until the commit.
func holdEmployees(ctx context.Context, db *DB, tx *sql.Tx, ids []string) error {
	ids = dedupe(ids)
	lock := ""
	if db.dialect.name == "postgres" {
		lock = ` FOR KEY SHARE`
	}
	for start := 0; start < len(ids); start += maxLookup {
		chunk := ids[start:min(start+maxLookup, len(ids))]
		args := make([]any, 0, len(chunk))
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := db.wstmts.txQuery(ctx, tx, `SELECT deleted_at IS NULL FROM employees WHERE id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`+lock, args...)
		if err != nil {
			return err
		}
		erased := false
		for rows.Next() {
			var live bool
			if err := rows.Scan(&live); err != nil {
				rows.Close()
				return err
			}
			erased = erased || !live
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if erased {
			return errTimeOffOfErased
		}
	}
	return nil
}

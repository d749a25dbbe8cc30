package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"time"
)

// Retention of the change outbox and of the record of webhook deliveries
// (docs/webhooks.md#retention). Both are pruned in statements of at most
// pruneBatch events or deliveries (with their attempts), as sync runs are,
// so that SQLite's one writer is never held for long; each statement works on a window of keys found first by
// an index, so that rows a pass keeps (pending deliveries, events the
// fan-out has not passed) are read once per pass, not once per statement.

// PruneWebhookDeliveries deletes the deliveries in a final state
// (succeeded, failed, skipped) that ended before before, with their
// attempts, and returns how many it deleted. A pending delivery stays
// whatever its age: it is still to be attempted, or is in flight. So does
// an original delivery while a replay of it stays, since a replay reads
// the original (ReplayWebhookDeliveries).
func (db *DB) PruneWebhookDeliveries(ctx context.Context, before time.Time) (int, error) {
	const op = "sqlstore.PruneWebhookDeliveries"
	cut := before.UnixMicro()
	// A delivery ends after it was created, so one that ended before the
	// cut was created before it: the windows walk the index on
	// (created_at, id) over the deliveries created before the cut only.
	loAt, loID, total := int64(math.MinInt64), "", 0
	for {
		var (
			hiAt int64
			hiID string
		)
		err := db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT created_at, id FROM (SELECT created_at, id FROM webhook_deliveries `+
			`WHERE created_at < ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?) w ORDER BY created_at DESC, id DESC LIMIT 1`),
			cut, loAt, loID, pruneBatch).Scan(&hiAt, &hiID)
		if errors.Is(err, sql.ErrNoRows) {
			return total, nil
		}
		if err != nil {
			return total, db.translate(err, op)
		}
		// The attempts go with their delivery (ON DELETE CASCADE, by
		// the attempts' primary key).
		res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM webhook_deliveries WHERE id IN (SELECT d.id FROM webhook_deliveries d `+
			`WHERE (d.created_at, d.id) > (?, ?) AND (d.created_at, d.id) <= (?, ?) AND d.status <> 'pending' AND d.finished_at < ? `+
			`AND NOT EXISTS (SELECT 1 FROM webhook_deliveries r WHERE r.replay_of <> '' AND r.replay_of = d.id `+
			`AND (r.status = 'pending' OR r.finished_at IS NULL OR r.finished_at >= ?)))`),
			loAt, loID, hiAt, hiID, cut, cut)
		n, err := rowsAffected(res, err)
		if err != nil {
			return total, db.translate(err, op)
		}
		total += n
		loAt, loID = hiAt, hiID
	}
}

// PruneChangeEvents deletes the change events of the outbox written
// before before and returns how many it deleted. With fannedOut, only the
// events the webhook fan-out cursor has passed go: FanOutWebhooks never
// reads at or before its cursor again (on PostgreSQL, no transaction that
// could still commit an event there is running once the cursor moved past
// it), while an event after it is still to become deliveries. Without it,
// for a deployment that runs no webhook worker, age alone decides.
func (db *DB) PruneChangeEvents(ctx context.Context, before time.Time, fannedOut bool) (int, error) {
	const op = "sqlstore.PruneChangeEvents"
	behindCursor, cursorArgs := "", []any(nil)
	if fannedOut {
		// The cursor is read once: one that moves on meanwhile only
		// leaves more for the next pass.
		var curTx, curSeq int64
		if err := db.write.QueryRowContext(ctx, `SELECT txid, seq FROM webhook_cursor WHERE id = 1`).Scan(&curTx, &curSeq); err != nil {
			return 0, db.translate(err, op)
		}
		behindCursor, cursorArgs = ` AND seq <= ?`, []any{curSeq}
		if db.dialect.name == "postgres" {
			behindCursor, cursorArgs = ` AND (txid, seq) <= (?::text::xid8, ?)`, []any{strconv.FormatInt(curTx, 10), curSeq}
		}
	}
	// Windows of pruneBatch events in seq order, the primary key. An
	// event's time is its run's, taken by the writer shortly before the
	// event gets its seq, so the old events come first and the pass stops
	// at the first window with nothing old in it. Old events behind
	// younger ones (a long run beside short ones, skewed clocks of
	// several instances) go in a later pass; nothing younger than the
	// cut ever goes, whatever the order.
	lo, total := int64(0), 0
	for {
		var hi sql.NullInt64
		err := db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT MAX(seq) FROM (SELECT seq FROM change_events WHERE seq > ?`+behindCursor+
			` ORDER BY seq LIMIT ?) w`), append(append([]any{lo}, cursorArgs...), pruneBatch)...).Scan(&hi)
		if err != nil {
			return total, db.translate(err, op)
		}
		if !hi.Valid {
			return total, nil
		}
		res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM change_events WHERE seq > ? AND seq <= ? AND created_at < ?`+behindCursor),
			append([]any{lo, hi.Int64, before.UnixMicro()}, cursorArgs...)...)
		n, err := rowsAffected(res, err)
		if err != nil {
			return total, db.translate(err, op)
		}
		if n == 0 {
			return total, nil
		}
		total += n
		lo = hi.Int64
	}
}

// rowsAffected is the count of rows a statement run with ExecContext
// changed, or the error of running it or of counting.
func rowsAffected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

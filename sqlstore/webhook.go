package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
)

// webhookSecret is the vault column that keeps the signing keys of
// outbound webhook endpoints. since is the number of the migration that
// creates webhook_secrets: it moves with the file's number.
var webhookSecret = vaultColumn{table: "webhook_secrets", key: "id", column: "secret", since: 10}

// outboxSignal wakes the webhook worker of this process when change events
// or deliveries commit. Its zero value is ready: the channel is made on
// first use.
type outboxSignal struct {
	once sync.Once
	ch   chan struct{}
}

func (s *outboxSignal) channel() chan struct{} {
	s.once.Do(func() { s.ch = make(chan struct{}, 1) })
	return s.ch
}

// notify wakes the worker without ever blocking: a wake-up already
// pending covers this one.
func (s *outboxSignal) notify() {
	select {
	case s.channel() <- struct{}{}:
	default:
	}
}

// WebhookSignal returns the channel notified after every commit of change
// events or new deliveries in this process.
func (db *DB) WebhookSignal() <-chan struct{} { return db.outbox.channel() }

const webhookEndpointColumns = `id, consumer_id, url, event_types, description, allow_http, mode, disabled_at, disabled_reason, ` +
	`failing_since, created_at, modified_at`

// CreateWebhookEndpoint inserts e with its first key, sealed under the
// vault's key, in one transaction. A consumer that does not exist is
// EINVALID.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e *hrgate.WebhookEndpoint, secret *hrgate.WebhookSecret) error {
	const op = "sqlstore.CreateWebhookEndpoint"
	switch {
	case e == nil || e.ID == "" || e.ConsumerID == "" || e.URL == "":
		return invalid("A webhook endpoint needs an id, a consumer and a URL.")
	case len(e.EventTypes) == 0:
		return invalid("A webhook endpoint needs at least one event type.")
	case e.Mode != hrgate.WebhookFull && e.Mode != hrgate.WebhookThin:
		return invalid("A webhook endpoint's mode is full or thin.")
	case secret == nil || secret.ID == "" || len(secret.Key) == 0:
		return invalid("A webhook endpoint needs a signing key.")
	}
	sealed, err := db.sealSecret(ctx, webhookSecret, secret.ID, secret.Key)
	if err != nil {
		return db.translate(err, op)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO webhook_endpoints (`+webhookEndpointColumns+
			`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.ID, e.ConsumerID, e.URL, strings.Join(e.EventTypes, ","), e.Description, e.AllowHTTP, e.Mode,
			micros(e.DisabledAt), e.DisabledReason, micros(e.FailingSince), micros(e.CreatedAt), micros(e.ModifiedAt))
		if err != nil {
			return err
		}
		return db.insertWebhookSecret(ctx, tx, e.ID, secret, sealed)
	})
	return db.translate(err, op)
}

func (db *DB) insertWebhookSecret(ctx context.Context, tx *sql.Tx, endpointID string, s *hrgate.WebhookSecret, sealed any) error {
	_, err := tx.ExecContext(ctx, db.dialect.rebind(
		`INSERT INTO webhook_secrets (id, endpoint_id, secret, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		s.ID, endpointID, sealed, s.CreatedAt.UnixMicro(), micros(s.ExpiresAt))
	return err
}

// FindWebhookEndpoint returns the endpoint with the given id, or ENOTFOUND.
func (db *DB) FindWebhookEndpoint(ctx context.Context, id string) (*hrgate.WebhookEndpoint, error) {
	const op = "sqlstore.FindWebhookEndpoint"
	row := db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = ?`), id)
	e, err := scanWebhookEndpoint(row)
	if err != nil {
		return nil, db.notFound(err, op, "Webhook endpoint")
	}
	return e, nil
}

// ListWebhookEndpoints returns the endpoints of a consumer ("" for all),
// oldest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, consumerID string) ([]*hrgate.WebhookEndpoint, error) {
	const op = "sqlstore.ListWebhookEndpoints"
	q, args := `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`, []any(nil)
	if consumerID != "" {
		q, args = `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE consumer_id = ? ORDER BY created_at, id`, []any{consumerID}
	}
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(q), args...)
	return collect(db, op, rows, err, scanWebhookEndpoint)
}

// SetWebhookEndpointState disables the endpoint at at with reason, or,
// with a zero at, enables it and forgets its run of failures.
func (db *DB) SetWebhookEndpointState(ctx context.Context, id string, at time.Time, reason string) error {
	const op = "sqlstore.SetWebhookEndpointState"
	q, args := `UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ?, modified_at = ? WHERE id = ?`,
		[]any{micros(at), reason, micros(at), id}
	if at.IsZero() {
		q, args = `UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = '', failing_since = NULL, modified_at = ? WHERE id = ?`,
			[]any{micros(db.epoch.now()), id}
	}
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(q), args...)
	if err == nil {
		err = db.oneRow(res, op, "Webhook endpoint")
	}
	if err == nil && at.IsZero() {
		db.outbox.notify() // its pending deliveries are due again
	}
	return db.translate(err, op)
}

// DeleteWebhookEndpoint deletes an endpoint with its keys, deliveries and
// attempts, or ENOTFOUND.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	const op = "sqlstore.DeleteWebhookEndpoint"
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM webhook_endpoints WHERE id = ?`), id)
	if err == nil {
		err = db.oneRow(res, op, "Webhook endpoint")
	}
	if err != nil {
		return db.translate(err, op)
	}
	db.flushDeleted(ctx) // the sealed keys were overwritten in place; make the WAL forget them too
	return nil
}

// RotateWebhookSecret makes next the endpoint's current key; the keys
// still in force expire at overlapEnd, those already expired go.
func (db *DB) RotateWebhookSecret(ctx context.Context, endpointID string, next *hrgate.WebhookSecret, overlapEnd time.Time) error {
	const op = "sqlstore.RotateWebhookSecret"
	if next == nil || next.ID == "" || len(next.Key) == 0 {
		return invalid("A rotation needs a new signing key.")
	}
	sealed, err := db.sealSecret(ctx, webhookSecret, next.ID, next.Key)
	if err != nil {
		return db.translate(err, op)
	}
	now := next.CreatedAt.UnixMicro()
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.dialect.rebind(`UPDATE webhook_endpoints SET modified_at = ? WHERE id = ?`), now, endpointID)
		if err == nil {
			err = db.oneRow(res, op, "Webhook endpoint")
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(
			`DELETE FROM webhook_secrets WHERE endpoint_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`), endpointID, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(
			`UPDATE webhook_secrets SET expires_at = ? WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?)`),
			overlapEnd.UnixMicro(), endpointID, overlapEnd.UnixMicro()); err != nil {
			return err
		}
		return db.insertWebhookSecret(ctx, tx, endpointID, next, sealed)
	})
	if err != nil {
		return db.translate(err, op)
	}
	db.flushDeleted(ctx)
	return nil
}

// WebhookSecrets returns the keys of the endpoint in force at now,
// opened, newest first.
func (db *DB) WebhookSecrets(ctx context.Context, endpointID string, now time.Time) ([]*hrgate.WebhookSecret, error) {
	const op = "sqlstore.WebhookSecrets"
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(`SELECT id, secret, created_at, expires_at FROM webhook_secrets `+
		`WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, id`), endpointID, now.UnixMicro())
	type stored struct {
		s   *hrgate.WebhookSecret
		raw []byte
	}
	all, err := collect(db, op, rows, err, func(sc scanner) (stored, error) {
		var (
			st               stored
			created, expires sql.NullInt64
		)
		st.s = &hrgate.WebhookSecret{}
		if err := sc.Scan(&st.s.ID, &st.raw, &created, &expires); err != nil {
			return st, err
		}
		st.s.CreatedAt, st.s.ExpiresAt = timeOf(created), timeOf(expires)
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*hrgate.WebhookSecret, 0, len(all))
	for _, st := range all {
		if st.s.Key, err = db.openSecret(ctx, webhookSecret, st.s.ID, st.raw); err != nil {
			return nil, db.translate(err, op)
		}
		out = append(out, st.s)
	}
	return out, nil
}

const webhookDeliveryColumns = `id, endpoint_id, event_id, event_type, company_id, employee_id, group_names, event_time, replay_of, ` +
	`status, attempts, next_attempt_at, last_status, last_error, created_at, finished_at, time_off_id`

func webhookDeliveryArgs(args []any, d *hrgate.WebhookDelivery) []any {
	return append(args, d.ID, d.EndpointID, d.EventID, d.EventType, d.CompanyID, d.EmployeeID, strings.Join(d.Groups, ","),
		micros(d.EventTime), d.ReplayOf, d.Status, d.Attempts, d.NextAttempt.UnixMicro(), d.LastStatus, d.LastError,
		d.CreatedAt.UnixMicro(), micros(d.FinishedAt), d.TimeOffID)
}

// FanOutWebhooks reads change events after the cursor, creates the
// deliveries match asks for and advances the cursor, in one transaction.
func (db *DB) FanOutWebhooks(ctx context.Context, limit int, now time.Time, newID func() (string, error), match hrgate.WebhookFanout) (int, error) {
	const op = "sqlstore.FanOutWebhooks"
	if limit <= 0 || limit > 10000 {
		return 0, invalid("Fan out 1 to 10000 change events at a time.")
	}
	pg := db.dialect.name == "postgres"
	n, created := 0, 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n, created = 0, 0
		lock := ""
		if pg {
			// Concurrent fan-outs queue here; the next reads the
			// cursor the first committed.
			lock = ` FOR UPDATE`
		}
		var curTx, curSeq int64
		if err := tx.QueryRowContext(ctx, `SELECT txid, seq FROM webhook_cursor WHERE id = 1`+lock).Scan(&curTx, &curSeq); err != nil {
			return err
		}
		var (
			rows *sql.Rows
			err  error
		)
		if pg {
			rows, err = db.wstmts.txQuery(ctx, tx, `SELECT seq, `+changeEventColumns+`, txid::text FROM change_events `+
				`WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) AND (txid, seq) > (?::text::xid8, ?) ORDER BY txid, seq LIMIT ?`,
				strconv.FormatInt(curTx, 10), curSeq, limit)
		} else {
			rows, err = db.wstmts.txQuery(ctx, tx, `SELECT seq, `+changeEventColumns+`, 0 FROM change_events `+
				`WHERE seq > ? ORDER BY seq LIMIT ?`, curSeq, limit)
		}
		type event struct {
			ev   *hrgate.ChangeEvent
			txid int64
		}
		evs, err := collect(db, op, rows, err, func(s scanner) (event, error) {
			var (
				e    event
				txid string
				err  error
			)
			if e.ev, err = scanChangeEvent(s, &txid); err != nil {
				return e, err
			}
			e.txid, err = strconv.ParseInt(txid, 10, 64)
			return e, err
		})
		if err != nil || len(evs) == 0 {
			return err
		}
		var ds []*hrgate.WebhookDelivery
		for _, e := range evs {
			ids, err := match(ctx, e.ev)
			if err != nil {
				return err
			}
			for _, endpointID := range ids {
				id, err := newID()
				if err != nil {
					return err
				}
				ds = append(ds, &hrgate.WebhookDelivery{
					ID: id, EndpointID: endpointID, EventID: e.ev.ID, EventType: e.ev.Type, CompanyID: e.ev.CompanyID,
					EmployeeID: e.ev.EmployeeID, Groups: e.ev.Groups, TimeOffID: e.ev.TimeOffID, EventTime: e.ev.Time,
					Status: hrgate.DeliveryPending, NextAttempt: now, CreatedAt: now,
				})
			}
		}
		// The deliveries go in multi-row statements: a round holds the
		// writer, and on SQLite that is everyone's writer. A delivery of
		// the same event to the same endpoint exists only if an earlier
		// fan-out committed it, which moved the cursor past the event in
		// the same transaction; the cursor only moves forward, and
		// fan-outs serialise on it. So a conflict here means the cursor
		// and the deliveries disagree (or match named an endpoint twice):
		// the round fails whole, leaving the cursor where it was, rather
		// than pass over it in silence.
		if err := insertRows(ctx, db, tx, "webhook_deliveries", webhookDeliveryColumns, ds, func(args []any, d *hrgate.WebhookDelivery) ([]any, error) {
			return webhookDeliveryArgs(args, d), nil
		}); err != nil {
			return err
		}
		created = len(ds)
		last := evs[len(evs)-1]
		n = len(evs)
		_, err = db.wstmts.txExec(ctx, tx, `UPDATE webhook_cursor SET txid = ?, seq = ? WHERE id = 1`, last.txid, last.ev.Seq)
		return err
	})
	if err != nil {
		return 0, db.translate(err, op)
	}
	if created > 0 {
		db.outbox.notify()
	}
	return n, nil
}

// WebhookBacklog counts, up to limit, the change events after the
// fan-out cursor, committed or not yet safe to read.
//
// The worker asks it before every fan-out round, so it must stay a range
// read of the index after the cursor however long the outbox is. The
// cursor is a subquery (on PostgreSQL an InitPlan whose values bound the
// index scan on (txid, seq)) and the rows are read in index order: as a
// join, with LIMIT and no order, PostgreSQL took the first match to be
// near and scanned the whole outbox when nothing was after the cursor.
func (db *DB) WebhookBacklog(ctx context.Context, limit int) (int, error) {
	const op = "sqlstore.WebhookBacklog"
	q := `SELECT COUNT(*) FROM (SELECT 1 FROM change_events WHERE seq > (SELECT c.seq FROM webhook_cursor c WHERE c.id = 1) ` +
		`ORDER BY seq LIMIT ?) AS b`
	if db.dialect.name == "postgres" {
		q = `SELECT COUNT(*) FROM (SELECT 1 FROM change_events WHERE (txid, seq) > ` +
			`(SELECT c.txid::text::xid8, c.seq FROM webhook_cursor c WHERE c.id = 1) ORDER BY txid, seq LIMIT ?) AS b`
	}
	var n int
	err := db.read.QueryRowContext(ctx, db.dialect.rebind(q), limit).Scan(&n)
	return n, db.translate(err, op)
}

// ClaimWebhookDeliveries leases due deliveries of enabled endpoints to
// owner until now+lease and returns them with their endpoints.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int, owner string) ([]*hrgate.WebhookClaim, error) {
	const op = "sqlstore.ClaimWebhookDeliveries"
	if limit <= 0 || owner == "" || lease <= 0 {
		return nil, invalid("A claim needs a limit, an owner and a lease.")
	}
	skip := ""
	if db.dialect.name == "postgres" {
		// Workers of other instances claiming at the same moment pass
		// over the rows this one is taking instead of waiting for them.
		skip = ` FOR UPDATE OF d SKIP LOCKED`
	}
	ts := now.UnixMicro()
	rows, err := db.write.QueryContext(ctx, db.dialect.rebind(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id IN (`+
		`SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id `+
		`WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?) AND e.disabled_at IS NULL `+
		`ORDER BY d.next_attempt_at LIMIT ?`+skip+`) RETURNING `+webhookDeliveryColumns),
		owner, now.Add(lease).UnixMicro(), ts, ts, limit)
	ds, err := collect(db, op, rows, err, scanWebhookDelivery)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	endpoints := map[string]*hrgate.WebhookEndpoint{}
	out := make([]*hrgate.WebhookClaim, 0, len(ds))
	for _, d := range ds {
		e, ok := endpoints[d.EndpointID]
		if !ok {
			// Read through the writer: on SQLite a reader's snapshot
			// may predate the claim's commit.
			row := db.write.QueryRowContext(ctx, db.dialect.rebind(`SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = ?`), d.EndpointID)
			if e, err = scanWebhookEndpoint(row); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, db.translate(err, op)
			}
			endpoints[d.EndpointID] = e
		}
		if e == nil {
			continue // deleted since the claim: its deliveries went with it
		}
		out = append(out, &hrgate.WebhookClaim{Delivery: d, Endpoint: e, Lease: owner})
	}
	return out, nil
}

// FinishWebhookAttempts writes the outcomes of attempts under their
// claims' leases, in one transaction: the worker batches them, so that a
// delivery costs a fraction of a commit.
func (db *DB) FinishWebhookAttempts(ctx context.Context, rs []*hrgate.WebhookResult) error {
	const op = "sqlstore.FinishWebhookAttempts"
	for _, r := range rs {
		if r == nil || r.Claim == nil || r.Claim.Delivery == nil || r.Outcome == nil || !hrgate.ValidDeliveryStatus(r.Outcome.Status) {
			return invalid("An attempt's outcome needs its claim and a delivery status.")
		}
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rs {
			r.Err = nil
			lost, err := db.finishAttempt(ctx, tx, r.Claim, r.Outcome)
			if err != nil {
				return err
			}
			if lost {
				r.Err = &hrgate.Error{Code: hrgate.ECONFLICT, Message: "The delivery is no longer leased to this worker.",
					Err: fmt.Errorf("delivery %s: lease lost", r.Claim.Delivery.ID)}
			}
		}
		return nil
	})
	return db.translate(err, op)
}

// finishAttempt writes one outcome in tx; lost reports a lease that is no
// longer the claim's, in which case nothing was written.
func (db *DB) finishAttempt(ctx context.Context, tx *sql.Tx, c *hrgate.WebhookClaim, o *hrgate.WebhookOutcome) (lost bool, err error) {
	d := c.Delivery
	attempted := o.Status != hrgate.DeliverySkipped
	var finished sql.NullInt64
	if o.Status != hrgate.DeliveryPending {
		finished = micros(o.Attempt.At)
	}
	next := o.NextAttempt
	if next.IsZero() {
		next = o.Attempt.At
	}
	attempts := d.Attempts
	if attempted {
		attempts++
	}
	res, err := db.wstmts.txExec(ctx, tx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, `+
		`lease_owner = '', lease_until = NULL, last_status = ?, last_error = ?, finished_at = ? WHERE id = ? AND lease_owner = ?`,
		o.Status, attempts, next.UnixMicro(), o.Attempt.StatusCode, o.Attempt.ErrorClass, finished, d.ID, c.Lease)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return true, nil
	}
	if !attempted {
		return false, nil
	}
	if _, err := db.wstmts.txExec(ctx, tx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, error_class) `+
		`VALUES (?, ?, ?, ?, ?, ?)`, d.ID, attempts, o.Attempt.At.UnixMicro(), o.Attempt.StatusCode,
		o.Attempt.Latency.Milliseconds(), o.Attempt.ErrorClass); err != nil {
		return false, err
	}
	// The run of failures changes only at its start and its end, so
	// most outcomes touch no endpoint row.
	q, args := `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`, []any{d.EndpointID}
	if o.Attempt.ErrorClass != "" {
		q, args = `UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL`, []any{o.Attempt.At.UnixMicro(), d.EndpointID}
	}
	if _, err := db.wstmts.txExec(ctx, tx, q, args...); err != nil {
		return false, err
	}
	if o.Disable != "" {
		_, err = db.wstmts.txExec(ctx, tx, `UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ?, modified_at = ? `+
			`WHERE id = ? AND disabled_at IS NULL`, o.Attempt.At.UnixMicro(), o.Disable, o.Attempt.At.UnixMicro(), d.EndpointID)
	}
	return false, err
}

// nextWebhookAttemptSQL finds when the earliest pending delivery of an
// enabled endpoint can be claimed: at next_attempt_at, or when its lease
// runs out if that is later. It reads the due index in order rather than
// every pending delivery. first is the earliest delivery not leased past
// its due time, the first row of the index that is not in flight. A
// leased delivery due after first cannot come sooner, as its lease ends
// later still; only those the walk to first passed over (bounded by the
// attempts in flight) are read for their lease.
const nextWebhookAttemptSQL = `WITH first AS (SELECT d.next_attempt_at AS t FROM webhook_deliveries d ` +
	`JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.status = 'pending' AND e.disabled_at IS NULL ` +
	`AND (d.lease_until IS NULL OR d.lease_until <= d.next_attempt_at) ORDER BY d.next_attempt_at LIMIT 1) ` +
	`SELECT MIN(t) FROM (SELECT t FROM first UNION ALL ` +
	`SELECT d.lease_until FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id ` +
	`WHERE d.status = 'pending' AND e.disabled_at IS NULL AND d.lease_until > d.next_attempt_at ` +
	`AND d.next_attempt_at <= COALESCE((SELECT t FROM first), 9223372036854775807)) AS x`

// NextWebhookAttempt returns when the earliest pending delivery of an
// enabled endpoint falls due, or when the earliest lease runs out; zero
// when nothing is pending.
func (db *DB) NextWebhookAttempt(ctx context.Context) (time.Time, error) {
	const op = "sqlstore.NextWebhookAttempt"
	var next sql.NullInt64
	if err := db.read.QueryRowContext(ctx, nextWebhookAttemptSQL).Scan(&next); err != nil {
		return time.Time{}, db.translate(err, op)
	}
	return timeOf(next), nil
}

// WebhookDeliveries returns deliveries matching f, newest first.
func (db *DB) WebhookDeliveries(ctx context.Context, f hrgate.DeliveryFilter) ([]*hrgate.WebhookDelivery, error) {
	const op = "sqlstore.WebhookDeliveries"
	if f.Limit <= 0 || f.Limit > 10000 {
		return nil, invalid("Ask for 1 to 10000 deliveries.")
	}
	if f.Status != "" && !hrgate.ValidDeliveryStatus(f.Status) {
		return nil, invalid("A delivery status is pending, succeeded, failed or skipped.")
	}
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"endpoint_id", f.EndpointID}, {"event_id", f.EventID}, {"status", f.Status}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + webhookDeliveryColumns + ` FROM webhook_deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(q+` ORDER BY created_at DESC, id DESC LIMIT ?`), append(args, f.Limit)...)
	return collect(db, op, rows, err, scanWebhookDelivery)
}

// FindWebhookDelivery returns a delivery and its attempts, oldest first.
func (db *DB) FindWebhookDelivery(ctx context.Context, id string) (*hrgate.WebhookDelivery, []*hrgate.WebhookAttempt, error) {
	const op = "sqlstore.FindWebhookDelivery"
	d, err := scanWebhookDelivery(db.read.QueryRowContext(ctx, db.dialect.rebind(`SELECT `+webhookDeliveryColumns+
		` FROM webhook_deliveries WHERE id = ?`), id))
	if err != nil {
		return nil, nil, db.notFound(err, op, "Delivery")
	}
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(`SELECT attempt, at, status_code, latency_ms, error_class `+
		`FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt`), id)
	as, err := collect(db, op, rows, err, func(s scanner) (*hrgate.WebhookAttempt, error) {
		a := &hrgate.WebhookAttempt{DeliveryID: id}
		var at, ms int64
		if err := s.Scan(&a.Number, &at, &a.StatusCode, &ms, &a.ErrorClass); err != nil {
			return nil, err
		}
		a.At, a.Latency = time.UnixMicro(at).UTC(), time.Duration(ms)*time.Millisecond
		return a, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return d, as, nil
}

// maxReplay bounds the deliveries one replay creates.
const maxReplay = 100000

// ReplayWebhookDeliveries creates a new pending delivery for every
// original delivery of the event, or of the events since since.
func (db *DB) ReplayWebhookDeliveries(ctx context.Context, eventID string, since time.Time, endpointID string, now time.Time,
	newID func() (string, error)) ([]*hrgate.WebhookDelivery, error) {
	const op = "sqlstore.ReplayWebhookDeliveries"
	if (eventID == "") == since.IsZero() {
		return nil, invalid("Replay either one event or the events since a time.")
	}
	where, args := `replay_of = '' AND event_id = ?`, []any{eventID}
	if eventID == "" {
		where, args = `replay_of = '' AND event_time >= ?`, []any{since.UnixMicro()}
	}
	if endpointID != "" {
		where += ` AND endpoint_id = ?`
		args = append(args, endpointID)
	}
	var out []*hrgate.WebhookDelivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, db.dialect.rebind(`SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries WHERE `+where+
			` ORDER BY event_time, id LIMIT ?`), append(args, maxReplay+1)...)
		originals, err := collect(db, op, rows, err, scanWebhookDelivery)
		if err != nil {
			return err
		}
		if len(originals) > maxReplay {
			return invalid("A replay covers at most %d deliveries; choose a later --since or one endpoint.", maxReplay)
		}
		for _, o := range originals {
			id, err := newID()
			if err != nil {
				return err
			}
			out = append(out, &hrgate.WebhookDelivery{
				ID: id, EndpointID: o.EndpointID, EventID: o.EventID, EventType: o.EventType, CompanyID: o.CompanyID,
				EmployeeID: o.EmployeeID, Groups: o.Groups, TimeOffID: o.TimeOffID, EventTime: o.EventTime, ReplayOf: o.ID,
				Status: hrgate.DeliveryPending, NextAttempt: now, CreatedAt: now,
			})
		}
		return insertRows(ctx, db, tx, "webhook_deliveries", webhookDeliveryColumns, out, func(args []any, d *hrgate.WebhookDelivery) ([]any, error) {
			return webhookDeliveryArgs(args, d), nil
		})
	})
	if err != nil {
		return nil, db.translate(err, op)
	}
	if len(out) > 0 {
		db.outbox.notify()
	}
	return out, nil
}

func scanWebhookEndpoint(s scanner) (*hrgate.WebhookEndpoint, error) {
	var (
		e                                   hrgate.WebhookEndpoint
		types                               string
		disabled, failing, created, updated sql.NullInt64
	)
	if err := s.Scan(&e.ID, &e.ConsumerID, &e.URL, &types, &e.Description, &e.AllowHTTP, &e.Mode, &disabled, &e.DisabledReason,
		&failing, &created, &updated); err != nil {
		return nil, err
	}
	e.EventTypes = strings.Split(types, ",")
	e.DisabledAt, e.FailingSince, e.CreatedAt, e.ModifiedAt = timeOf(disabled), timeOf(failing), timeOf(created), timeOf(updated)
	return &e, nil
}

func scanWebhookDelivery(s scanner) (*hrgate.WebhookDelivery, error) {
	var (
		d                 hrgate.WebhookDelivery
		groups            string
		eventTime, finish sql.NullInt64
		next, created     int64
	)
	if err := s.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.CompanyID, &d.EmployeeID, &groups, &eventTime, &d.ReplayOf,
		&d.Status, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &finish, &d.TimeOffID); err != nil {
		return nil, err
	}
	if groups != "" {
		d.Groups = strings.Split(groups, ",")
	}
	d.EventTime, d.FinishedAt = timeOf(eventTime), timeOf(finish)
	d.NextAttempt, d.CreatedAt = time.UnixMicro(next).UTC(), time.UnixMicro(created).UTC()
	return &d, nil
}

var _ hrgate.WebhookStore = (*DB)(nil)

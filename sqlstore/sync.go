package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// maxLookup bounds the remote ids of one look-up statement.
const maxLookup = 500

// Sync runs fn in one transaction on the writer for source src. Nothing
// fn writes is kept unless fn returns nil and the commit succeeds. A
// source deleted meanwhile is ENOTFOUND.
func (db *DB) Sync(ctx context.Context, src *hrgate.Source, fn func(hrgate.SyncTx) error) error {
	const op = "sqlstore.Sync"
	if src == nil || src.ID == "" || src.CompanyID == "" {
		return invalid("A sync needs a source.")
	}
	if err := db.enc.checkWritable(); err != nil {
		return db.translate(err, op)
	}
	// The source's row is locked on PostgreSQL, so that the writes of
	// one source queue (SQLite has one writer anyway): a sync reads the
	// stored employees and writes them back merged, and two syncs of one
	// employee at once (two SCIM PATCHes, a webhook and an import) would
	// otherwise each start from the same read, the later losing the
	// earlier's change. One lock per source, taken first, cannot deadlock.
	// NO KEY UPDATE: the inserts that reference the source (its runs,
	// employees, inbound messages) take KEY SHARE and do not wait.
	query := `SELECT 1 FROM sources WHERE id = ?`
	if db.dialect.name == "postgres" {
		query += ` FOR NO KEY UPDATE`
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := db.wstmts.txQueryRow(ctx, tx, query, src.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return &hrgate.Error{Code: hrgate.ENOTFOUND, Message: "Source not found.", Err: errSourceGone}
		}
		if err != nil {
			return err
		}
		return fn(&syncTx{db: db, tx: tx, src: src})
	})
	if err == nil {
		db.outbox.notify() // the webhook worker fans out what just committed
	}
	return db.translate(err, op)
}

// syncTx implements hrgate.SyncTx on one transaction.
type syncTx struct {
	db  *DB
	tx  *sql.Tx
	src *hrgate.Source
}

var _ hrgate.SyncTx = (*syncTx)(nil)

// syncSelect reads what Records needs of an employee: the fixed columns,
// whether it was erased, and every group.
var syncSelect = func() string {
	cols := `id, company_id, source_id, remote_id, created_at, modified_at, deleted_at`
	for _, g := range hrgate.AllGroups.Groups() {
		cols += ", " + groupColumn(g)
	}
	return cols
}()

// Records returns the stored employees of the source with the given
// remote ids, every group opened. The keys of the whole chunk are fetched
// at once (Prefetch) before any group is opened.
func (t *syncTx) Records(ctx context.Context, remoteIDs []string) (map[string]*hrgate.SyncRecord, error) {
	db := t.db
	out := make(map[string]*hrgate.SyncRecord, len(remoteIDs))
	groups := hrgate.AllGroups.Groups()
	// A sync reads each employee once, to compare it with the source's
	// record and write it back: its keys keep no AES-GCM instance.
	dec := db.enc.bulkDecoder()
	for start := 0; start < len(remoteIDs); start += maxLookup {
		chunk := remoteIDs[start:min(start+maxLookup, len(remoteIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, t.src.ID)
		for _, id := range chunk {
			args = append(args, id)
		}
		// remote_id <> '' lets the planner use the partial unique
		// index on (source_id, remote_id); without it every look-up
		// scanned the table.
		rows, err := db.wstmts.txQuery(ctx, t.tx, `SELECT `+syncSelect+` FROM employees WHERE source_id = ? AND remote_id <> '' AND remote_id IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		type stored struct {
			rec *hrgate.SyncRecord
			raw [][]byte
		}
		var page []stored
		var owners []string
		// A large look-up (an import's batch) loads the data keys on a
		// goroutine of its own while the rows are still being read:
		// the keys come from the key store, not this transaction, and
		// loading them was a third of a re-import without changes.
		var pf *prefetcher
		if db.enc.kr != nil && len(chunk) >= 2*prefetchChunk {
			pf = startPrefetch(ctx, db.enc.kr)
		}
		sent := 0
		for rows.Next() {
			var (
				e                          = &hrgate.Employee{Loaded: hrgate.AllGroups}
				created, modified, deleted sql.NullInt64
				raw                        = make([][]byte, len(groups))
			)
			dest := []any{&e.ID, &e.CompanyID, &e.SourceID, &e.RemoteID, &created, &modified, &deleted}
			for i := range raw {
				dest = append(dest, &raw[i])
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				pf.stop()
				return nil, err
			}
			e.CreatedAt, e.ModifiedAt = timeOf(created), timeOf(modified)
			rec := &hrgate.SyncRecord{Employee: e, Erased: deleted.Valid}
			if rec.Erased {
				e.Loaded = 0
			} else if db.enc.kr != nil && hasSealed(raw) {
				owners = append(owners, e.ID)
			}
			page = append(page, stored{rec, raw})
			if pf != nil && len(owners)-sent >= prefetchChunk {
				pf.add(owners[sent:len(owners):len(owners)])
				sent = len(owners)
			}
		}
		err = rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			pf.stop()
			return nil, err
		}
		switch {
		case pf != nil:
			if sent < len(owners) {
				pf.add(owners[sent:len(owners):len(owners)])
			}
			err = pf.wait()
		case len(owners) > 0:
			err = db.enc.kr.Prefetch(ctx, owners)
		}
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			if !s.rec.Erased {
				if err := decodeGroups(ctx, dec, s.rec.Employee, groups, s.raw); err != nil {
					return nil, db.groupFailure(err, "sqlstore.SyncTx.Records")
				}
			}
			out[s.rec.Employee.RemoteID] = s.rec
		}
	}
	return out, nil
}

// Live returns the remote id and status of every live employee of the
// source.
func (t *syncTx) Live(ctx context.Context) (map[string]hrgate.EmploymentStatus, error) {
	rows, err := t.db.wstmts.txQuery(ctx, t.tx,
		`SELECT remote_id, employment_status FROM employees WHERE source_id = ? AND remote_id <> '' AND deleted_at IS NULL`, t.src.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]hrgate.EmploymentStatus)
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, err
		}
		out[id] = hrgate.EmploymentStatus(status)
	}
	return out, rows.Err()
}

// checkOwned refuses an employee the transaction's source may not write:
// one without an id or remote id, or of another source or company.
func (t *syncTx) checkOwned(e *hrgate.Employee) error {
	switch {
	case e == nil || e.ID == "" || e.RemoteID == "":
		return invalid("Every synced employee needs an id and a remote id.")
	case e.SourceID != t.src.ID || e.CompanyID != t.src.CompanyID:
		return invalid("A source writes only its own company's employees.")
	}
	return nil
}

// Insert inserts new employees of the source, creating their data keys
// first (in the key store, which a rollback here does not undo: a key of
// an employee never written seals nothing).
func (t *syncTx) Insert(ctx context.Context, es []*hrgate.Employee) error {
	for _, e := range es {
		if err := t.checkOwned(e); err != nil {
			return err
		}
	}
	if err := t.db.prepareEmployees(ctx, es, true); err != nil {
		return err
	}
	return insertRows(ctx, t.db, t.tx, "employees", employeeColumns, es, t.db.employeeArgs(ctx))
}

// syncUpdateSQL rewrites an employee as Update does: employeeColumns from
// modified_at on, the values employeeArgs appends from index 5. Built
// once, it is prepared once for the writer (wstmts), not per sync.
var syncUpdateSQL = func() string {
	set := []string{"modified_at", "employment_status"}
	for _, g := range hrgate.AllGroups.Groups() {
		set = append(set, groupColumn(g))
	}
	set = append(set, "bi_national_id", "bi_personal_email", "bi_version", "dek_round")
	return `UPDATE employees SET ` + strings.Join(set, " = ?, ") + ` = ? WHERE id = ? AND source_id = ? AND deleted_at IS NULL`
}()

// Update rewrites every group of stored employees, sealed anew under
// their newest data key, with the blind indexes and the key round, as an
// insert writes them: a partial rewrite would leave a row's groups under
// key versions its dek_round does not describe.
func (t *syncTx) Update(ctx context.Context, es []*hrgate.Employee) error {
	if len(es) == 0 {
		return nil
	}
	for _, e := range es {
		if err := t.checkOwned(e); err != nil {
			return err
		}
	}
	if err := t.db.enc.checkWritable(); err != nil {
		return err
	}
	argsOf := t.db.employeeArgs(ctx)
	var args []any
	for _, e := range es {
		var err error
		if args, err = argsOf(args[:0], e); err != nil {
			return err
		}
		res, err := t.db.wstmts.txExec(ctx, t.tx, syncUpdateSQL, append(args[5:], e.ID, t.src.ID)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return &hrgate.Error{Code: hrgate.ECONFLICT, Message: "An employee of this source was erased or moved during the sync; run it again.",
				Err: fmt.Errorf("update employee %s: %d rows", e.ID, n)}
		}
	}
	return nil
}

const changeEventColumns = `id, type, company_id, employee_id, source_id, run_id, group_names, created_at, time_off_id`

// AppendChanges writes events to the outbox, in order.
func (t *syncTx) AppendChanges(ctx context.Context, evs []*hrgate.ChangeEvent) error {
	for _, ev := range evs {
		if ev == nil || ev.ID == "" || ev.Type == "" || ev.EmployeeID == "" {
			return invalid("A change event needs an id, a type and an employee.")
		}
	}
	return insertRows(ctx, t.db, t.tx, "change_events", changeEventColumns, evs, func(args []any, ev *hrgate.ChangeEvent) ([]any, error) {
		return append(args, ev.ID, ev.Type, ev.CompanyID, ev.EmployeeID, ev.SourceID, ev.RunID,
			strings.Join(ev.Groups, ","), micros(ev.Time), ev.TimeOffID), nil
	})
}

// ChangeEvents returns up to limit events after afterSeq, in order.
func (db *DB) ChangeEvents(ctx context.Context, afterSeq int64, limit int) ([]*hrgate.ChangeEvent, error) {
	const op = "sqlstore.ChangeEvents"
	if limit <= 0 || limit > 10000 {
		return nil, invalid("Ask for 1 to 10000 change events.")
	}
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(`SELECT seq, `+changeEventColumns+
		` FROM change_events WHERE seq > ? ORDER BY seq LIMIT ?`), afterSeq, limit)
	return collect(db, op, rows, err, func(s scanner) (*hrgate.ChangeEvent, error) { return scanChangeEvent(s) })
}

// scanChangeEvent scans a row of seq, then changeEventColumns, then into
// extra the columns a caller selected after them.
func scanChangeEvent(s scanner, extra ...any) (*hrgate.ChangeEvent, error) {
	var (
		ev      hrgate.ChangeEvent
		groups  string
		created sql.NullInt64
	)
	dest := append([]any{&ev.Seq, &ev.ID, &ev.Type, &ev.CompanyID, &ev.EmployeeID, &ev.SourceID, &ev.RunID, &groups, &created, &ev.TimeOffID}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if groups != "" {
		ev.Groups = strings.Split(groups, ",")
	}
	ev.Time = timeOf(created)
	return &ev, nil
}

const syncRunColumns = `id, source_id, kind, mode, status, started_at, finished_at, row_count, created, updated, terminated, unchanged, rejected, problems, error`

// CreateSyncRun inserts r; ENOTFOUND-like EINVALID when its source does
// not exist.
func (db *DB) CreateSyncRun(ctx context.Context, r *hrgate.SyncRun) error {
	return db.translate(db.insertSyncRun(ctx, nil, r), "sqlstore.CreateSyncRun")
}

// CreateRun inserts r in the transaction.
func (t *syncTx) CreateRun(ctx context.Context, r *hrgate.SyncRun) error {
	if r != nil && r.SourceID != t.src.ID {
		return invalid("A source records only its own runs.")
	}
	return t.db.insertSyncRun(ctx, t.tx, r)
}

const insertSyncRunSQL = `INSERT INTO sync_runs (` + syncRunColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertSyncRun checks and inserts r, in tx or (tx nil) on its own;
// CreateSyncRun and SyncTx.CreateRun both write runs through it.
func (db *DB) insertSyncRun(ctx context.Context, tx *sql.Tx, r *hrgate.SyncRun) error {
	if r == nil || r.ID == "" || r.SourceID == "" {
		return invalid("A run needs an id and a source.")
	}
	problems, err := encodeProblems(r.Problems)
	if err != nil {
		return err
	}
	args := []any{r.ID, r.SourceID, r.Kind, r.Mode, r.Status, micros(r.StartedAt), micros(r.FinishedAt), r.Rows,
		r.Created, r.Updated, r.Terminated, r.Unchanged, r.Rejected, problems, r.Error}
	if tx != nil {
		_, err = db.wstmts.txExec(ctx, tx, insertSyncRunSQL, args...)
	} else {
		_, err = db.write.ExecContext(ctx, db.dialect.rebind(insertSyncRunSQL), args...)
	}
	return err
}

// FinishSyncRun writes the outcome of r: status, finish time, counts,
// problems and error. A run that is gone (its source deleted meanwhile)
// is ENOTFOUND.
func (db *DB) FinishSyncRun(ctx context.Context, r *hrgate.SyncRun) error {
	const op = "sqlstore.FinishSyncRun"
	problems, err := encodeProblems(r.Problems)
	if err != nil {
		return db.translate(err, op)
	}
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(`UPDATE sync_runs SET status = ?, finished_at = ?, row_count = ?, `+
		`created = ?, updated = ?, terminated = ?, unchanged = ?, rejected = ?, problems = ?, error = ? WHERE id = ?`),
		r.Status, micros(r.FinishedAt), r.Rows, r.Created, r.Updated, r.Terminated, r.Unchanged, r.Rejected, problems, r.Error, r.ID)
	if err != nil {
		return db.translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil {
		return db.translate(err, op)
	} else if n == 0 {
		return hrgate.ErrNotFound("Run")
	}
	return nil
}

// SyncRuns returns the runs of a source, newest first, at most limit.
func (db *DB) SyncRuns(ctx context.Context, sourceID string, limit int) ([]*hrgate.SyncRun, error) {
	const op = "sqlstore.SyncRuns"
	if limit <= 0 || limit > 1000 {
		return nil, invalid("Ask for 1 to 1000 runs.")
	}
	rows, err := db.read.QueryContext(ctx, db.dialect.rebind(`SELECT `+syncRunColumns+
		` FROM sync_runs WHERE source_id = ? ORDER BY started_at DESC, id DESC LIMIT ?`), sourceID, limit)
	return collect(db, op, rows, err, func(s scanner) (*hrgate.SyncRun, error) {
		var (
			r                 hrgate.SyncRun
			started, finished sql.NullInt64
			problems          string
		)
		if err := s.Scan(&r.ID, &r.SourceID, &r.Kind, &r.Mode, &r.Status, &started, &finished, &r.Rows,
			&r.Created, &r.Updated, &r.Terminated, &r.Unchanged, &r.Rejected, &problems, &r.Error); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt = timeOf(started), timeOf(finished)
		if err := json.Unmarshal([]byte(problems), &r.Problems); err != nil {
			return nil, fmt.Errorf("run %s: problems: %w", r.ID, err)
		}
		return &r, nil
	})
}

// pruneBatch bounds the runs one statement of PruneSyncRuns deletes, so
// that pruning a long backlog does not hold SQLite's one writer for long
// at a time.
const pruneBatch = 1000

// PruneSyncRuns implements hrgate.SyncStore, one source and one batch at
// a time: the index on (source_id, started_at) finds each source's old
// runs without reading the others.
func (db *DB) PruneSyncRuns(ctx context.Context, before time.Time) (int, error) {
	const op = "sqlstore.PruneSyncRuns"
	rows, err := db.read.QueryContext(ctx, `SELECT id FROM sources ORDER BY id`)
	ids, err := collect(db, op, rows, err, scanString)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range ids {
		for {
			res, err := db.write.ExecContext(ctx, db.dialect.rebind(`DELETE FROM sync_runs WHERE id IN (SELECT id FROM sync_runs `+
				`WHERE source_id = ? AND started_at < ? AND status <> 'running' LIMIT ?)`), id, before.UnixMicro(), pruneBatch)
			n, err := rowsAffected(res, err)
			if err != nil {
				return total, db.translate(err, op)
			}
			total += n
			if n < pruneBatch {
				break
			}
		}
	}
	return total, nil
}

// encodeProblems encodes at most hrgate.MaxRunProblems problems.
func encodeProblems(ps []hrgate.RowProblem) (string, error) {
	if len(ps) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ps[:min(len(ps), hrgate.MaxRunProblems)])
	return string(b), err
}

var _ hrgate.SyncStore = (*DB)(nil)

// prefetchChunk is how many owners a prefetcher loads the keys of at
// once: enough that a query to the key store carries many, few enough
// that the first starts while most rows are still to be read.
const prefetchChunk = 128

// prefetcher loads the data keys of owners, handed to it in chunks, on a
// goroutine of its own. Its methods are nil-safe where a caller may hold
// none.
type prefetcher struct {
	chunks chan []string
	done   chan error
}

func startPrefetch(ctx context.Context, kr FieldCipher) *prefetcher {
	p := &prefetcher{chunks: make(chan []string, 8), done: make(chan error, 1)}
	go func() {
		var err error
		for owners := range p.chunks {
			if err == nil {
				err = kr.Prefetch(ctx, owners)
			}
		}
		p.done <- err
	}()
	return p
}

// add hands over owners, which the caller no longer changes.
func (p *prefetcher) add(owners []string) { p.chunks <- owners }

// wait returns once every chunk handed over is loaded, with the first
// error.
func (p *prefetcher) wait() error {
	close(p.chunks)
	return <-p.done
}

// stop ends the goroutine of a look-up that failed.
func (p *prefetcher) stop() {
	if p != nil {
		_ = p.wait()
	}
}

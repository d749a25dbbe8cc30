package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/secretfile"
)

// AuditLog is the audit trail's storage: hrgate.AuditStore on SQLite or
// PostgreSQL. It is a database of its own, with its own migrations, so
// that it can live apart from the data (audit.db next to hrgate.db on
// SQLite) and so that a store holding HR data has no method that changes
// the trail.
type AuditLog struct {
	db *DB

	// On SQLite, walSeen is the write-ahead log (path-wal) syncWAL last
	// flushed, so that a new one has its directory entry flushed too.
	walMu   sync.Mutex
	walSeen os.FileInfo

	// stmts holds the writer's prepared statements by text, made before
	// the first append.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// On SQLite, journal is where appends go (audit_journal.go); nil
	// until the schema is current. path is the database file's absolute
	// path, empty on PostgreSQL.
	journal *journal
	path    string
}

var _ hrgate.AuditStore = (*AuditLog)(nil)

// OpenAuditLog opens the audit trail at dsn, like Open. On SQLite it
// opens the journal next to the database too (audit_journal.go), cuts off
// a torn end a crash left there and moves every event it holds into the
// database; a journal that does not continue the database's chain is
// refused. Without AutoMigrate on a database that lacks migrations, the
// journal opens with Migrate.
func OpenAuditLog(ctx context.Context, dsn string, opts Options) (*AuditLog, error) {
	db, err := open(ctx, dsn, opts, auditSchema)
	if err != nil {
		return nil, err
	}
	l := &AuditLog{db: db}
	if db.dialect.name == "sqlite" {
		abs, err := filepath.Abs(dsn)
		if err != nil {
			db.Close()
			return nil, err
		}
		l.path = abs
		if err := l.startJournal(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return l, nil
}

// startJournal opens the journal once the schema is current. A failure to
// read the schema's version is returned: taken for a schema that lacks
// migrations, it would leave the journal closed and every append refused
// with advice to migrate.
func (l *AuditLog) startJournal(ctx context.Context) error {
	if l.path == "" || l.journal != nil {
		return nil
	}
	ms, err := l.db.schema.migrations(l.db.dialect)
	if err != nil {
		return err
	}
	version, err := l.db.schemaVersion(ctx, l.db.schema)
	if err != nil {
		return err
	}
	if version < len(ms) {
		// Migrate comes first; it opens the journal after.
		return nil
	}
	return l.openJournal(ctx, l.path)
}

// JournalPath returns the path of the journal, empty on PostgreSQL.
func (l *AuditLog) JournalPath() string {
	if l.path == "" {
		return ""
	}
	return l.path + JournalSuffix
}

// SyncAudit implements hrgate.AuditStore. On PostgreSQL a commit is
// durable when it returns. On SQLite appends are written to the journal,
// and SyncAudit flushes it (fdatasync), which makes every append before it
// durable while the writer goes on with the next batch.
func (l *AuditLog) SyncAudit(ctx context.Context) error {
	if l.journal == nil {
		return nil
	}
	return l.db.translate(l.journal.sync(), "sqlstore.SyncAudit")
}

// FlushAudit implements hrgate.AuditStore: on SQLite it moves the events
// appended to the journal into the database, where the read methods find
// them. On PostgreSQL appends are there already.
func (l *AuditLog) FlushAudit(ctx context.Context) error {
	if l.journal == nil {
		return nil
	}
	return l.db.translate(l.journal.flush(ctx), "sqlstore.FlushAudit")
}

// syncWAL flushes the database's write-ahead log. The audit database
// commits with synchronous=NORMAL, which writes the WAL without flushing
// it; flushing the WAL file makes every commit before it as durable as
// synchronous=FULL would. A checkpoint flushes the WAL before it copies it
// and the database after, so what a checkpoint moved out of the WAL is
// durable as well. The journal is cut back only after this.
func (l *AuditLog) syncWAL() error {
	if l.path == "" {
		return nil
	}
	// SQLite names the WAL after the database file.
	wal := l.path + "-wal"
	l.walMu.Lock()
	defer l.walMu.Unlock()
	f, err := os.Open(wal) // #nosec G304 -- the WAL of the database the operator names.
	if errors.Is(err, fs.ErrNotExist) {
		// No WAL while the database is open means nothing waits in one.
		return nil
	}
	if err != nil {
		return l.db.translate(err, "sqlstore.syncWAL")
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return l.db.translate(err, "sqlstore.syncWAL")
	}
	fi, err := f.Stat()
	if err != nil {
		return l.db.translate(err, "sqlstore.syncWAL")
	}
	if l.walSeen == nil || !os.SameFile(fi, l.walSeen) {
		// A WAL created since the last flush: its directory entry must
		// reach the disk too, or the file could vanish with a power loss.
		if err := secretfile.SyncDir(filepath.Dir(wal)); err != nil {
			return l.db.translate(err, "sqlstore.syncWAL")
		}
		l.walSeen = fi
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (l *AuditLog) Dialect() string { return l.db.Dialect() }

// Migrate applies the audit migrations the database lacks (DB.Migrate),
// then opens the journal on SQLite if it was not.
func (l *AuditLog) Migrate(ctx context.Context) (int, error) {
	n, err := l.db.Migrate(ctx)
	if err != nil {
		return n, err
	}
	return n, l.startJournal(ctx)
}

// Close moves what the journal holds into the database and closes both.
func (l *AuditLog) Close() error {
	var jerr error
	if l.journal != nil {
		jerr = l.journal.close()
	}
	l.stmtMu.Lock()
	for _, st := range l.stmts {
		_ = st.Close()
	}
	l.stmts = nil
	l.stmtMu.Unlock()
	return errors.Join(jerr, l.db.Close())
}

// auditColumns are the columns of audit_events in the order rows are
// scanned and inserted.
const auditColumns = `seq, time, type, consumer_id, credential_id, body, seal`

// headQuery reads the head row; headUpdate moves it.
const (
	headQuery  = `SELECT seq, time, hash, mac FROM audit_head WHERE id = 1`
	headUpdate = `UPDATE audit_head SET seq = ?, time = ?, hash = ?, mac = ? WHERE id = 1`
)

// sealSize is the length of the seal column: previous hash, hash, MAC.
const sealSize = 3 * 32

// Rows are inserted by prepared statements of a few fixed sizes, largest
// first: a statement whose text changed with every batch size was parsed
// anew at each commit, which with this driver cost more than the inserts.
var auditInsertSizes = [...]int{128, 32, 8, 1}

// AppendAudit implements hrgate.AuditStore. On PostgreSQL the head row is
// locked FOR UPDATE, so that instances appending at once queue on it and
// extend one chain. On SQLite the rows go to the journal, under its lock,
// which every process appending to the trail takes (audit_journal.go).
func (l *AuditLog) AppendAudit(ctx context.Context, seal func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) error {
	const op = "sqlstore.AppendAudit"
	db := l.db
	if l.path != "" {
		if l.journal == nil {
			return hrgate.Errorf(hrgate.EUNAVAILABLE, "The audit database lacks migrations: run `hrgate migrate`.")
		}
		return db.translate(l.journal.append(ctx, seal), op)
	}
	return db.translate(l.appendDirect(ctx, seal), op)
}

// appendDirect appends straight into the tables, in one transaction that
// reads the head (locking it on PostgreSQL), seals after it and stores the
// rows: AppendAudit on PostgreSQL. On SQLite only tests use it, on a
// schema the journal does not open on.
func (l *AuditLog) appendDirect(ctx context.Context, seal func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) error {
	if err := l.prepare(ctx); err != nil {
		return err
	}
	return l.db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := l.stmt(ctx, tx, l.headLockQuery())
		if err != nil {
			return err
		}
		head, err := scanHead(st.QueryRowContext(ctx))
		if err != nil {
			return err
		}
		rows, next, err := seal(head)
		if err != nil {
			return err
		}
		return l.storeRows(ctx, tx, head, rows, next)
	})
}

// storeRows inserts rows, which extend the chain at head, with their
// record index, and moves the head row to next, in tx. AppendAudit on
// PostgreSQL and the journal's move on SQLite both append through it.
func (l *AuditLog) storeRows(ctx context.Context, tx *sql.Tx, head hrgate.AuditHead, rows []*hrgate.AuditRow, next hrgate.AuditHead) error {
	if err := checkAppend(head, rows, next); err != nil {
		return err
	}
	if err := l.insertRows(ctx, tx, rows); err != nil {
		return err
	}
	if err := l.insertRecords(ctx, tx, rows); err != nil {
		return err
	}
	st, err := l.stmt(ctx, tx, headUpdate)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, next.Seq, headMicros(next.Time), next.Hash, next.MAC)
	return err
}

// prepare prepares the writer's statements unless it has. It runs before
// the append's transaction: on SQLite the writer has one connection,
// which a transaction holds.
func (l *AuditLog) prepare(ctx context.Context) error {
	l.stmtMu.Lock()
	defer l.stmtMu.Unlock()
	if len(l.stmts) > 0 {
		return nil
	}
	qs := []string{l.headLockQuery(), headUpdate}
	for _, n := range auditInsertSizes {
		qs = append(qs, insertStmt("audit_events", auditColumns, 7, n), insertStmt("audit_records", "record_id, seq", 2, n))
	}
	stmts := make(map[string]*sql.Stmt, len(qs))
	for _, q := range qs {
		st, err := l.db.write.PrepareContext(ctx, l.db.dialect.rebind(q))
		if err != nil {
			for _, st := range stmts {
				_ = st.Close()
			}
			return fmt.Errorf("prepare the audit statements: %w", err)
		}
		stmts[q] = st
	}
	l.stmts = stmts
	return nil
}

// headLockQuery reads the head row for an append: on PostgreSQL it locks
// the row, so that instances appending at once queue on it. prepare and
// AppendAudit both name the statement by this text.
func (l *AuditLog) headLockQuery() string {
	if l.db.dialect.name == "postgres" {
		return headQuery + ` FOR UPDATE`
	}
	return headQuery
}

// insertSize returns how many of n rows the next prepared INSERT takes:
// the largest of auditInsertSizes that n fills.
func insertSize(n int) int {
	for _, size := range auditInsertSizes {
		if size <= n {
			return size
		}
	}
	return auditInsertSizes[len(auditInsertSizes)-1]
}

// stmt returns the prepared statement q for tx.
func (l *AuditLog) stmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	l.stmtMu.Lock()
	st, ok := l.stmts[q]
	l.stmtMu.Unlock()
	if !ok {
		return nil, errors.New("sqlstore: audit statement not prepared: " + q)
	}
	return tx.StmtContext(ctx, st), nil
}

// insertStmt is the text of an INSERT into table of n rows of width
// columns.
func insertStmt(table, columns string, width, n int) string {
	row := "(" + strings.Repeat("?,", width-1) + "?)"
	return `INSERT INTO ` + table + ` (` + columns + `) VALUES ` + strings.Repeat(row+",", n-1) + row
}

// checkAppend refuses rows that would not extend the chain where the head
// stands: a bug in the caller must not leave a gap or a fork. Each row
// must link to the one before it (its previous hash is that row's hash,
// the head's for the first), and the new head must be the last row. On
// SQLite this matters beyond the one append: a frame that does not link,
// or holds a hash of another width than the seal column's, would be
// written to the journal, whose reader refuses it (decodeFrame), and the
// journal could then never be moved into the database or opened again.
// It refuses rows that go back in time too: searches by time rely on time
// rising with seq (FindAuditRows), so the store enforces it rather than
// trust every caller to.
func checkAppend(head hrgate.AuditHead, rows []*hrgate.AuditRow, next hrgate.AuditHead) error {
	t, hash := head.Time, head.Hash
	for i, r := range rows {
		if r.Seq != head.Seq+int64(i)+1 {
			return errors.New("audit rows are not numbered from the head on")
		}
		if len(r.PrevHash) != sealSize/3 || len(r.Hash) != sealSize/3 || len(r.MAC) != sealSize/3 {
			return fmt.Errorf("audit event %d has a hash of the wrong size", r.Seq)
		}
		if !links(r.Seq-1, r.PrevHash, hash) {
			return fmt.Errorf("audit event %d does not link to the event before it", r.Seq)
		}
		if r.Time.Before(t) {
			return fmt.Errorf("audit event %d is older than the event before it", r.Seq)
		}
		t, hash = r.Time, r.Hash
	}
	if next.Seq != head.Seq+int64(len(rows)) {
		return errors.New("the new audit head does not follow the rows")
	}
	if !links(next.Seq, next.Hash, hash) {
		return errors.New("the new audit head's hash is not that of its newest event")
	}
	if !next.Time.Equal(t) {
		return errors.New("the new audit head's time is not that of its newest event")
	}
	return nil
}

func (l *AuditLog) insertRows(ctx context.Context, tx *sql.Tx, rows []*hrgate.AuditRow) error {
	seals := make([]byte, 0, len(rows)*sealSize)
	args := make([]any, 0, auditInsertSizes[0]*7)
	for len(rows) > 0 {
		n := insertSize(len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			start := len(seals)
			seals = append(append(append(seals, r.PrevHash...), r.Hash...), r.MAC...)
			args = append(args, r.Seq, r.Time.UnixMicro(), r.Type, r.ConsumerID, r.CredentialID, r.Body, seals[start:len(seals):len(seals)])
		}
		st, err := l.stmt(ctx, tx, insertStmt("audit_events", auditColumns, 7, n))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// insertRecords indexes the record ids of rows, each (record, event) pair
// once.
func (l *AuditLog) insertRecords(ctx context.Context, tx *sql.Tx, rows []*hrgate.AuditRow) error {
	var pairs []any
	for _, r := range rows {
		for _, id := range uniqueSorted(r.RecordIDs) {
			pairs = append(pairs, id, r.Seq)
		}
	}
	for len(pairs) > 0 {
		n := insertSize(len(pairs) / 2)
		st, err := l.stmt(ctx, tx, insertStmt("audit_records", "record_id, seq", 2, n))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, pairs[:2*n]...); err != nil {
			return err
		}
		pairs = pairs[2*n:]
	}
	return nil
}

// uniqueSorted returns ids sorted without repeats: ids itself when it is
// so already, as the ids of a list answer are.
func uniqueSorted(ids []string) []string {
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			return dedupe(ids)
		}
	}
	return ids
}

func scanHead(row *sql.Row) (hrgate.AuditHead, error) {
	var (
		h    hrgate.AuditHead
		tm   int64
		hash []byte
		mac  []byte
	)
	if err := row.Scan(&h.Seq, &tm, &hash, &mac); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return h, errors.New("the audit head row is missing")
		}
		return h, err
	}
	h.Hash, h.MAC = hash, mac
	if tm != 0 {
		h.Time = time.UnixMicro(tm).UTC()
	}
	return h, nil
}

// AuditHead implements hrgate.AuditStore. It reads through the writer, so
// that on SQLite it sees this process's newest commit, after moving the
// journal into the database.
func (l *AuditLog) AuditHead(ctx context.Context) (hrgate.AuditHead, error) {
	if err := l.FlushAudit(ctx); err != nil {
		return hrgate.AuditHead{}, err
	}
	h, err := scanHead(l.db.write.QueryRowContext(ctx, headQuery))
	return h, l.db.translate(err, "sqlstore.AuditHead")
}

// AuditRows implements hrgate.AuditStore.
func (l *AuditLog) AuditRows(ctx context.Context, afterSeq int64, limit int) ([]*hrgate.AuditRow, error) {
	if limit < 1 {
		return nil, invalid("The page limit must be positive.")
	}
	return l.findRows(ctx, "sqlstore.AuditRows",
		`SELECT `+auditColumns+` FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
}

// maxAuditPage bounds one search: a caller pages through more.
const maxAuditPage = 10_000

// FindAuditRows implements hrgate.AuditStore. A search is exact: on
// SQLite the journal is moved into the database first (FlushAudit), so
// that "who accessed employee X" counts every event recorded before it.
func (l *AuditLog) FindAuditRows(ctx context.Context, f hrgate.AuditFilter) ([]*hrgate.AuditRow, error) {
	const op = "sqlstore.FindAuditRows"
	if f.Limit < 1 || f.Limit > maxAuditPage {
		return nil, invalid("An audit search needs a limit between 1 and %d.", maxAuditPage)
	}
	if err := l.FlushAudit(ctx); err != nil {
		return nil, err
	}
	q, err := l.findQuery(ctx, f)
	if err != nil {
		return nil, l.db.translate(err, op)
	}
	if q == nil {
		return nil, nil
	}
	return l.findRows(ctx, op, q.sb.String(), q.args...)
}

// findQuery returns the search for f, or nil when the seq range that f's
// time range covers is empty.
//
// No index holds the time column: a range of time is turned into a range
// of seq (seqRange), on which every index used here is ordered. The
// conditions on time stay in the query, so that even a trail edited to
// go back in time, which verification reports, yields no event outside
// the range.
func (l *AuditLog) findQuery(ctx context.Context, f hrgate.AuditFilter) (*query, error) {
	after, before, err := l.seqRange(ctx, f)
	if err != nil {
		return nil, err
	}
	if before <= after+1 {
		return nil, nil
	}
	q := &query{}
	q.write(`SELECT ` + auditColumns + ` FROM audit_events`)
	// No upper bound is left out rather than bound as math.MaxInt64:
	// PostgreSQL, when it does not know the values (a generic plan, a
	// table without statistics), takes a range bounded on both sides for
	// 0.5% of the rows and reads it through the primary key instead of
	// the index of the other conditions (TestFindAuditRowsPlans).
	seqs, seqArgs := "seq > ?", []any{after}
	if before != math.MaxInt64 {
		seqs, seqArgs = "seq > ? AND seq < ?", []any{after, before}
	}
	q.and(seqs, seqArgs...)
	if f.RecordID != "" {
		q.and("seq IN (SELECT seq FROM audit_records WHERE record_id = ? AND "+seqs+")", append([]any{f.RecordID}, seqArgs...)...)
	}
	if len(f.Types) > 0 {
		types := dedupe(f.Types)
		q.and("type IN ")
		q.in(types)
		if !slices.Contains(types, hrgate.AuditAPIRequest) {
			// The type index leaves out api.request (audit migration
			// 0002); the planners use a partial index only when the
			// query repeats its condition.
			q.and("type <> '" + hrgate.AuditAPIRequest + "'")
		}
	}
	if f.ConsumerID != "" {
		q.and("consumer_id = ?", f.ConsumerID)
	}
	if f.CredentialID != "" {
		q.and("credential_id = ?", f.CredentialID)
	}
	if !f.From.IsZero() {
		q.and("time >= ?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		q.and("time < ?", f.To.UnixMicro())
	}
	q.write(" ORDER BY seq LIMIT ?")
	q.args = append(q.args, f.Limit)
	return q, nil
}

// seqRange returns the range of seq, after < seq < before, that holds
// the events after f.AfterSeq within f's time range; it may be empty
// (before <= after+1). before is math.MaxInt64 while no event is as new
// as f.To: events appended since may still be in the range.
func (l *AuditLog) seqRange(ctx context.Context, f hrgate.AuditFilter) (after, before int64, err error) {
	after, before = f.AfterSeq, math.MaxInt64
	if f.From.IsZero() && f.To.IsZero() {
		return after, before, nil
	}
	var last int64
	err = l.db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_events`).Scan(&last)
	if err != nil {
		return 0, 0, err
	}
	if !f.From.IsZero() {
		from, err := l.seqAtTime(ctx, f.From.UnixMicro(), after, last)
		if err != nil {
			return 0, 0, err
		}
		after = max(after, from-1)
	}
	if !f.To.IsZero() {
		to, err := l.seqAtTime(ctx, f.To.UnixMicro(), after, last)
		if err != nil {
			return 0, 0, err
		}
		if to <= last {
			// Otherwise no upper bound on seq: events appended since
			// last may still be in the range.
			before = to
		}
	}
	return after, before, nil
}

// seqAtTime returns the bound b in (after, last+1] at which time t falls:
// the events from after+1 to b-1 are older than t, those from b to last
// are not. Times rise with seq (checkAppend), so a binary search over the
// primary key finds it in about log2(last-after) look-ups. Each probe
// takes the first event at or after its midpoint, so that a gap in the
// numbers, which only an edit of the database leaves, does not stop it.
func (l *AuditLog) seqAtTime(ctx context.Context, t, after, last int64) (int64, error) {
	q := l.db.dialect.rebind(`SELECT seq, time FROM audit_events WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT 1`)
	lo, hi := after+1, last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		var seq, tm int64
		err := l.db.read.QueryRowContext(ctx, q, mid, hi).Scan(&seq, &tm)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			hi = mid // No event from mid to hi-1.
		case err != nil:
			return 0, err
		case tm >= t:
			hi = seq
		default:
			lo = seq + 1
		}
	}
	return lo, nil
}

func (l *AuditLog) findRows(ctx context.Context, op, query string, args ...any) ([]*hrgate.AuditRow, error) {
	rows, err := l.db.read.QueryContext(ctx, l.db.dialect.rebind(query), args...)
	if err != nil {
		return nil, l.db.translate(err, op)
	}
	defer rows.Close()
	var out []*hrgate.AuditRow
	for rows.Next() {
		r := new(hrgate.AuditRow)
		var (
			tm   int64
			seal []byte
		)
		if err := rows.Scan(&r.Seq, &tm, &r.Type, &r.ConsumerID, &r.CredentialID, &r.Body, &seal); err != nil {
			return nil, l.db.translate(err, op)
		}
		if len(seal) != sealSize {
			// Only an edit of the database makes one; the reader reports
			// the event as failing verification.
			seal = make([]byte, sealSize)
		}
		r.Time = time.UnixMicro(tm).UTC()
		r.PrevHash, r.Hash, r.MAC = seal[:32:32], seal[32:64:64], seal[64:]
		out = append(out, r)
	}
	return out, l.db.translate(rows.Err(), op)
}

// ScanAuditRows implements hrgate.AuditStore. It reads four columns per
// event as raw bytes into one reused row: verification reads every event,
// and with this driver each column read costs about as much as hashing
// the event.
func (l *AuditLog) ScanAuditRows(ctx context.Context, fromSeq, toSeq int64, fn func(*hrgate.AuditScanRow) error) error {
	const op = "sqlstore.ScanAuditRows"
	// Stop at the last event or index entry, so that a scan "to the end"
	// (toSeq math.MaxInt64) does not walk empty ranges.
	var last sql.NullInt64
	err := l.db.read.QueryRowContext(ctx,
		`SELECT MAX(s) FROM (SELECT MAX(seq) AS s FROM audit_events UNION ALL SELECT MAX(seq) FROM audit_records) m`).Scan(&last)
	if err != nil {
		return l.db.translate(err, op)
	}
	toSeq = min(toSeq, last.Int64)
	var index recordIndex
	for lo := fromSeq; lo <= toSeq; lo += scanChunk {
		hi := min(lo+scanChunk-1, toSeq)
		if err := l.scanRange(ctx, lo, hi, &index, fn); err != nil {
			return l.db.translate(err, op)
		}
	}
	return nil
}

// scanChunk is how many events one query of ScanAuditRows reads; the
// record index of that many events is held in memory meanwhile.
const scanChunk = 1 << 16

// recordIndex is the record index of a range of events, in sequence
// order: entry i is ids[i] of event seqs[i]. Its buffers are reused from
// one range to the next.
type recordIndex struct {
	seqs  []int64
	ends  []int
	ids   [][]byte
	arena []byte
}

// scanRange hands fn the events from lo to hi, each with its record index
// entries. Entries of events that do not exist are handed over on rows
// without Body, in sequence order among the events.
func (l *AuditLog) scanRange(ctx context.Context, lo, hi int64, index *recordIndex, fn func(*hrgate.AuditScanRow) error) error {
	if err := l.readRecordIndex(ctx, lo, hi, index); err != nil {
		return err
	}
	var (
		r       hrgate.AuditScanRow
		columns []byte
		next    int // the first entry of index not handed over
	)
	err := l.rawRows(ctx, `SELECT seq, CAST(time AS TEXT) || ? || type || ? || consumer_id || ? || credential_id, body, seal
		FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq`, []any{"\n", "\n", "\n", lo, hi}, func(v []driver.Value) error {
		var ok bool
		if r.Seq, ok = v[0].(int64); !ok {
			return errors.New("an audit event's seq is not an integer")
		}
		var err error
		if next, err = index.orphans(next, r.Seq, fn); err != nil {
			return err
		}
		columns = appendRaw(columns[:0], v[1])
		r.Columns, r.Body, r.Seal, r.Records = columns, rawBytes(v[2]), rawBytes(v[3]), nil
		if r.Body == nil {
			// Only rows of the index come without a body.
			r.Body = []byte{}
		}
		if end := index.end(next, r.Seq); end > next {
			r.Records, next = index.ids[next:end], end
		}
		return fn(&r)
	})
	if err != nil {
		return err
	}
	_, err = index.orphans(next, math.MaxInt64, fn)
	return err
}

// readRecordIndex reads the record index of the events from lo to hi into
// index, one row per entry: gathering the entries of each event in the
// database (group_concat) cost three times as much per event with the
// SQLite driver, and joined entries could not be told apart from one
// entry that holds the separator.
func (l *AuditLog) readRecordIndex(ctx context.Context, lo, hi int64, index *recordIndex) error {
	index.seqs, index.ends, index.ids, index.arena = index.seqs[:0], index.ends[:0], index.ids[:0], index.arena[:0]
	if index.seqs == nil {
		// Room for one entry per event, the common case, so that the
		// first range does not grow the buffers entry by entry.
		n := int(min(hi-lo+1, scanChunk))
		index.seqs, index.ends, index.ids = make([]int64, 0, n), make([]int, 0, n), make([][]byte, 0, n)
	}
	err := l.rawRows(ctx, `SELECT seq, record_id FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq`,
		[]any{lo, hi}, func(v []driver.Value) error {
			seq, ok := v[0].(int64)
			if !ok {
				return errors.New("an audit record index entry's seq is not an integer")
			}
			index.arena = appendRaw(index.arena, v[1])
			index.seqs = append(index.seqs, seq)
			index.ends = append(index.ends, len(index.arena))
			return nil
		})
	if err != nil {
		return err
	}
	// The arena has stopped growing: the entries can point into it.
	start := 0
	for _, end := range index.ends {
		index.ids = append(index.ids, index.arena[start:end:end])
		start = end
	}
	return nil
}

// rawRows runs query on a connection of the read pool through the
// driver's own interface and calls fn with each row's values, which the
// next row replaces. Verification reads every row of the trail, and
// database/sql's work per row (locking the rows, converting every value
// for Scan) cost about a tenth of the reading.
func (l *AuditLog) rawRows(ctx context.Context, query string, args []any, fn func([]driver.Value) error) error {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	conn, err := l.db.read.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("sqlstore: the %s driver cannot query directly", l.db.dialect.name)
		}
		rows, err := q.QueryContext(ctx, l.db.dialect.rebind(query), named)
		if err != nil {
			return err
		}
		defer rows.Close()
		v := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(v); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
		}
	})
}

// appendRaw appends the bytes of a text or blob value to dst; nothing for
// NULL.
func appendRaw(dst []byte, v driver.Value) []byte {
	switch v := v.(type) {
	case []byte:
		return append(dst, v...)
	case string:
		return append(dst, v...)
	}
	return dst
}

// rawBytes returns the bytes of a blob value, or of a text value in a
// copy; nil for NULL.
func rawBytes(v driver.Value) []byte {
	if b, ok := v.([]byte); ok {
		return b
	}
	return appendRaw(nil, v)
}

// end returns the index after the entries of event seq that start at i.
func (x *recordIndex) end(i int, seq int64) int {
	for i < len(x.seqs) && x.seqs[i] == seq {
		i++
	}
	return i
}

// orphans hands fn the entries from i on of events before seq, which do
// not exist, one row per event, and returns the index of the first entry
// left.
func (x *recordIndex) orphans(i int, seq int64, fn func(*hrgate.AuditScanRow) error) (int, error) {
	for i < len(x.seqs) && x.seqs[i] < seq {
		end := x.end(i, x.seqs[i])
		if err := fn(&hrgate.AuditScanRow{Seq: x.seqs[i], Records: x.ids[i:end]}); err != nil {
			return i, err
		}
		i = end
	}
	return i, nil
}

// SinkCursor implements hrgate.AuditSinkCursors: 0 for a sink that has
// delivered nothing yet.
func (l *AuditLog) SinkCursor(ctx context.Context, sink string) (int64, error) {
	if sink == "" {
		return 0, invalid("A sink needs a name.")
	}
	var seq int64
	err := l.db.write.QueryRowContext(ctx, l.db.dialect.rebind(`SELECT seq FROM audit_sink_cursors WHERE sink = ?`), sink).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, l.db.translate(err, "sqlstore.SinkCursor")
}

// SetSinkCursor implements hrgate.AuditSinkCursors.
func (l *AuditLog) SetSinkCursor(ctx context.Context, sink string, seq int64) error {
	if sink == "" {
		return invalid("A sink needs a name.")
	}
	if seq < 0 {
		return invalid("A sink cursor must not be negative.")
	}
	_, err := l.db.write.ExecContext(ctx, l.db.dialect.rebind(
		`INSERT INTO audit_sink_cursors (sink, seq, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`),
		sink, seq, l.db.epoch.now().UnixMicro())
	return l.db.translate(err, "sqlstore.SetSinkCursor")
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
)

// query builds one SELECT with its arguments. SQL is written with ?
// placeholders, which stmtCache rebinds for the dialect.
type query struct {
	sb       strings.Builder
	args     []any
	hasWhere bool
	// argBuf holds the arguments of most queries without another
	// allocation.
	argBuf [8]any
}

func (q *query) write(s string) { q.sb.WriteString(s) }

// and adds cond, with its arguments, to the WHERE clause.
func (q *query) and(cond string, args ...any) {
	if q.hasWhere {
		q.sb.WriteString(" AND ")
	} else {
		q.sb.WriteString(" WHERE ")
		q.hasWhere = true
	}
	q.sb.WriteString(cond)
	q.args = append(q.args, args...)
}

// in writes "(?, ?, ...)" for vals and adds them as arguments.
func (q *query) in(vals []string) {
	q.sb.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			q.sb.WriteString(", ")
		}
		q.sb.WriteByte('?')
		q.args = append(q.args, v)
	}
	q.sb.WriteByte(')')
}

// companies adds the condition that selects the live companies of s to a
// query on the companies table itself.
func (q *query) companies(s hrgate.CompanyScope) {
	if s.IsNone() {
		// Callers return early without a query; should one not, the
		// empty scope still matches nothing.
		q.and("1 = 0")
		return
	}
	q.and("deleted_at IS NULL")
	if s.SandboxOnly {
		q.and("sandbox = TRUE")
	}
	if !s.All {
		refs := dedupe(s.Refs)
		q.and("(id IN ")
		q.in(refs)
		q.write(" OR slug IN ")
		q.in(refs)
		q.write(")")
	}
}

// scope adds the condition that the row's company_id is a live company in
// s. The objects of a soft-deleted company are thereby hidden with it, even
// from the All scope.
func (q *query) scope(s hrgate.CompanyScope) {
	q.and("company_id IN (SELECT id FROM companies")
	var inner query
	inner.companies(s)
	q.write(inner.sb.String())
	q.write(")")
	q.args = append(q.args, inner.args...)
}

// scopeOf is scope for a query that selects rows of table by primary key:
// a correlated EXISTS checks each row's company with one index look-up,
// where the IN form has SQLite build a temporary table of every company in
// scope first. Lists keep the IN form, which lets the planner walk the
// (company_id, id) index of a scope narrowed to a few companies.
func (q *query) scopeOf(table string, s hrgate.CompanyScope) {
	q.and("EXISTS (SELECT 1 FROM companies WHERE id = ")
	q.write(table)
	q.write(".company_id")
	// The WHERE clause is open, so the conditions companies adds join the
	// subquery's, where the unqualified columns are the company's.
	q.companies(s)
	q.write(")")
}

// ownedQuery starts the SELECT of cols from a table whose rows belong to a
// company: live rows of live companies in scope, narrowed to one id and one
// company when those are given. Every company-owned list goes through it,
// so none can forget the scope or the soft-delete condition.
func ownedQuery(table, cols string, scope hrgate.CompanyScope, id, companyID string) *query {
	q := &query{}
	q.args = q.argBuf[:0]
	q.sb.Grow(len(cols) + 256) // the whole text of the common shapes
	q.write(`SELECT `)
	q.write(cols)
	q.write(` FROM `)
	q.write(table)
	q.and("deleted_at IS NULL")
	if id != "" {
		q.and("id = ?", id)
		q.scopeOf(table, scope)
	} else {
		q.scope(scope)
	}
	if companyID != "" {
		q.and("company_id = ?", companyID)
	}
	return q
}

// page adds keyset pagination on id: ordering, the lower bound and the
// limit. It must come last.
func (q *query) page(p hrgate.Page) {
	if p.AfterID != "" {
		q.and("id > ?", p.AfterID)
	}
	q.write(" ORDER BY id")
	if p.Limit > 0 {
		q.write(" LIMIT ?")
		q.args = append(q.args, p.Limit)
	}
}

// dedupe returns vals sorted and without repeats, without changing vals.
func dedupe(vals []string) []string {
	out := slices.Clone(vals)
	slices.Sort(out)
	return slices.Compact(out)
}

// checkPage rejects a negative limit, which a buggy caller could otherwise
// turn into "everything".
func checkPage(p hrgate.Page) error {
	if p.Limit < 0 {
		return invalid("The page limit must not be negative.")
	}
	return nil
}

// stmtCache keeps prepared read statements by query text, so that the hot
// look-ups skip SQLite's parser and planner; database/sql prepares each one
// lazily on every connection of the pool that runs it. PostgreSQL does not
// need it: pgx already prepares and caches statements per connection. The
// cache is bounded because query shapes depend on the number of company refs
// in a scope, and no caller may grow it without limit.
type stmtCache struct {
	db      *sql.DB
	dialect *dialect
	enabled bool

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt

	// Of a cache over the write pool (txStmt): the statements being
	// prepared in the background, those that failed to prepare, and the
	// context that ends their preparation when the cache closes.
	pending map[string]bool
	failed  map[string]bool
	ctx     context.Context
	cancel  context.CancelFunc
	closed  bool
}

const maxCachedStmts = 512

func newStmtCache(db *sql.DB, d *dialect) *stmtCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &stmtCache{db: db, dialect: d, enabled: d.cacheStmts, stmts: make(map[string]*sql.Stmt),
		pending: make(map[string]bool), failed: make(map[string]bool), ctx: ctx, cancel: cancel}
}

// stmt returns the cached statement for q, preparing it on first use, or
// nil when q is not to be cached.
func (c *stmtCache) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if !c.enabled {
		return nil, nil
	}
	c.mu.RLock()
	st, ok := c.stmts[q]
	full := len(c.stmts) >= maxCachedStmts
	c.mu.RUnlock()
	if ok || full {
		return st, nil
	}
	// Prepare outside the lock: waiting for a connection must not hold up
	// the queries whose statements are cached already.
	st, err := c.db.PrepareContext(ctx, c.dialect.rebind(q))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[q]; ok {
		st.Close()
		return prev, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		st.Close()
		return nil, nil
	}
	c.stmts[q] = st
	return st, nil
}

// query runs the query q (with ? placeholders) on the read pool.
func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, c.dialect.rebind(q), args...)
}

// queryRow is query for a single row; errors surface in Scan.
func (c *stmtCache) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st, err := c.stmt(ctx, q); err == nil && st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	// Unprepared, the same query reports any preparation error in Scan.
	return c.db.QueryRowContext(ctx, c.dialect.rebind(q), args...)
}

// A stmtCache over the write pool serves statements inside transactions:
// SQLite's writer is one connection, so a statement prepared on the pool
// is prepared on the connection every transaction runs on, and
// tx.StmtContext reuses it instead of parsing the SQL again. Parsing was a
// fifth of the CPU of a SCIM create.

// maxCachedArgs bounds the statements txStmt caches: those of one record
// or a few, whose shapes repeat. A batch of a thousand rows has a shape
// of its own (and its own preparation, in insertRows), and a statement
// of thousands of parameters is large to keep.
const maxCachedArgs = 64

// txStmt returns q bound to tx, or nil when q is not cached yet. The
// caller closes it (cheaply: the prepared statement stays in the cache).
func (c *stmtCache) txStmt(ctx context.Context, tx *sql.Tx, q string, args []any) *sql.Stmt {
	if !c.enabled || len(args) > maxCachedArgs {
		return nil
	}
	c.mu.RLock()
	st := c.stmts[q]
	c.mu.RUnlock()
	if st == nil {
		c.prepareLater(q)
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// prepareLater prepares q on the write pool in the background. It cannot
// be prepared in the transaction that asks: the pool's one connection is
// that transaction's until it ends, so preparing on the pool would wait
// for it forever, and a statement prepared on the transaction closes with
// it. The first uses of q run unprepared instead, until the connection is
// free and the statement ready.
func (c *stmtCache) prepareLater(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.pending[q] || c.failed[q] || c.stmts[q] != nil || len(c.stmts)+len(c.pending) >= maxCachedStmts {
		return
	}
	c.pending[q] = true
	go func() {
		st, err := c.db.PrepareContext(c.ctx, c.dialect.rebind(q))
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.pending, q)
		switch {
		case err != nil:
			// Not again: the unprepared statement reports its own error
			// to its caller; this one has no caller to tell.
			c.failed[q] = true
		case c.closed || c.stmts[q] != nil:
			st.Close()
		default:
			c.stmts[q] = st
		}
	}()
}

// txExec runs the statement q (with ? placeholders) in tx.
func (c *stmtCache) txExec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := c.txStmt(ctx, tx, q, args); st != nil {
		defer st.Close()
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, c.dialect.rebind(q), args...)
}

// txQuery runs the query q (with ? placeholders) in tx. The statement
// bound to tx closes with the transaction.
func (c *stmtCache) txQuery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := c.txStmt(ctx, tx, q, args); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, c.dialect.rebind(q), args...)
}

// txQueryRow is txQuery for a single row; errors surface in Scan.
func (c *stmtCache) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := c.txStmt(ctx, tx, q, args); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, c.dialect.rebind(q), args...)
}

func (c *stmtCache) close() error {
	c.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}

// micros converts t for a time column: microseconds since the Unix epoch,
// NULL for the zero time.
func micros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// timeOf is the inverse of micros; times come back in UTC.
func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// encodeStrings encodes a list column as a JSON array; nil and empty are the
// same, "[]".
func encodeStrings(vals []string) (string, error) {
	if len(vals) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(vals)
	return string(b), err
}

// decodeStrings decodes a list column; an empty list comes back nil.
func decodeStrings(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var vals []string
	if err := json.Unmarshal([]byte(s), &vals); err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, nil
	}
	return vals, nil
}

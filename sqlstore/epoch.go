package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCredentialRefresh is how long CredentialEpoch may answer from
// memory before it reads the epoch from the database again. It bounds how
// late a credential change committed by another process (the CLI, another
// instance on the same database) takes effect here.
const DefaultCredentialRefresh = 250 * time.Millisecond

// epochCache keeps one counter (the credential epoch, the revocation
// epoch) in memory, so that authentication does not cost a database round
// trip per request. Changes made through this store update it when they
// commit; changes made by other processes are seen when the value, older
// than maxAge, is read again.
type epochCache struct {
	// table holds the counter, in its one row.
	table string
	// maxAge is how long a value is served; zero or less reads the
	// database on every call.
	maxAge time.Duration
	now    func() time.Time

	// mu orders refreshes against the updates of local commits, so that a
	// refresh that read the database before a commit cannot overwrite the
	// value that commit produced.
	mu  sync.Mutex
	cur atomic.Pointer[epochValue]
}

// epochValue is one known value of the epoch and when it was known to be
// current: the time before the read that returned it, or after the commit
// that produced it.
type epochValue struct {
	v  int64
	at time.Time
}

// fresh returns the cached epoch when it is younger than maxAge. A clock
// that went backwards makes the value stale, never fresher.
func (c *epochCache) fresh() (int64, bool) {
	e := c.cur.Load()
	if e == nil || c.maxAge <= 0 {
		return 0, false
	}
	if age := c.now().Sub(e.at); age < 0 || age >= c.maxAge {
		return 0, false
	}
	return e.v, true
}

// committed records the epoch a local transaction committed. Epochs only
// grow, so a slower commit never replaces the value of a later one.
func (c *epochCache) committed(v int64) {
	at := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur.Load(); e == nil || v > e.v {
		c.cur.Store(&epochValue{v: v, at: at})
	}
}

// forget drops the cached value, so that the next call reads the database.
func (c *epochCache) forget() {
	c.mu.Lock()
	c.cur.Store(nil)
	c.mu.Unlock()
}

// CredentialEpoch returns the credential epoch: a counter that every API
// key revocation, grant or limit change and consumer or client deletion
// increments in its own transaction (token revocations have
// RevocationEpoch). Changes made through this DB are reflected as soon as they
// commit. Changes committed by other processes are reflected within the
// credential refresh interval (Options.CredentialRefresh): in between, the
// value is served from memory.
func (db *DB) CredentialEpoch(ctx context.Context) (int64, error) {
	return db.readEpoch(ctx, &db.epoch)
}

// RevocationEpoch returns the counter of access token revocations, kept
// apart from the credential epoch: a client may revoke its own tokens as
// often as it likes, and that must not empty every instance's credential
// caches. It is cached like CredentialEpoch.
func (db *DB) RevocationEpoch(ctx context.Context) (int64, error) {
	return db.readEpoch(ctx, &db.revocations)
}

func (db *DB) readEpoch(ctx context.Context, c *epochCache) (int64, error) {
	if v, ok := c.fresh(); ok {
		return v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.fresh(); ok { // refreshed while this call waited
		return v, nil
	}
	at := c.now()
	var v int64
	if err := db.stmts.queryRow(ctx, `SELECT value FROM `+c.table+` WHERE id = 1`).Scan(&v); err != nil {
		return 0, db.translate(err, "sqlstore.readEpoch")
	}
	c.cur.Store(&epochValue{v: v, at: at})
	return v, nil
}

// execBumpingEpoch runs one credential-changing statement and, when it
// changed a row, increments the credential epoch in the same transaction
// (see inTxBumpingEpoch).
func (db *DB) execBumpingEpoch(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.execBumping(ctx, &db.epoch, query, args...)
}

// execBumping runs one statement and, when it changed a row, increments
// the counter c in the same transaction (see inTxBumping).
func (db *DB) execBumping(ctx context.Context, c *epochCache, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.inTxBumping(ctx, c, func(tx *sql.Tx) (bool, error) {
		var err error
		if res, err = tx.ExecContext(ctx, db.dialect.rebind(query), args...); err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n > 0, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// inTxBumpingEpoch runs fn in a transaction that also increments the
// credential epoch when fn reports a change, so no reader can see the
// change without also seeing the new epoch. The new epoch is in force in
// this process when it returns. A change that changed nothing (a repeated
// revocation, a deletion of what is gone) leaves the epoch alone: every
// bump makes every instance drop its credential caches, and no caller
// should be able to cause that at will.
func (db *DB) inTxBumpingEpoch(ctx context.Context, fn func(tx *sql.Tx) (changed bool, err error)) error {
	return db.inTxBumping(ctx, &db.epoch, fn)
}

// inTxBumping is inTxBumpingEpoch for the counter c.
func (db *DB) inTxBumping(ctx context.Context, c *epochCache, fn func(tx *sql.Tx) (changed bool, err error)) error {
	var epoch int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		changed, err := fn(tx)
		if err != nil || !changed {
			return err
		}
		return tx.QueryRowContext(ctx, `UPDATE `+c.table+` SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&epoch)
	})
	if err != nil {
		// The commit may have happened all the same; read the epoch
		// again rather than trust the cached one.
		c.forget()
		return err
	}
	if epoch != 0 {
		c.committed(epoch)
	}
	return nil
}

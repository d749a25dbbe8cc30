// Package sqlstore implements hrgate.Store on SQLite (modernc.org/sqlite, pure
// Go) and PostgreSQL (pgx through database/sql). Both share every query; the
// few differences live in dialect.go. Schemas are embedded migrations, applied
// in transactions.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	_ "github.com/jackc/pgx/v5/stdlib" // Registers the "pgx" driver.
	_ "modernc.org/sqlite"             // Registers the "sqlite" driver.
)

// Options configures Open.
type Options struct {
	// AutoMigrate applies pending migrations at Open (default used by
	// `hrgate serve`). Without it, Open only checks that the schema is not
	// newer than this binary.
	AutoMigrate bool
	// Logger receives migration and start-up messages; nil discards them.
	Logger *slog.Logger
	// CredentialRefresh bounds how long CredentialEpoch answers from
	// memory, and so how late a credential change committed by another
	// process takes effect. Zero selects DefaultCredentialRefresh; a
	// negative value reads the database on every call.
	CredentialRefresh time.Duration
	// Now is the store's clock (credential refresh, secret creation);
	// nil means time.Now.
	Now func() time.Time
	// Cipher seals what the data store keeps encrypted: restricted and
	// confidential field groups, and hrgate's own secrets. Only the data
	// store uses it; for field groups it must implement FieldCipher, as
	// keyring.Keyring does. The first Open with a cipher records the
	// keyring's id in the database, and Open refuses, before writing
	// anything, a database recorded under another keyring.
	//
	// A data store opened without a cipher reads and writes no encrypted
	// group: it refuses to write employees at all, and reading a
	// confidential or restricted group is an internal error. Commands that
	// only read consumers, keys or counts may open it so.
	Cipher hrgate.Cipher
	// PlaintextGroups lists the confidential field groups (contact,
	// personal) the operator chose to store unencrypted
	// (keyring.encrypt_confidential leaves them out). Restricted groups
	// are always encrypted: naming one is an error. The zero value
	// encrypts every confidential group.
	PlaintextGroups hrgate.GroupSet
	// InsecurePlaintext, without a Cipher, stores and reads every field
	// group and every secret in plain text and leaves the blind indexes
	// empty. It is for tests and benchmarks only, and refused for a
	// database that was ever opened with a keyring; without it a store
	// opened without a Cipher refuses to write or read a secret.
	InsecurePlaintext bool
}

// DB is an hrgate.Store on SQLite or PostgreSQL. It is safe for concurrent
// use.
type DB struct {
	dialect *dialect
	logger  *slog.Logger
	// schema is the migration set this database holds.
	schema migrationSet

	// write takes every write. On SQLite it holds a single connection, so
	// writers queue in Go instead of contending for the file lock, and its
	// transactions begin IMMEDIATE so that they never fail to upgrade a
	// read lock half-way.
	write *sql.DB
	// read takes every read. On SQLite it is a separate pool of query-only
	// connections that read WAL snapshots while the writer works; on
	// PostgreSQL it is the same pool as write.
	read *sql.DB

	// stmts caches prepared read statements by query text.
	stmts *stmtCache
	// wstmts keeps the prepared statements of the hot write paths, on the
	// write pool (stmtCache.txExec).
	wstmts *stmtCache

	// vault is the state of the columns holding hrgate's own secrets
	// (vault.go).
	vault vaultState
	// enc is the field-encryption policy and state (encryption.go).
	enc *encryption

	epoch epochCache
	// revocations is the counter of access token revocations
	// (RevocationEpoch).
	revocations epochCache
	// outbox wakes this process's webhook worker on new change events
	// and deliveries (webhook.go).
	outbox outboxSignal

	// skipOptimize makes Close leave the file as it is: set when Open
	// refuses a database it must not write to.
	skipOptimize bool
	// testCrash, set only by tests, fails a job or an erase between two
	// of its steps (crashPoint).
	testCrash func(step string) error
}

var _ hrgate.Store = (*DB)(nil)

// SQLite pool sizes. The driver is pure Go and a read is CPU work, so
// readers scale with the processors Go runs on: more connections than that
// only interleave queries, which contend on SQLite's shared locks and
// stretch the latency tail (on 2 cores, p99 under bench/readpath.sh was
// 7-10 ms with 2 readers, 11.5-12.5 ms with 4 and 13.5-16 ms with 16).
// Beyond eight connections a single file gains nothing.
const (
	sqliteMinReaders = 2
	sqliteMaxReaders = 8
	postgresMaxConns = 16
)

// Open opens the database named by dsn: a "postgres://" or "postgresql://"
// URL selects PostgreSQL; anything else is a SQLite file path. Errors name
// the database through RedactDSN, never with its password.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	return open(ctx, dsn, opts, dataSchema)
}

// open opens dsn holding the migration set schema.
func open(ctx context.Context, dsn string, opts Options, schema migrationSet) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	enc, err := newEncryption(opts)
	if err != nil {
		return nil, err
	}
	var db *DB
	if hrgate.IsPostgresDSN(dsn) {
		db, err = openPostgres(ctx, dsn)
	} else {
		// WAL with synchronous=NORMAL survives a crash of the process but
		// may lose the last commits to a power loss. The audit trail
		// promises more, and gets it from AuditLog.SyncAudit, which
		// flushes the WAL after its commits. Its readers map the file
		// into memory: verification reads all of it, and a read() per
		// page was a quarter of the work.
		tune := sqliteTuning{synchronous: "NORMAL"}
		if schema == auditSchema {
			tune.readerMmap = 1 << 30
		}
		db, err = openSQLite(ctx, dsn, logger, tune)
	}
	if err != nil {
		return nil, err
	}
	db.logger = logger
	db.schema = schema
	db.enc = enc
	db.stmts = newStmtCache(db.read, db.dialect)
	db.wstmts = newStmtCache(db.write, db.dialect)
	db.epoch.table, db.epoch.maxAge, db.epoch.now = "credential_epoch", opts.CredentialRefresh, opts.Now
	if db.epoch.maxAge == 0 {
		db.epoch.maxAge = DefaultCredentialRefresh
	}
	if db.epoch.now == nil {
		db.epoch.now = time.Now
	}
	db.revocations.table, db.revocations.maxAge, db.revocations.now = "revocation_epoch", db.epoch.maxAge, db.epoch.now

	if schema == dataSchema {
		// Before any migration: a database under another keyring is
		// refused without a write.
		if err := db.checkBinding(ctx); err != nil {
			db.skipOptimize = true // PRAGMA optimize may write; nothing may be
			db.Close()
			return nil, err
		}
	}
	if opts.AutoMigrate {
		n, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, err
		}
		if n > 0 {
			logger.Info("applied database migrations", "count", n, "dialect", db.dialect.name)
		}
	} else if err := db.checkSchemaVersion(ctx); err != nil {
		db.Close()
		return nil, err
	} else if schema == dataSchema {
		if err := db.bindKeyring(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// bindKeyring, on the data store, refuses a database bound to another
// keyring before anything is written, seals the vault (all or nothing),
// then records the keyring. Open runs it on a database it does not
// migrate, Migrate after migrating: a schema that just gained the
// encryption state is bound then.
func (db *DB) bindKeyring(ctx context.Context) error {
	if err := db.checkBinding(ctx); err != nil {
		return err
	}
	if err := db.openVault(ctx); err != nil {
		return err
	}
	return db.bind(ctx)
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", hrgate.RedactDSN(dsn), err)
	}
	pool.SetMaxOpenConns(postgresMaxConns)
	pool.SetMaxIdleConns(postgresMaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	pool.SetConnMaxLifetime(time.Hour)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", hrgate.RedactDSN(dsn), err)
	}
	return &DB{dialect: postgresDialect(), write: pool, read: pool}, nil
}

// sqliteTuning holds the settings in which the SQLite databases differ.
type sqliteTuning struct {
	synchronous string // of the writer: NORMAL or FULL
	readerMmap  int64  // mmap_size of the readers, 0 for none
}

func openSQLite(ctx context.Context, path string, logger *slog.Logger, tune sqliteTuning) (*DB, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	abs, err := prepareSQLiteFile(path, logger)
	if err != nil {
		return nil, err
	}
	// A file: URI with an escaped path, so that '?', '#' or '%' in a file
	// name cannot be read as URI syntax. _defensive forbids statements that
	// can corrupt the file on purpose; _dqs=0 makes "x" an identifier only.
	// temp_store(MEMORY) keeps statement journals, which every multi-row
	// INSERT in a transaction needs, off the disk.
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?_defensive=1&_dqs=0" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)"
	//
	// The writer gets a larger page cache (32 MiB) because a sync batch
	// dirties pages all over the id indexes, which hold random ids. It
	// checkpoints every 10,000 pages (~40 MiB) of WAL rather than every
	// 1,000, so that large batches do not pay for a checkpoint and its fsync
	// at nearly every commit (about twice the insert rate, measured), and
	// journal_size_limit truncates the WAL back to 64 MiB afterwards.
	// secure_delete overwrites deleted rows, so that a fetched key secret
	// does not linger in free pages.
	write, err := sql.Open("sqlite", uri+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+tune.synchronous+")&_pragma=cache_size(-32768)"+
		"&_pragma=wal_autocheckpoint(10000)&_pragma=journal_size_limit(67108864)&_pragma=secure_delete(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	// The writer connects first: it switches the file to WAL, which the
	// readers rely on to read while it writes. Switching a new file to WAL
	// fails at once with SQLITE_BUSY, without waiting on busy_timeout,
	// while another process switches it too; that race is settled by
	// trying again.
	for attempt := 0; ; attempt++ {
		err := write.PingContext(ctx)
		if err == nil {
			break
		}
		if attempt < 50 && strings.Contains(err.Error(), "SQLITE_BUSY") && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		write.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}

	readURI := uri + "&_query_only=1"
	if tune.readerMmap > 0 {
		readURI += "&_pragma=mmap_size(" + strconv.FormatInt(tune.readerMmap, 10) + ")"
	}
	read, err := sql.Open("sqlite", readURI)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	n := min(max(runtime.GOMAXPROCS(0), sqliteMinReaders), sqliteMaxReaders)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}

	// SQLite gives these files the mode of the database file already; the
	// chmod guards against files left by an older run with a wider mode.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Chmod(abs+suffix, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			read.Close()
			write.Close()
			return nil, fmt.Errorf("sqlstore: restrict %s: %w", abs+suffix, err)
		}
	}
	return &DB{dialect: sqliteDialect(), write: write, read: read}, nil
}

// checkSQLitePath rejects what is not a plain file path, so that a mistyped
// URL fails clearly instead of creating a directory named "mysql:".
func checkSQLitePath(path string) error {
	l := strings.ToLower(path)
	switch {
	case path == "":
		return errors.New("sqlstore: empty database path")
	case path == ":memory:" || strings.HasPrefix(l, "file:"):
		return fmt.Errorf("sqlstore: %q is not supported; give the SQLite database as a file path", path)
	case strings.Contains(path, "://"):
		return fmt.Errorf("sqlstore: unsupported database URL %s; use postgres:// for PostgreSQL or a file path for SQLite",
			hrgate.RedactDSN(path))
	case strings.Contains(l, "host=") || strings.Contains(l, "dbname=") || strings.Contains(l, "password="):
		// Not echoed: a keyword/value connection string may hold a
		// password that RedactDSN does not recognise.
		return errors.New("sqlstore: the database looks like a PostgreSQL keyword/value string; use a postgres:// URL")
	}
	return nil
}

// prepareSQLiteFile makes sure path names a regular file readable by this
// user only, creating its directory (0700) and the file (0600) when missing,
// so that SQLite never creates the file with the process umask. It returns
// the absolute path.
func prepareSQLiteFile(path string, logger *slog.Logger) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlstore: database path %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("sqlstore: create database directory: %w", err)
		}
		// MkdirAll is subject to the umask; 0700 must hold regardless.
		if err := os.Chmod(dir, 0o700); err != nil { // #nosec G302 -- a directory needs its x bit; 0700 is owner-only.
			return "", fmt.Errorf("sqlstore: create database directory: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("sqlstore: database directory: %w", err)
	}

	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator names the database file.
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("sqlstore: create database file: %w", err)
		}
		if f != nil {
			if err := f.Close(); err != nil {
				return "", fmt.Errorf("sqlstore: create database file: %w", err)
			}
		}
	case err != nil:
		return "", fmt.Errorf("sqlstore: database file: %w", err)
	case fi.IsDir():
		return "", fmt.Errorf("sqlstore: database path %s is a directory, not a file", path)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("sqlstore: database path %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		// The operator may share the file on purpose; say so rather than
		// change it behind their back.
		logger.Warn("the database file is readable or writable by other users; it holds HR data, consider chmod 600",
			"path", abs, "mode", fi.Mode().Perm().String())
	}
	return abs, nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name }

// Ping reports whether the database answers. A failure is EUNAVAILABLE.
func (db *DB) Ping(ctx context.Context) error {
	err := db.write.PingContext(ctx)
	if err == nil && db.read != db.write {
		err = db.read.PingContext(ctx)
	}
	if err != nil {
		return &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The database is unavailable.", Err: err}
	}
	return nil
}

// Close closes every connection. On SQLite it first lets the query planner
// refresh its statistics, as SQLite recommends before closing.
func (db *DB) Close() error {
	var errs []error
	if db.stmts != nil {
		errs = append(errs, db.stmts.close())
	}
	if db.wstmts != nil {
		errs = append(errs, db.wstmts.close())
	}
	if db.dialect.name == "sqlite" && !db.skipOptimize {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Best effort: a failure only means slightly older statistics.
		_, _ = db.write.ExecContext(ctx, "PRAGMA optimize")
		cancel()
	}
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// flushDeleted makes a deletion reach the database file at once on
// SQLite: a TRUNCATE checkpoint copies the WAL into the file, where
// secure_delete has zeroed the deleted bytes, and empties the WAL, which
// still held the pages as they were before. Until then an erased key or
// record would survive in the WAL for as long as it takes to fill 10,000
// pages. It is best effort: a reader holding an old snapshot keeps the
// checkpoint from finishing, and the next one completes it.
func (db *DB) flushDeleted(ctx context.Context) {
	if db.dialect.name != "sqlite" {
		return
	}
	var busy, frames, done int
	err := db.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done)
	if err != nil || busy != 0 {
		db.logger.Warn("a checkpoint after an erasure or migration did not complete; the WAL keeps the old pages until the next one",
			"busy", busy, "err", err)
	}
}

// inTx runs fn in a transaction on the writer, committing when fn returns
// nil and rolling back otherwise.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // The error of fn is the one that matters.
		return err
	}
	return tx.Commit()
}

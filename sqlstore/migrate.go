package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schemas as numbered SQL files, applied in order:
// migrations/<dialect>/NNNN_name.sql for the data store, and
// migrations/<set>/<dialect>/NNNN_name.sql for the other sets.
//
//go:embed migrations
var migrationFiles embed.FS

// migrationSet names one schema with its own migrations and version table.
// The data store, the key store and the audit log are separate sets so that
// each can live in its own database (the key store must, for
// crypto-shredding to survive a backup of the data), and so that sharing
// one PostgreSQL database they still keep separate versions.
type migrationSet struct {
	name  string // "" for the data store
	table string // where applied versions are recorded
}

var (
	dataSchema  = migrationSet{name: "", table: "schema_migrations"}
	keySchema   = migrationSet{name: "keys", table: "keys_schema_migrations"}
	auditSchema = migrationSet{name: "audit", table: "audit_schema_migrations"}
)

func (s migrationSet) dir(d *dialect) string {
	if s.name == "" {
		return path.Join("migrations", d.name)
	}
	return path.Join("migrations", s.name, d.name)
}

// migration is one embedded SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// createMigrationsTable is valid SQL in both dialects.
func (s migrationSet) createTable() string {
	return `CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`
}

// migrations returns the set's migrations for the dialect ordered by version.
func (s migrationSet) migrations(d *dialect) ([]migration, error) {
	dir := s.dir(d)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("sqlstore: bad migration file name %q", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read embedded migration: %w", err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := range ms {
		if ms[i].version != i+1 {
			return nil, fmt.Errorf("sqlstore: migrations are not numbered 1, 2, 3, ...: %q", ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies the migrations the database lacks, each in its own
// transaction together with its schema_migrations row, and returns how many
// it applied. It is idempotent, and safe when several instances start at
// once: on PostgreSQL each transaction first takes an advisory lock, on
// SQLite the writer's IMMEDIATE transactions serialise.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := db.schema.migrations(db.dialect)
	if err != nil {
		return 0, err
	}
	var current int
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.schema.createTable()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+db.schema.table).Scan(&current)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	if err := checkVersion(current, len(ms)); err != nil {
		return 0, err
	}
	for _, m := range ms[current:] {
		ok, err := db.apply(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("sqlstore: apply migration %s: %w", m.name, err)
		}
		if ok {
			applied++
			db.logger.Info("applied database migration", "migration", m.name, "dialect", db.dialect.name)
		}
	}
	if db.schema == dataSchema {
		// A schema that just gained the encryption state records the
		// keyring now: after a store bound to another keyring is
		// refused, and after the vault's secrets are sealed, so that a
		// failure there leaves no binding behind either.
		if err := db.bindKeyring(ctx); err != nil {
			return applied, err
		}
	}
	if applied > 0 {
		// A migration may empty what it must not keep (migration 14, the
		// time off of erased employees): on SQLite the old pages would
		// wait in the WAL for the next checkpoint, as after an erase.
		db.flushDeleted(ctx)
	}
	return applied, nil
}

// apply runs m unless another instance applied it since Migrate looked.
func (db *DB) apply(ctx context.Context, m migration) (bool, error) {
	done := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT 1 FROM `+db.schema.table+` WHERE version = ?`), m.version).Scan(&one)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.dialect.rebind(`INSERT INTO `+db.schema.table+` (version, applied_at) VALUES (?, ?)`),
			m.version, time.Now().UnixMicro())
		done = err == nil
		return err
	})
	return done && err == nil, err
}

func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.dialect.migrateLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.dialect.migrateLock)
	return err
}

// checkSchemaVersion refuses a database migrated by a newer binary, whose
// schema this one may misread or damage. It changes nothing.
func (db *DB) checkSchemaVersion(ctx context.Context) error {
	ms, err := db.schema.migrations(db.dialect)
	if err != nil {
		return err
	}
	current, err := db.schemaVersion(ctx, db.schema)
	if err != nil {
		return err
	}
	if current < len(ms) {
		db.logger.Warn("the database schema is older than this hrgate; run the migrations",
			"version", current, "latest", len(ms), "dialect", db.dialect.name)
	}
	return checkVersion(current, len(ms))
}

// schemaVersion returns the newest migration of set s the database has
// applied: 0 when it has no version table, as an empty database has. Any
// other failure to read it is returned, so that a transient error is not
// taken for a database that lacks migrations.
func (db *DB) schemaVersion(ctx context.Context, s migrationSet) (int, error) {
	var one, version int
	err := db.write.QueryRowContext(ctx, db.dialect.rebind(db.dialect.tableExists), s.table).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err == nil {
		err = db.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+s.table).Scan(&version)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	return version, nil
}

func checkVersion(current, known int) error {
	if current > known {
		return fmt.Errorf("sqlstore: the database schema is at version %d but this hrgate knows only up to version %d; "+
			"upgrade hrgate, or restore a backup made before the upgrade", current, known)
	}
	return nil
}

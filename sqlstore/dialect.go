package sqlstore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between SQLite and PostgreSQL. Everything else,
// including every query, is shared: queries are written with "?" and
// rebound for PostgreSQL.
type dialect struct {
	name string
	// numbered is true when placeholders are $1, $2, ... instead of ?.
	numbered bool
	// maxParams is the number of bind parameters one statement may carry.
	maxParams int
	// cacheStmts tells whether reads go through prepared statements kept
	// by the store. pgx keeps its own per connection.
	cacheStmts bool
	// tableExists is a query with one parameter, a table name, that returns
	// a row when the table exists in the schema the store uses.
	tableExists string
	// migrateLock, when set, is run first in every migration transaction so
	// that two instances starting at once apply each migration only once.
	migrateLock string
	// classify reports which constraint, if any, err violated.
	classify func(err error) violation
}

// violationKind is the kind of integrity rule a statement broke.
type violationKind int

const (
	violationNone violationKind = iota
	violationUnique
	violationForeignKey
	violationBadValue
)

// violation describes a broken constraint: the table and the key within it
// ("pkey", "slug", "source", "name", "hash"). It never leaves the package;
// translate turns it into a caller-safe message.
type violation struct {
	kind  violationKind
	table string
	key   string
}

// migrateLockID is the pg_advisory_xact_lock key that serialises migrations
// ("hrgate" in ASCII, then a counter).
const migrateLockID = 0x6872676174650001

func sqliteDialect() *dialect {
	return &dialect{
		name:        "sqlite",
		maxParams:   32766, // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32.
		cacheStmts:  true,
		tableExists: `SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`,
		classify:    classifySQLite,
	}
}

func postgresDialect() *dialect {
	return &dialect{
		name:        "postgres",
		numbered:    true,
		maxParams:   65535,
		tableExists: `SELECT 1 WHERE to_regclass(?) IS NOT NULL`,
		migrateLock: `SELECT pg_advisory_xact_lock(` + strconv.FormatInt(migrateLockID, 10) + `)`,
		classify:    classifyPostgres,
	}
}

// rebind rewrites the ? placeholders of query for the dialect. Queries of
// this package never contain a ? inside a literal or an identifier.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// classifySQLite reads the extended result code of a SQLite error and, for
// uniqueness violations, the "table.column, ..." list SQLite appends to its
// message, which identifies the violated key.
func classifySQLite(err error) violation {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return violation{}
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		table, key := sqliteUniqueKey(se.Error())
		return violation{kind: violationUnique, table: table, key: key}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return violation{kind: violationForeignKey}
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
		return violation{kind: violationBadValue}
	}
	return violation{}
}

// sqliteUniqueKey parses "... UNIQUE constraint failed: t.a, t.b (2067)".
func sqliteUniqueKey(msg string) (table, key string) {
	const marker = "constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return "", ""
	}
	rest := msg[i+len(marker):]
	if j := strings.Index(rest, " ("); j >= 0 {
		rest = rest[:j]
	}
	var cols []string
	for _, qualified := range strings.Split(rest, ", ") {
		t, c, ok := strings.Cut(qualified, ".")
		if !ok {
			return "", ""
		}
		table = t
		cols = append(cols, c)
	}
	switch strings.Join(cols, ",") {
	case "id", "company_id,id":
		// (company_id, id) is unique only because id is.
		key = "pkey"
	case "source_id,remote_id":
		key = "source"
	case "slug", "name", "hash", "generation":
		key = cols[0]
	}
	return table, key
}

// classifyPostgres reads the SQLSTATE of a PostgreSQL error. The key comes
// from the constraint name, "<table>_<key>_key" or "<table>_pkey" by the
// naming convention of the migrations.
func classifyPostgres(err error) violation {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return violation{}
	}
	switch {
	case pe.Code == "23505":
		key := strings.TrimPrefix(pe.ConstraintName, pe.TableName+"_")
		switch key {
		case "pkey":
		case "company_idx":
			// (company_id, id) is unique only because id is.
			key = "pkey"
		default:
			key = strings.TrimSuffix(key, "_key")
		}
		return violation{kind: violationUnique, table: pe.TableName, key: key}
	case pe.Code == "23503":
		return violation{kind: violationForeignKey}
	case pe.Code == "23502", pe.Code == "23514", strings.HasPrefix(pe.Code, "22"):
		// Not-null and check violations, and data exceptions such as a NUL
		// byte or invalid UTF-8 in text, are all bad input.
		return violation{kind: violationBadValue}
	}
	return violation{}
}

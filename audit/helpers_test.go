package audit_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// forEachDSN runs fn once per database, on a fresh one: SQLite always,
// PostgreSQL when HRGATE_TEST_POSTGRES is set.
func forEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	dsns := storetest.DSNs()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { fn(t, dsns[name](t)) })
	}
}

// testKeys are fixed keys, so that failures reproduce.
func testKeys(tb testing.TB) *audit.Keys {
	tb.Helper()
	k, err := audit.NewKeys([]byte(strings.Repeat("c", 32)), []byte(strings.Repeat("s", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustOpenStore opens the audit store at dsn and closes it when tb ends.
func MustOpenStore(tb testing.TB, dsn string) *sqlstore.AuditLog {
	tb.Helper()
	st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		tb.Fatalf("open audit store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// MustOpenLog opens a log over st and closes it when tb ends.
func MustOpenLog(tb testing.TB, st hrgate.AuditStore, keys *audit.Keys, opts audit.Options) *audit.Log {
	tb.Helper()
	if opts.Instance == "" {
		opts.Instance = "test"
	}
	l, err := audit.Open(context.Background(), st, keys, opts)
	if err != nil {
		tb.Fatalf("open log: %v", err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

// event returns a data access event numbered n, with two record ids.
func event(n int) *hrgate.AuditEvent {
	return &hrgate.AuditEvent{
		Type: hrgate.AuditAPIRequest, RequestID: fmt.Sprintf("req_%024d", n), ActorKind: hrgate.ActorConsumer,
		Actor: "payroll", CredentialID: "key_" + strconv.Itoa(n%3), ConsumerID: "con_payroll",
		ClientAddr: "192.0.2.7", Method: "GET", Route: "GET /v1/employees", Status: 200, LatencyUS: 812,
		Object: "employee", RecordIDs: []string{fmt.Sprintf("emp_%04d", n), fmt.Sprintf("emp_%04d", n+1)},
		Groups: []string{"identity", "banking:masked"},
	}
}

// fill records n events one by one.
func fill(tb testing.TB, l *audit.Log, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Record(context.Background(), event(i)); err != nil {
			tb.Fatalf("record %d: %v", i, err)
		}
	}
}

// raw is direct SQL access to an audit database: what someone with the
// database's credentials, or the file, can do.
type raw struct {
	db *sql.DB
	pg bool
}

func openRaw(tb testing.TB, dsn string) *raw {
	tb.Helper()
	driver, pg := "sqlite", strings.HasPrefix(dsn, "postgres")
	if pg {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { _ = db.Close() })
	return &raw{db: db, pg: pg}
}

func (r *raw) exec(tb testing.TB, query string, args ...any) {
	tb.Helper()
	if r.pg {
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	if _, err := r.db.ExecContext(context.Background(), query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// dropGuards drops the append-only triggers, as anyone who owns the
// database can.
func (r *raw) dropGuards(tb testing.TB) {
	tb.Helper()
	if r.pg {
		for _, t := range []string{"audit_events_append_only ON audit_events", "audit_events_no_truncate ON audit_events",
			"audit_records_append_only ON audit_records", "audit_records_no_truncate ON audit_records"} {
			r.exec(tb, "DROP TRIGGER "+t)
		}
		return
	}
	for _, t := range []string{"audit_events_no_update", "audit_events_no_delete", "audit_records_no_update", "audit_records_no_delete"} {
		r.exec(tb, "DROP TRIGGER "+t)
	}
}

func mustVerify(tb testing.TB, st hrgate.AuditStore, keys *audit.Keys, opts audit.VerifyOptions) *audit.Report {
	tb.Helper()
	rep, err := audit.Verify(context.Background(), st, keys, opts)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	return rep
}

// waitFor polls cond until it holds; the bound is generous and only
// guards against a hang, never measures speed.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var storeSQLite = storetest.SQLite

// dbRow is every column of one stored event.
type dbRow struct {
	seq, time                 int64
	typ, consumer, credential string
	body, prevHash, hash, mac []byte
}

func (r *raw) row(tb testing.TB, seq int64) dbRow {
	tb.Helper()
	q := `SELECT seq, time, type, consumer_id, credential_id, body, seal FROM audit_events WHERE seq = ?`
	if r.pg {
		q = strings.Replace(q, "?", "$1", 1)
	}
	var (
		d    dbRow
		seal []byte
	)
	err := r.db.QueryRowContext(context.Background(), q, seq).Scan(&d.seq, &d.time, &d.typ, &d.consumer, &d.credential, &d.body, &seal)
	if err != nil {
		tb.Fatalf("read event %d: %v", seq, err)
	}
	d.prevHash, d.hash, d.mac = seal[:32], seal[32:64], seal[64:]
	return d
}

func (d dbRow) seal() []byte {
	return append(append(append([]byte(nil), d.prevHash...), d.hash...), d.mac...)
}

// put overwrites the event with d's sequence number with d.
func (r *raw) put(tb testing.TB, d dbRow) {
	tb.Helper()
	r.exec(tb, `UPDATE audit_events SET time = ?, type = ?, consumer_id = ?, credential_id = ?, body = ?, seal = ? WHERE seq = ?`,
		d.time, d.typ, d.consumer, d.credential, d.body, d.seal(), d.seq)
}

func (r *raw) insert(tb testing.TB, d dbRow) {
	tb.Helper()
	r.exec(tb, `INSERT INTO audit_events (seq, time, type, consumer_id, credential_id, body, seal) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		d.seq, d.time, d.typ, d.consumer, d.credential, d.body, d.seal())
}

// chainHash computes an event hash by the formula docs/audit.md gives,
// which needs no key: anyone can recompute it.
func chainHash(seq int64, prev, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte("hrgate.audit.event.v1\x00"))
	_ = binary.Write(h, binary.BigEndian, uint64(seq))
	h.Write(prev)
	h.Write(body)
	return h.Sum(nil)
}

// chainMAC computes an event MAC with the test chain key, as an insider
// who stole it could.
func chainMAC(hash []byte) []byte {
	m := hmac.New(sha256.New, []byte(strings.Repeat("c", 32)))
	m.Write([]byte("hrgate.audit.mac.v1\x00"))
	m.Write(hash)
	return m.Sum(nil)
}

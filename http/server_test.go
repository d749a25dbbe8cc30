package http_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/oapitest"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/oauth"
	"github.com/hrgate/hrgate/sandbox"
	"github.com/hrgate/hrgate/sqlstore"
)

// testEnv is a real hrgate server over real TLS on a real database, seeded
// with a small sandbox and the two demo consumers.
type testEnv struct {
	srv   *hrhttp.Server
	store *sqlstore.DB
	// trail and its store are set by MustOpenAuditEnv.
	trail      *audit.Log
	trailStore *sqlstore.AuditLog
	gate       *gate.Gate
	client     *http.Client
	doc        *oapitest.Doc

	companies   []*hrgate.Company // sandbox companies, ordered by id
	planned     *hrgate.Company   // the holiday planner's one company
	dsn         string
	seeded      []*hrgate.Batch // what the sandbox generated, as stored
	payroll     string
	planner     string
	payrollLive string
}

var (
	docOnce sync.Once
	doc     *oapitest.Doc
	docErr  error
)

func loadDoc(tb testing.TB) *oapitest.Doc {
	tb.Helper()
	docOnce.Do(func() { doc, docErr = oapitest.Load(hrhttp.OpenAPIDocument()) })
	if docErr != nil {
		tb.Fatalf("load OpenAPI document: %v", docErr)
	}
	return doc
}

func MustOpenEnv(t *testing.T, dsn string) *testEnv {
	t.Helper()
	return openEnv(t, dsn, slog.New(slog.DiscardHandler), false)
}

// MustOpenAuditEnv is MustOpenEnv with the audit trail on: in the data
// database on PostgreSQL, in a file of its own on SQLite.
func MustOpenAuditEnv(t *testing.T, dsn string) *testEnv {
	t.Helper()
	return openEnv(t, dsn, slog.New(slog.DiscardHandler), true)
}

// openEnv is MustOpenEnv with the store and the server logging to log,
// and the audit trail on or off.
func openEnv(t *testing.T, dsn string, log *slog.Logger, withAudit bool) *testEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.OpenWith(t, dsn, storetest.Keyring(t, storetest.KeysDSN(dsn)), sqlstore.Options{Logger: log})
	now := time.Now().UTC().Truncate(time.Microsecond)
	var seeded []*hrgate.Batch
	err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
		return sandbox.Generate(ctx, sandbox.Options{Companies: 3, Employees: 40, Seed: 7, Now: now}, func(b *hrgate.Batch) error {
			seeded = append(seeded, b)
			return put(b)
		})
	})
	if err != nil {
		t.Fatalf("seed sandbox: %v", err)
	}
	companies, err := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
	if err != nil || len(companies) != 3 {
		t.Fatalf("companies: %v %d", err, len(companies))
	}
	authority, err := oauth.New(db, oauth.Config{
		TokenTTL: 15 * time.Minute, Algorithm: oauth.EdDSA, KeyRotation: 24 * time.Hour, KeyPublishAhead: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{store: db, companies: companies, planned: companies[1], doc: loadDoc(t), dsn: dsn, seeded: seeded}
	gateOpts := []gate.Option{gate.WithAuthority(authority)}
	var srvOpts []hrhttp.Option
	if withAudit {
		e.trail, e.trailStore = openTrail(t, db, dsn)
		gateOpts = append(gateOpts, gate.WithAudit(e.trail))
		srvOpts = append(srvOpts, hrhttp.WithAudit(e.trail))
	}
	g := gate.New(db, gateOpts...)
	e.gate = g
	mustConsumer(t, g, "payroll", "employees:read:identity,employment,compensation employees:read_masked:banking companies:*")
	mustConsumer(t, g, "holiday-planner", "employees:read:identity time_off:read companies:"+e.planned.Slug)
	e.payroll = mustKey(t, g, "payroll", true)
	e.planner = mustKey(t, g, "holiday-planner", true)
	e.payrollLive = mustKey(t, g, "payroll", false)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, log, srvOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e.srv = srv
	e.client = tlsClient(t, srv.CertFile, nil)
	return e
}

// openTrail opens an audit trail for the store db at dsn: in the same
// database on PostgreSQL, in a file of its own on SQLite.
func openTrail(t *testing.T, db *sqlstore.DB, dsn string) (*audit.Log, *sqlstore.AuditLog) {
	t.Helper()
	ctx := context.Background()
	auditDSN := dsn
	if !strings.HasPrefix(dsn, "postgres") {
		auditDSN = dsn + ".audit"
	}
	st, err := sqlstore.OpenAuditLog(ctx, auditDSN, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.LoadKeys(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(ctx, st, keys, audit.Options{Instance: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = trail.Close()
		_ = st.Close()
	})
	return trail, st
}

func mustOpenTrail(t *testing.T, db *sqlstore.DB, dsn string) *audit.Log {
	t.Helper()
	trail, _ := openTrail(t, db, dsn)
	return trail
}

func tlsClient(tb testing.TB, certFile string, mutate func(*tls.Config)) *http.Client {
	tb.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool}
	if mutate != nil {
		mutate(tc)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
}

func mustConsumer(tb testing.TB, g *gate.Gate, name, scopes string) {
	tb.Helper()
	if _, err := g.CreateConsumer(context.Background(), name, "", []string{scopes}); err != nil {
		tb.Fatalf("create consumer %s: %v", name, err)
	}
}

func mustKey(tb testing.TB, g *gate.Gate, consumer string, test bool) string {
	tb.Helper()
	_, secret, err := g.CreateKey(context.Background(), gate.KeyRequest{Consumer: consumer, Test: test})
	if err != nil {
		tb.Fatalf("create key: %v", err)
	}
	return secret
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// get performs a request, validates the answer against the OpenAPI
// document, and returns it.
func (e *testEnv) get(t *testing.T, key, path string, hdr ...string) response {
	t.Helper()
	return e.do(t, http.MethodGet, key, path, hdr...)
}

func (e *testEnv) do(t *testing.T, method, key, path string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// 405 answers and unknown routes lie outside the document by nature.
	if resp.StatusCode != http.StatusMethodNotAllowed && !strings.HasPrefix(path, "/v1/salaries") {
		e.doc.Validate(t, resp, body)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (r response) items(t *testing.T) []map[string]any {
	t.Helper()
	var l struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("body is not a list: %v: %s", err, r.body)
	}
	return l.Data
}

// problemWithoutRequestID returns a problem body with its request id
// removed, for comparing two answers byte for byte.
func problemWithoutRequestID(t *testing.T, r response) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.body)
	}
	m := r.object(t)
	if id, _ := m["request_id"].(string); !strings.HasPrefix(id, "req_") {
		t.Errorf("problem without request id: %s", r.body)
	}
	delete(m, "request_id")
	b, _ := json.Marshal(m)
	return string(b)
}

var alwaysKeys = []string{"id", "company_id", "remote_id", "created_at", "modified_at"}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func assertOnlyKeys(t *testing.T, m map[string]any, allowed ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, k := range append(allowed, alwaysKeys...) {
		ok[k] = true
	}
	for k := range m {
		if !ok[k] {
			t.Errorf("field %q is outside the grant but present (keys %v)", k, keysOf(m))
		}
	}
}

// internalsRE lists words that must never reach a client.
var internals = []string{"sql", "SQL", "pgx", "pgconn", "goroutine", ".go:", "runtime error", "modernc", "panic"}

func assertNoInternals(t *testing.T, body []byte) {
	t.Helper()
	for _, w := range internals {
		if bytes.Contains(body, []byte(w)) {
			t.Errorf("response reveals internals (%q): %s", w, body)
		}
	}
}

// TestServer_CloseAfterFailedOpen checks that an Open that fails (here the
// address is taken) leaves a server Close returns from at once: the
// command that started it closes everything it opened when a later step
// fails, and must not hang on a server that never served.
func TestServer_CloseAfterFailedOpen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	db := storetest.Open(t, storetest.SQLite(t))
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = taken.Addr().String()
	srv, err := hrhttp.NewServer(context.Background(), cfg, db, gate.New(db), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err == nil {
		t.Fatal("Open succeeded on an address in use")
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close after a failed Open: %v", err)
	}
}

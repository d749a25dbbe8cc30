package sink_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
)

// memStore stands in for the audit store: a slice of events and a map of
// sink cursors. It implements hrgate.AuditReader and
// hrgate.AuditSinkCursors.
type memStore struct {
	mu      sync.Mutex
	events  []*hrgate.AuditEvent
	cursors map[string]int64
	readErr error
	// onAppend, when set, is called after every append, as the audit log
	// calls Streamer.Notify after a commit.
	onAppend func()
}

func newMemStore() *memStore { return &memStore{cursors: map[string]int64{}} }

func (m *memStore) AuditEvents(_ context.Context, afterSeq int64, limit int) ([]*hrgate.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readErr != nil {
		return nil, m.readErr
	}
	var out []*hrgate.AuditEvent
	for _, e := range m.events {
		if e.Seq > afterSeq && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) FindAuditEvents(context.Context, hrgate.AuditFilter) ([]*hrgate.AuditEvent, error) {
	return nil, errors.New("memStore: FindAuditEvents is not used by sinks")
}

func (m *memStore) SinkCursor(_ context.Context, name string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[name], nil
}

func (m *memStore) SetSinkCursor(_ context.Context, name string, seq int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursors[name] = seq
	return nil
}

func (m *memStore) cursor(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[name]
}

func (m *memStore) setReadErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readErr = err
}

// add appends n events with the next sequence numbers.
func (m *memStore) add(n int) {
	m.mu.Lock()
	for range n {
		m.events = append(m.events, testEvent(int64(len(m.events)+1)))
	}
	f := m.onAppend
	m.mu.Unlock()
	if f != nil {
		f()
	}
}

// addSeq appends an event with the given sequence number, keeping the
// slice in order, as an event committed late would appear.
func (m *memStore) addSeq(seq int64) {
	m.mu.Lock()
	m.events = append(m.events, testEvent(seq))
	slices.SortFunc(m.events, func(a, b *hrgate.AuditEvent) int { return int(a.Seq - b.Seq) })
	m.mu.Unlock()
}

func (m *memStore) event(seq int64) *hrgate.AuditEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if e.Seq == seq {
			return e
		}
	}
	return nil
}

var testEpoch = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

// testEvent returns an event whose fields vary with seq, with values that
// need escaping in syslog structured data and non-ASCII text.
func testEvent(seq int64) *hrgate.AuditEvent {
	e := &hrgate.AuditEvent{
		Seq:          seq,
		Time:         testEpoch.Add(time.Duration(seq) * time.Millisecond),
		Instance:     "node-1",
		RequestID:    fmt.Sprintf("req-%d", seq),
		ActorKind:    "credential",
		CredentialID: "key_" + strconv.FormatInt(seq%7, 10),
		ConsumerID:   "con_payroll",
		ClientAddr:   "192.0.2.10",
		Hash:         []byte{byte(seq), 0xfe, 0xff, 0x00},
		PrevHash:     []byte{byte(seq - 1)},
	}
	switch seq % 4 {
	case 0:
		e.Type = "auth.failure"
		e.Reason = `Schlüssel "abgelaufen" \ expired]`
		e.Status = 401
	case 1:
		e.Type = "api.request"
		e.Method, e.Route, e.Status, e.LatencyUS = "GET", "/v1/employees/{id}", 200, 812
		e.Object = "employee"
		e.RecordIDs = []string{fmt.Sprintf("emp_%d", seq)}
		e.Groups = []string{"basic", "bank"}
	case 2:
		e.Type = "api.request"
		e.Method, e.Route, e.Status = "GET", "/v1/employees", 200
		e.Object = "employee"
		// Values that structured data must escape, and non-ASCII ones.
		e.RequestID = fmt.Sprintf(`req-"%d"]\`, seq)
		e.ConsumerID = "con_lohnbüro_東京"
		// A list request: a long line, so that files rotate often.
		for i := range int(seq % 13) {
			e.RecordIDs = append(e.RecordIDs, fmt.Sprintf("emp_%d_%d", seq, i))
		}
	case 3:
		e.Type = "consumer.updated"
		e.ActorKind, e.CredentialID, e.ConsumerID = "admin", "", ""
		e.Target = "con_payroll"
		e.Before = json.RawMessage(`{"name":"Lohn & Gehalt"}`)
		e.After = json.RawMessage(`{"name":"Lohn-Büro 東京"}`)
	}
	return e
}

// fastSink returns a sink configuration that polls and retries quickly.
func fastSink(name, typ string) config.AuditSink {
	return config.AuditSink{
		Name:         name,
		Type:         typ,
		BatchSize:    50,
		PollInterval: config.Duration(20 * time.Millisecond),
		RetryMin:     config.Duration(10 * time.Millisecond),
		RetryMax:     config.Duration(200 * time.Millisecond),
	}
}

// mustStart starts a streamer and closes it when the test ends.
func mustStart(tb testing.TB, store *memStore, logger *slog.Logger, sinks ...config.AuditSink) *sink.Streamer {
	tb.Helper()
	if logger == nil {
		logger = testLogger(tb, nil)
	}
	s, err := sink.Start(context.Background(), sinks, store, store, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; it makes no claim about speed.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logBuffer collects log output safely from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger logs at debug level into buf, or into the test log when buf
// is nil.
func testLogger(tb testing.TB, buf *logBuffer) *slog.Logger {
	if buf != nil {
		return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// checkSeqs checks that got holds every sequence number from 1 to n, in
// order; with repeats false, each exactly once. With repeats true a seq
// may come again, as at-least-once delivery allows, but only by repeating
// a run already seen, never by going back and skipping.
func checkSeqs(tb testing.TB, got []int64, n int64, repeats bool) {
	tb.Helper()
	seen := map[int64]int{}
	var high int64
	for i, s := range got {
		seen[s]++
		switch {
		case s == high+1:
			high = s
		case s <= high && repeats:
		default:
			tb.Fatalf("seq %d at position %d after %d delivered in order: out of order or skipped", s, i, high)
		}
	}
	for s := int64(1); s <= n; s++ {
		if seen[s] == 0 {
			tb.Fatalf("seq %d never arrived (%d messages, highest in order %d)", s, len(got), high)
		}
		if seen[s] > 1 && !repeats {
			tb.Fatalf("seq %d arrived %d times", s, seen[s])
		}
	}
	if high != n {
		tb.Fatalf("highest seq %d, want %d", high, n)
	}
}

// pki is a test certificate authority with certificates it issued, all
// written as PEM files in a temporary directory.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	CAFile string
}

func newPKI(tb testing.TB, name string) *pki {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	p := &pki{dir: tb.TempDir(), ca: ca, caKey: key}
	p.CAFile = filepath.Join(p.dir, name+"-ca.pem")
	writePEM(tb, p.CAFile, "CERTIFICATE", der)
	return p
}

// issue writes a certificate and key for name, valid for 127.0.0.1 and
// localhost, and returns the two file names.
func (p *pki) issue(tb testing.TB, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{"localhost", name},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile = filepath.Join(p.dir, name+".pem")
	keyFile = filepath.Join(p.dir, name+"-key.pem")
	writePEM(tb, certFile, "CERTIFICATE", der)
	writePEM(tb, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// syslogMsg is an RFC 5424 message as parse5424 reads it.
type syslogMsg struct {
	Pri                              int
	Timestamp                        time.Time
	RawTimestamp                     string
	Hostname, AppName, ProcID, MsgID string
	SDIDs                            []string
	SD                               map[string]map[string]string
	Msg                              []byte
}

var timestampRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// parse5424 parses one message strictly by the ABNF of RFC 5424 §6,
// returning an error for anything the grammar does not allow.
func parse5424(b []byte) (*syslogMsg, error) {
	m := &syslogMsg{SD: map[string]map[string]string{}}
	p := b
	fail := func(format string, a ...any) (*syslogMsg, error) {
		return nil, fmt.Errorf("at offset %d: %s in %q", len(b)-len(p), fmt.Sprintf(format, a...), b)
	}
	if len(p) == 0 || p[0] != '<' {
		return fail("no PRI")
	}
	end := bytes.IndexByte(p, '>')
	if end < 2 || end > 4 {
		return fail("bad PRI")
	}
	pri, err := strconv.Atoi(string(p[1:end]))
	if err != nil || pri > 191 || (end > 2 && p[1] == '0') {
		return fail("bad PRI value")
	}
	m.Pri = pri
	p = p[end+1:]
	if !bytes.HasPrefix(p, []byte("1 ")) {
		return fail("VERSION is not 1")
	}
	p = p[2:]
	field := func(name string, max int) (string, error) {
		i := bytes.IndexByte(p, ' ')
		if i < 1 || i > max {
			return "", fmt.Errorf("%s empty, too long or not followed by SP", name)
		}
		f := string(p[:i])
		for _, c := range []byte(f) {
			if c < 33 || c > 126 {
				return "", fmt.Errorf("%s holds a character outside PRINTUSASCII", name)
			}
		}
		p = p[i+1:]
		return f, nil
	}
	if m.RawTimestamp, err = field("TIMESTAMP", 32); err != nil {
		return fail("%v", err)
	}
	if m.RawTimestamp != "-" {
		if !timestampRE.MatchString(m.RawTimestamp) {
			return fail("TIMESTAMP %q is not RFC 5424 (RFC 3339, at most 6 fraction digits)", m.RawTimestamp)
		}
		if m.Timestamp, err = time.Parse(time.RFC3339Nano, m.RawTimestamp); err != nil {
			return fail("TIMESTAMP: %v", err)
		}
	}
	for _, f := range []struct {
		name string
		max  int
		dst  *string
	}{{"HOSTNAME", 255, &m.Hostname}, {"APP-NAME", 48, &m.AppName}, {"PROCID", 128, &m.ProcID}, {"MSGID", 32, &m.MsgID}} {
		if *f.dst, err = field(f.name, f.max); err != nil {
			return fail("%v", err)
		}
	}
	if len(p) > 0 && p[0] == '-' {
		p = p[1:]
	} else {
		for len(p) > 0 && p[0] == '[' {
			p = p[1:]
			id, rest, err := sdName(p)
			if err != nil {
				return fail("SD-ID: %v", err)
			}
			p = rest
			if _, dup := m.SD[id]; dup {
				return fail("SD-ID %s repeated", id)
			}
			params := map[string]string{}
			m.SD[id], m.SDIDs = params, append(m.SDIDs, id)
			for len(p) > 0 && p[0] == ' ' {
				name, rest, err := sdName(p[1:])
				if err != nil {
					return fail("SD-NAME: %v", err)
				}
				p = rest
				if !bytes.HasPrefix(p, []byte(`="`)) {
					return fail(`SD-PARAM %s without ="`, name)
				}
				p = p[2:]
				var v strings.Builder
				for {
					if len(p) == 0 {
						return fail("unterminated PARAM-VALUE")
					}
					c := p[0]
					if c == '\\' && len(p) > 1 && (p[1] == '"' || p[1] == '\\' || p[1] == ']') {
						v.WriteByte(p[1])
						p = p[2:]
						continue
					}
					if c == '"' {
						p = p[1:]
						break
					}
					if c == ']' {
						return fail("unescaped ] in PARAM-VALUE")
					}
					v.WriteByte(c)
					p = p[1:]
				}
				if !utf8.ValidString(v.String()) {
					return fail("PARAM-VALUE is not UTF-8")
				}
				params[name] = v.String()
			}
			if len(p) == 0 || p[0] != ']' {
				return fail("SD-ELEMENT not closed")
			}
			p = p[1:]
		}
		if len(m.SDIDs) == 0 {
			return fail("no STRUCTURED-DATA")
		}
	}
	if len(p) > 0 {
		if p[0] != ' ' {
			return fail("no SP before MSG")
		}
		m.Msg = p[1:]
	}
	return m, nil
}

// sdName reads an SD-NAME: 1 to 32 PRINTUSASCII except '=', SP, ']', '"'.
func sdName(p []byte) (string, []byte, error) {
	i := 0
	for i < len(p) && p[i] >= 33 && p[i] <= 126 && p[i] != '=' && p[i] != ']' && p[i] != '"' {
		i++
	}
	if i == 0 || i > 32 {
		return "", nil, fmt.Errorf("length %d not in 1..32", i)
	}
	return string(p[:i]), p[i:], nil
}

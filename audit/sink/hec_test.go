package sink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
)

const hecToken = "4f9a6b1e-secret-hec-token-0c2d"

// hecServer is a HEC endpoint in the test. It checks every request and
// keeps the events of those it accepts.
type hecServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests int
	seqs     []int64
	// fail answers the request with this status when it returns one.
	fail func(n, events int) int
}

func newHECServer(t *testing.T, useTLS bool) *hecServer {
	h := &hecServer{t: t}
	if useTLS {
		h.srv = httptest.NewTLSServer(h)
	} else {
		h.srv = httptest.NewServer(h)
	}
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hecServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := h.t
	if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
		t.Errorf("HEC: %s %s", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Splunk "+hecToken {
		t.Errorf("HEC: Authorization %q", got)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("HEC: Content-Type %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	if len(body) == 0 || body[len(body)-1] != '\n' {
		t.Errorf("HEC: body does not end with a newline")
	}
	var seqs []int64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Time       json.Number     `json:"time"`
			Host       string          `json:"host"`
			Source     string          `json:"source"`
			SourceType string          `json:"sourcetype"`
			Index      string          `json:"index"`
			Event      json.RawMessage `json:"event"`
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("HEC: line %q: %v", sc.Bytes(), err)
			continue
		}
		var e struct {
			Seq int64 `json:"seq"`
		}
		_ = json.Unmarshal(ev.Event, &e)
		seqs = append(seqs, e.Seq)
		ts := testEvent(e.Seq).Time
		if want := fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000); string(ev.Time) != want {
			t.Errorf("HEC: time %s, want %s", ev.Time, want)
		}
		want, _ := json.Marshal(testEvent(e.Seq))
		if !bytes.Equal(ev.Event, want) {
			t.Errorf("HEC: event\n%s\nwant\n%s", ev.Event, want)
		}
		if ev.Host != "hr-host-1" || ev.Source != "hrgate" || ev.SourceType != "hrgate:audit" || ev.Index != "hr_audit" {
			t.Errorf("HEC: envelope %+v", ev)
		}
	}
	h.mu.Lock()
	h.requests++
	n := h.requests
	fail := h.fail
	h.mu.Unlock()
	if fail != nil {
		if status := fail(n, len(seqs)); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"text":"Server is busy","code":9}`)
			return
		}
	}
	h.mu.Lock()
	h.seqs = append(h.seqs, seqs...)
	h.mu.Unlock()
	_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
}

func (h *hecServer) received() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.seqs...)
}

// caFile writes the test server's certificate as the CA to trust.
func (h *hecServer) caFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "hec-ca.pem")
	writePEM(t, path, "CERTIFICATE", h.srv.Certificate().Raw)
	return path
}

func tokenFile(t *testing.T, mode os.FileMode) string {
	path := filepath.Join(t.TempDir(), "hec-token")
	if err := os.WriteFile(path, []byte(hecToken+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func hecSinkConfig(url string) config.AuditSink {
	c := fastSink("splunk", config.SinkHTTP)
	c.URL, c.Hostname, c.Index = url+"/services/collector/event", "hr-host-1", "hr_audit"
	return c
}

// TestHECRetriesAndResumes answers 503 to the first requests: the events
// must then arrive once each, in order, and after a restart the sink must
// go on where it stopped. The token appears in no log line.
func TestHECRetriesAndResumes(t *testing.T) {
	h := newHECServer(t, true)
	h.fail = func(n, _ int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	store := newMemStore()
	var logs logBuffer
	cfg := hecSinkConfig(h.srv.URL)
	cfg.CAFile, cfg.TokenFile = h.caFile(t), tokenFile(t, 0o600)
	s := mustStart(t, store, testLogger(t, &logs), cfg)
	store.onAppend = s.Notify
	store.add(120)
	waitFor(t, "delivery after the 503s", func() bool { return store.cursor("splunk") == 120 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st[0].Failed != 3 || st[0].Delivered != 120 {
		t.Fatalf("stats %+v, want 3 failed attempts and 120 delivered", st)
	}

	// The second run reads the token from the environment.
	t.Setenv("TEST_HEC_TOKEN", hecToken)
	cfg.TokenFile, cfg.TokenEnv = "", "TEST_HEC_TOKEN"
	store.add(30)
	s = mustStart(t, store, testLogger(t, &logs), cfg)
	store.onAppend = s.Notify
	store.add(30)
	waitFor(t, "the second run", func() bool { return store.cursor("splunk") == 180 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, h.received(), 180, false)

	out := logs.String()
	if strings.Contains(out, hecToken) {
		t.Fatalf("the log holds the HEC token:\n%s", out)
	}
	if !strings.Contains(out, "status 503 (HEC code 9: Server is busy)") {
		t.Fatalf("the log does not say why delivery failed:\n%s", out)
	}
}

// TestHECHalvesRefusedBatches answers 413 to requests of more than seven
// events: the sink must shrink its batches and still deliver everything.
func TestHECHalvesRefusedBatches(t *testing.T) {
	h := newHECServer(t, true)
	h.fail = func(_, events int) int {
		if events > 7 {
			return http.StatusRequestEntityTooLarge
		}
		return 0
	}
	store := newMemStore()
	cfg := hecSinkConfig(h.srv.URL)
	cfg.CAFile, cfg.TokenFile = h.caFile(t), tokenFile(t, 0o600)
	s := mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify
	store.add(100)
	waitFor(t, "delivery in small batches", func() bool { return store.cursor("splunk") == 100 })
	checkSeqs(t, h.received(), 100, false)
}

func TestHECPlainHTTPOnLoopback(t *testing.T) {
	h := newHECServer(t, false)
	store := newMemStore()
	cfg := hecSinkConfig(h.srv.URL)
	cfg.AllowHTTP, cfg.TokenFile = true, tokenFile(t, 0o600)
	s := mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify
	store.add(10)
	waitFor(t, "delivery over http", func() bool { return store.cursor("splunk") == 10 })
	checkSeqs(t, h.received(), 10, false)
}

// TestHECVerifiesCollector trusts another CA than the one that signed
// the collector's certificate: nothing may be sent.
func TestHECVerifiesCollector(t *testing.T) {
	h := newHECServer(t, true)
	store := newMemStore()
	var logs logBuffer
	cfg := hecSinkConfig(h.srv.URL)
	cfg.CAFile, cfg.TokenFile = newPKI(t, "other").CAFile, tokenFile(t, 0o600)
	s := mustStart(t, store, testLogger(t, &logs), cfg)
	store.add(5)
	s.Notify()
	waitFor(t, "failed attempts", func() bool { return s.Stats()[0].Failed >= 2 })
	if len(h.received()) != 0 || store.cursor("splunk") != 0 {
		t.Fatal("events went to a collector whose certificate did not verify")
	}
	if !strings.Contains(logs.String(), "certificate") {
		t.Fatalf("the log does not say why:\n%s", logs.String())
	}
}

// TestSinkFilesCheckedAtStart gives sinks bad certificates, keys and
// tokens: Start must refuse each with an error naming the key, and never
// show the token.
func TestSinkFilesCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN NOTHING-----\nzzz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyOnly := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyOnly, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(dir, "spaced")
	if err := os.WriteFile(spaced, []byte("abc "+hecToken), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(tokenFile(t, 0o600), link); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large")
	if err := os.WriteFile(large, []byte(strings.Repeat("x", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}
	hec := hecSinkConfig("https://127.0.0.1:8088")
	syslog := syslogSink(config.SyslogTLS, "127.0.0.1:6514")
	for _, tc := range []struct {
		name string
		edit func() config.AuditSink
		want string
	}{
		{"TokenFileReadableByOthers", func() config.AuditSink {
			c := hec
			c.TokenFile = tokenFile(t, 0o644)
			return c
		}, "is readable by others"},
		{"TokenFileSymlink", func() config.AuditSink { c := hec; c.TokenFile = link; return c }, "audit.sinks[0].token_file: HEC token file " + link + " is not a regular file"},
		{"TokenFileTooLarge", func() config.AuditSink { c := hec; c.TokenFile = large; return c }, "audit.sinks[0].token_file: HEC token file " + large + " is larger than"},
		{"TokenFileEmpty", func() config.AuditSink { c := hec; c.TokenFile = empty; return c }, "audit.sinks[0].token_file"},
		{"TokenWithSpace", func() config.AuditSink { c := hec; c.TokenFile = spaced; return c }, "audit.sinks[0].token_file: the HEC token must be printable"},
		{"TokenEnvUnset", func() config.AuditSink { c := hec; c.TokenEnv = "HRGATE_TEST_UNSET_TOKEN"; return c }, "audit.sinks[0].token_env: environment variable HRGATE_TEST_UNSET_TOKEN is not set"},
		{"GarbageCA", func() config.AuditSink { c := syslog; c.CAFile = garbage; return c }, "audit.sinks[0].ca_file: " + garbage + " holds no PEM certificate"},
		{"GarbageClientCert", func() config.AuditSink { c := syslog; c.CertFile, c.KeyFile = garbage, keyOnly; return c }, "audit.sinks[0].cert_file: cannot load"},
		{"GarbageHECCA", func() config.AuditSink { c := hec; c.TokenFile = tokenFile(t, 0o600); c.CAFile = garbage; return c }, "audit.sinks[0].ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			s, err := sink.Start(context.Background(), []config.AuditSink{tc.edit()}, store, store, nil)
			if err == nil {
				_ = s.Close()
				t.Fatal("Start accepted the sink")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), hecToken) {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}

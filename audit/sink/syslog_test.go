package sink_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
)

func syslogSink(transport, addr string) config.AuditSink {
	c := fastSink("siem", config.SinkSyslog)
	c.Transport, c.Address, c.Hostname = transport, addr, "hr-host-1"
	c.Timeout = config.Duration(5 * time.Second)
	return c
}

// TestSyslogFormat checks the header and the escaping of structured data
// against a strict RFC 5424 parser.
func TestSyslogFormat(t *testing.T) {
	cfg := syslogSink(config.SyslogTCP, "127.0.0.1:514")
	for _, tc := range []struct {
		name      string
		event     func(e *hrgate.AuditEvent)
		pri       int
		wantSD    map[string]string // parameters to find, unescaped
		notInSD   []string          // parameters that must be absent
		msgid     string
		timestamp string
	}{
		{
			name:      "Request",
			event:     func(e *hrgate.AuditEvent) {},
			pri:       10*8 + 6,
			msgid:     "api.request",
			timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD: map[string]string{"seq": "1", "type": "api.request", "route": "/v1/employees/{id}",
				"status": "200", "record_count": "1", "object": "employee", "credential_id": "key_1",
				"consumer_id": "con_payroll", "client_addr": "192.0.2.10", "method": "GET",
				"request_id": "req-1", "instance": "node-1", "actor_kind": "credential", "hash": "Af7/AA=="},
			notInSD: []string{"target", "truncated"},
		},
		{
			name: "EscapedCharacters",
			event: func(e *hrgate.AuditEvent) {
				e.Route = `/v1/a]b"c\d`
				e.RequestID = `]]]`
				e.ConsumerID = `\`
			},
			pri: 86, msgid: "api.request", timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD: map[string]string{"route": `/v1/a]b"c\d`, "request_id": "]]]", "consumer_id": `\`},
		},
		{
			name: "NonASCII",
			event: func(e *hrgate.AuditEvent) {
				e.ConsumerID = "Lohnbüro Zürich 東京 🙂"
				e.Reason = "für Jürgen"
			},
			pri: 86, msgid: "api.request", timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD: map[string]string{"consumer_id": "Lohnbüro Zürich 東京 🙂"},
		},
		{
			name: "InvalidUTF8AndControls",
			event: func(e *hrgate.AuditEvent) {
				e.ConsumerID = "a\xffb"
				e.RequestID = "x\ny\x00z"
			},
			pri: 86, msgid: "api.request", timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD: map[string]string{"consumer_id": "a\ufffdb", "request_id": "x\ufffdy\ufffdz"},
		},
		{
			name: "FailureIsWarning",
			event: func(e *hrgate.AuditEvent) {
				e.Type, e.Status, e.Object, e.RecordIDs = "auth.failure", 401, "", nil
			},
			pri: 10*8 + 4, msgid: "auth.failure", timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD:  map[string]string{"type": "auth.failure", "status": "401"},
			notInSD: []string{"record_count"},
		},
		{
			name:  "ErrorStatusIsNotice",
			event: func(e *hrgate.AuditEvent) { e.Status = 403 },
			pri:   10*8 + 5, msgid: "api.request", timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD: map[string]string{"status": "403"},
		},
		{
			name: "LongOddType",
			event: func(e *hrgate.AuditEvent) {
				e.Type = "a very long type name with spaces, well beyond thirty-two"
			},
			pri: 86, msgid: "a_very_long_type_name_with_space", timestamp: "2026-03-01T09:30:00.124456Z",
			wantSD: map[string]string{"type": "a very long type name with spaces, well beyond thirty-two"},
		},
		{
			name:  "NoTime",
			event: func(e *hrgate.AuditEvent) { e.Time = time.Time{} },
			pri:   86, msgid: "api.request", timestamp: "-",
		},
		{
			name: "OtherZone",
			event: func(e *hrgate.AuditEvent) {
				e.Time = time.Date(2026, 7, 4, 12, 0, 0, 5000, time.FixedZone("CEST", 2*3600))
			},
			pri: 86, msgid: "api.request", timestamp: "2026-07-04T10:00:00.000005Z",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEvent(1)
			tc.event(e)
			raw, err := sink.FormatSyslog(cfg, e)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parse5424(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Pri != tc.pri || m.Hostname != "hr-host-1" || m.AppName != "hrgate" ||
				m.ProcID != strconv.Itoa(os.Getpid()) || m.MsgID != tc.msgid || m.RawTimestamp != tc.timestamp {
				t.Fatalf("header %+v of %s", m, raw)
			}
			sd := m.SD["hrgate@32473"]
			if len(m.SDIDs) != 1 || sd == nil {
				t.Fatalf("structured data %v", m.SD)
			}
			for k, v := range tc.wantSD {
				if sd[k] != v {
					t.Errorf("SD %s = %q, want %q", k, sd[k], v)
				}
			}
			for _, k := range tc.notInSD {
				if _, ok := sd[k]; ok {
					t.Errorf("SD has %s", k)
				}
			}
			for _, c := range m.Msg {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("MSG holds byte %#x; it must be printable ASCII", c)
				}
			}
			want, _ := json.Marshal(e)
			var got, wantV any
			if err := json.Unmarshal(m.Msg, &got); err != nil {
				t.Fatalf("MSG is not JSON: %v", err)
			}
			_ = json.Unmarshal(want, &wantV)
			gotJ, _ := json.Marshal(got)
			wantJ, _ := json.Marshal(wantV)
			if !bytes.Equal(gotJ, wantJ) {
				t.Fatalf("MSG decodes to\n%s\nwant\n%s", gotJ, wantJ)
			}
		})
	}
}

func TestSyslogTruncation(t *testing.T) {
	e := testEvent(2)
	for i := range 300 {
		e.RecordIDs = append(e.RecordIDs, fmt.Sprintf("emp_%04d_ü", i))
	}
	for _, tc := range []struct {
		name    string
		max     int
		event   *hrgate.AuditEvent
		wantSD  []string
		wantMsg bool
	}{
		{"MSGCut", 1000, e, []string{"seq", "type", "route", "record_count", "hash", "truncated"}, true},
		{"Fits", 65507, e, []string{"seq", "route"}, true},
		{"SDReduced", 480, func() *hrgate.AuditEvent {
			big := *e
			big.RequestID = strings.Repeat("r", 400)
			return &big
		}(), []string{"seq", "type", "truncated"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := syslogSink(config.SyslogUDP, "127.0.0.1:514")
			cfg.MaxMessageSize = tc.max
			raw, err := sink.FormatSyslog(cfg, tc.event)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > tc.max {
				t.Fatalf("message of %d bytes, max %d", len(raw), tc.max)
			}
			m, err := parse5424(raw)
			if err != nil {
				t.Fatal(err)
			}
			sd := m.SD["hrgate@32473"]
			for _, k := range tc.wantSD {
				if _, ok := sd[k]; !ok {
					t.Errorf("SD lacks %s: %v", k, sd)
				}
			}
			if sd["seq"] != "2" {
				t.Errorf("seq = %q", sd["seq"])
			}
			if tc.wantMsg && len(m.Msg) == 0 {
				t.Error("MSG was dropped")
			}
			if tc.max == 65507 && json.Unmarshal(m.Msg, new(any)) != nil {
				t.Error("an untruncated MSG is not JSON")
			}
		})
	}
}

// frameReader reads RFC 6587 octet-counted frames, "LEN SP MSG".
func readFrame(r *bufio.Reader) ([]byte, error) {
	lenText, err := r.ReadString(' ')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lenText, " "))
	if err != nil || n < 1 || strings.HasPrefix(lenText, "0") {
		return nil, fmt.Errorf("bad frame length %q", lenText)
	}
	msg := make([]byte, n)
	_, err = io.ReadFull(r, msg)
	return msg, err
}

// collector is a syslog receiver in the test: it accepts TCP (or TLS)
// connections and parses every frame.
type collector struct {
	tb testing.TB
	ln net.Listener

	mu      sync.Mutex
	msgs    []*syslogMsg
	conns   int
	dropAt  int // close the connection after this many messages in total
	dropped bool
	// quiet makes errors on a connection, such as a refused handshake,
	// part of the test rather than failures.
	quiet bool
}

func newCollector(tb testing.TB, tlsConfig *tls.Config) *collector {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	c := &collector{tb: tb, ln: ln}
	tb.Cleanup(func() { _ = ln.Close() })
	go c.accept()
	return c
}

func (c *collector) accept() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.conns++
		c.mu.Unlock()
		go c.serve(conn)
	}
}

func (c *collector) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		raw, err := readFrame(r)
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "closed") && !c.quiet {
				c.tb.Errorf("collector: %v", err)
			}
			return
		}
		m, err := parse5424(raw)
		if err != nil {
			c.tb.Errorf("collector: %v", err)
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		drop := !c.dropped && c.dropAt > 0 && len(c.msgs) >= c.dropAt
		if drop {
			c.dropped = true
		}
		c.mu.Unlock()
		if drop {
			return
		}
	}
}

func (c *collector) seqs() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for _, m := range c.msgs {
		n, _ := strconv.ParseInt(m.SD["hrgate@32473"]["seq"], 10, 64)
		out = append(out, n)
	}
	return out
}

func TestSyslogTCP(t *testing.T) {
	col := newCollector(t, nil)
	col.dropAt = 70 // the collector hangs up in the middle
	store := newMemStore()
	cfg := syslogSink(config.SyslogTCP, col.ln.Addr().String())
	s := mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify
	store.add(100)
	waitFor(t, "the first events", func() bool { return store.cursor("siem") == 100 })
	store.add(100)
	waitFor(t, "events after the reconnection", func() bool {
		seqs := col.seqs()
		return len(seqs) > 0 && seqs[len(seqs)-1] == 200
	})
	checkSeqs(t, col.seqs(), 200, true)
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.conns < 2 {
		t.Fatalf("%d connections; the sink did not reconnect after the collector hung up", col.conns)
	}
	m := col.msgs[len(col.msgs)-1]
	if m.MsgID == "" || m.SD["hrgate@32473"]["type"] != m.MsgID {
		t.Fatalf("last message %+v", m)
	}
}

func TestSyslogTLS(t *testing.T) {
	ca := newPKI(t, "collector")
	certFile, keyFile := ca.issue(t, "collector", x509.ExtKeyUsageServerAuth)
	clientCA := newPKI(t, "senders")
	clientCert, clientKey := clientCA.issue(t, "hrgate", x509.ExtKeyUsageClientAuth)
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.ca)
	col := newCollector(t, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	})

	store := newMemStore()
	cfg := syslogSink(config.SyslogTLS, col.ln.Addr().String())
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = ca.CAFile, clientCert, clientKey
	s := mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify
	store.add(120)
	waitFor(t, "events over TLS", func() bool { return store.cursor("siem") == 120 })
	waitFor(t, "the collector to read them", func() bool { return len(col.seqs()) >= 120 })
	checkSeqs(t, col.seqs(), 120, true)
}

// TestSyslogTLSVerifiesCollector points the sink at a collector whose
// certificate another CA signed: nothing may be delivered.
func TestSyslogTLSVerifiesCollector(t *testing.T) {
	ca := newPKI(t, "collector")
	certFile, keyFile := ca.issue(t, "collector", x509.ExtKeyUsageServerAuth)
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector(t, &tls.Config{Certificates: []tls.Certificate{serverCert}})
	col.quiet = true
	other := newPKI(t, "other")

	store := newMemStore()
	var logs logBuffer
	cfg := syslogSink(config.SyslogTLS, col.ln.Addr().String())
	cfg.CAFile = other.CAFile
	s := mustStart(t, store, testLogger(t, &logs), cfg)
	store.add(3)
	s.Notify()
	waitFor(t, "failed attempts", func() bool { return s.Stats()[0].Failed >= 2 })
	if store.cursor("siem") != 0 || len(col.seqs()) != 0 {
		t.Fatal("events were delivered to a collector that failed verification")
	}
	if !strings.Contains(logs.String(), "certificate") {
		t.Fatalf("the log does not say why:\n%s", logs.String())
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var (
		mu    sync.Mutex
		seqs  []int64
		sizes []int
	)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := parse5424(buf[:n])
			if err != nil {
				t.Errorf("datagram: %v", err)
				continue
			}
			seq, _ := strconv.ParseInt(m.SD["hrgate@32473"]["seq"], 10, 64)
			mu.Lock()
			seqs, sizes = append(seqs, seq), append(sizes, n)
			mu.Unlock()
		}
	}()
	store := newMemStore()
	cfg := syslogSink(config.SyslogUDP, pc.LocalAddr().String())
	cfg.MaxMessageSize = 600
	cfg.BatchSize = 5 // keep each burst below the socket's receive buffer
	s := mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify
	store.add(40)
	waitFor(t, "datagrams", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) >= 40
	})
	mu.Lock()
	defer mu.Unlock()
	checkSeqs(t, seqs, 40, true)
	for i, n := range sizes {
		if n > 600 {
			t.Fatalf("datagram %d is %d bytes, over max_message_size 600", i, n)
		}
	}
}

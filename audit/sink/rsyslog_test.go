package sink_test

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
)

// rsyslogd returns the rsyslogd binary. Without one the test is skipped,
// unless CI is set: CI installs rsyslog, so there a missing binary fails.
func rsyslogd(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rsyslogd"); serr == nil {
			path, err = "/usr/sbin/rsyslogd", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("rsyslogd is not installed but CI is set; .ci/run installs the Debian packages rsyslog and rsyslog-gnutls")
		}
		t.Skip("rsyslogd is not installed; apt-get install rsyslog rsyslog-gnutls to run this test")
	}
	return path
}

// rsyslogConf configures rsyslog to accept RFC 5425 syslog over TLS with
// client certificates (gtls driver, x509/certvalid), parse the structured
// data with mmpstrucdata, and write what it parsed as JSON lines.
const rsyslogConf = `
global(
  workDirectory="{{dir}}"
  maxMessageSize="64k"
  defaultNetstreamDriverCAFile="{{ca}}"
  defaultNetstreamDriverCertFile="{{cert}}"
  defaultNetstreamDriverKeyFile="{{key}}"
)
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
module(load="mmpstrucdata")
input(type="imtcp" port="{{port}}" ruleset="hrgate")
template(name="parsed" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="fields" name="$!" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="hrgate") {
  action(type="mmpstrucdata")
  action(type="omfile" file="{{out}}" template="parsed")
}
`

// rsyslog runs rsyslogd as a child process.
type rsyslog struct {
	t       *testing.T
	bin     string
	dir     string
	conf    string
	out     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	started int
}

func newRsyslog(t *testing.T, ca, cert, key string) *rsyslog {
	bin := rsyslogd(t)
	dir := t.TempDir()
	r := &rsyslog{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "rsyslog.conf"), out: filepath.Join(dir, "received.jsonl"), port: freePort(t)}
	conf := strings.NewReplacer("{{dir}}", dir, "{{ca}}", ca, "{{cert}}", cert, "{{key}}", key,
		"{{port}}", strconv.Itoa(r.port), "{{out}}", r.out).Replace(rsyslogConf)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-N1", "-f", r.conf).CombinedOutput(); err != nil { // #nosec G204 -- test binary and config.
		if bytes.Contains(out, []byte("gtls")) && os.Getenv("CI") == "" {
			t.Skipf("rsyslog cannot load its GnuTLS driver; apt-get install rsyslog-gnutls to run this test:\n%s", out)
		}
		t.Fatalf("rsyslogd refuses the test configuration: %v\n%s", err, out)
	}
	t.Cleanup(r.stop)
	return r
}

// freePort returns a TCP port nothing listens on at the moment.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (r *rsyslog) start() {
	r.t.Helper()
	r.started++
	logf, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("rsyslogd-%d.log", r.started)))
	if err != nil {
		r.t.Fatal(err)
	}
	pid := filepath.Join(r.dir, fmt.Sprintf("rsyslogd-%d.pid", r.started))
	r.cmd = exec.Command(r.bin, "-n", "-f", r.conf, "-i", pid) // #nosec G204 -- test binary and config.
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}(r.cmd, r.exited)
	// Wait until it listens, so that the outage the test makes is the
	// only one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-r.exited:
			log, _ := os.ReadFile(logf.Name())
			r.t.Fatalf("rsyslogd exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatal("rsyslogd does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops rsyslogd as its service would be stopped, with SIGTERM, and
// waits for it to exit; SIGKILL follows if it does not.
func (r *rsyslog) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
	r.cmd = nil
}

// received is one message as rsyslog parsed it.
type received struct {
	Pri       string `json:"pri"`
	Timestamp string `json:"timestamp"`
	Hostname  string `json:"hostname"`
	App       string `json:"app"`
	ProcID    string `json:"procid"`
	MsgID     string `json:"msgid"`
	SD        string `json:"sd"`
	Fields    string `json:"fields"`
	Msg       string `json:"msg"`
}

// received returns what rsyslog wrote, in order.
func (r *rsyslog) received() []received {
	data, err := os.ReadFile(r.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	// rsyslog may be in the middle of writing the last line.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []received
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m received
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			r.t.Fatalf("rsyslog output line %q: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

// sd returns the structured data rsyslog parsed, SD-ID to parameters.
func (m received) sd(t *testing.T) map[string]map[string]string {
	var f struct {
		SD map[string]map[string]string `json:"rfc5424-sd"`
	}
	if err := json.Unmarshal([]byte(m.Fields), &f); err != nil {
		t.Fatalf("rsyslog's parsed structured data %q: %v", m.Fields, err)
	}
	return f.SD
}

func (r *rsyslog) seqs(t *testing.T) []int64 {
	var out []int64
	for _, m := range r.received() {
		seq, err := strconv.ParseInt(m.sd(t)["hrgate@32473"]["seq"], 10, 64)
		if err != nil {
			t.Fatalf("message without seq: %+v", m)
		}
		out = append(out, seq)
	}
	return out
}

// TestRsyslogOverTLS sends events to a real rsyslog over RFC 5425 TLS with
// a client certificate, checks that rsyslog parsed every header field and
// the structured data as sent, then stops rsyslog while events keep
// coming, starts it again, and checks that every event arrived.
func TestRsyslogOverTLS(t *testing.T) {
	p := newPKI(t, "hrgate-test-ca")
	serverCert, serverKey := p.issue(t, "collector", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := p.issue(t, "hrgate", x509.ExtKeyUsageClientAuth)
	rs := newRsyslog(t, p.CAFile, serverCert, serverKey)
	rs.start()

	store := newMemStore()
	cfg := syslogSink(config.SyslogTLS, net.JoinHostPort("127.0.0.1", strconv.Itoa(rs.port)))
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = p.CAFile, clientCert, clientKey
	cfg.Facility = "local4"
	s := mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify

	// Part 1: what rsyslog parsed.
	store.add(100)
	waitFor(t, "rsyslog to write 100 events", func() bool { return len(rs.received()) >= 100 })
	checkSeqs(t, rs.seqs(t), 100, true)
	for _, m := range rs.received() {
		seq, _ := strconv.ParseInt(m.sd(t)["hrgate@32473"]["seq"], 10, 64)
		e := store.event(seq)
		wantSD := map[string]string{}
		raw, _ := json.Marshal(e) // the MSG must decode to this
		for _, kv := range []struct{ k, v string }{
			{"seq", strconv.FormatInt(e.Seq, 10)}, {"type", e.Type}, {"instance", e.Instance},
			{"actor_kind", e.ActorKind}, {"credential_id", e.CredentialID}, {"consumer_id", e.ConsumerID},
			{"client_addr", e.ClientAddr}, {"method", e.Method}, {"route", e.Route},
			{"object", e.Object}, {"target", e.Target}, {"request_id", e.RequestID},
			{"hash", base64.StdEncoding.EncodeToString(e.Hash)},
		} {
			if kv.v != "" {
				wantSD[kv.k] = kv.v
			}
		}
		if e.Status != 0 {
			wantSD["status"] = strconv.Itoa(e.Status)
		}
		if e.Object != "" {
			wantSD["record_count"] = strconv.Itoa(len(e.RecordIDs))
		}
		sd := m.sd(t)
		if len(sd) != 1 || fmt.Sprint(sd["hrgate@32473"]) != fmt.Sprint(wantSD) {
			t.Fatalf("event %d: rsyslog parsed the structured data %s as\n%v\nwant\n%v", e.Seq, m.SD, sd, wantSD)
		}
		wantPri := 20*8 + 6
		if strings.HasSuffix(e.Type, ".failure") {
			wantPri = 20*8 + 4
		}
		if m.Pri != strconv.Itoa(wantPri) || m.MsgID != e.Type || m.Hostname != "hr-host-1" ||
			m.App != "hrgate" || m.ProcID != strconv.Itoa(os.Getpid()) {
			t.Fatalf("event %d: rsyslog parsed the header as %+v", e.Seq, m)
		}
		if ts, err := time.Parse(time.RFC3339Nano, m.Timestamp); err != nil || !ts.Equal(e.Time.Truncate(time.Microsecond)) {
			t.Fatalf("event %d: timestamp %q, want %v", e.Seq, m.Timestamp, e.Time)
		}
		var gotMsg, wantMsg any
		if err := json.Unmarshal([]byte(m.Msg), &gotMsg); err != nil {
			t.Fatalf("event %d: MSG %q is not JSON: %v", e.Seq, m.Msg, err)
		}
		_ = json.Unmarshal(raw, &wantMsg)
		if fmt.Sprint(gotMsg) != fmt.Sprint(wantMsg) {
			t.Fatalf("event %d: MSG\n%v\nwant\n%v", e.Seq, gotMsg, wantMsg)
		}
	}

	// Part 2: an outage while events keep coming.
	stopProducer := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopProducer:
				return
			case <-time.After(3 * time.Millisecond):
				store.add(1)
			}
		}
	}()
	waitFor(t, "events flowing before the outage", func() bool { return len(rs.received()) >= 150 })
	rs.stop()
	during := store.cursor("siem")
	time.Sleep(1500 * time.Millisecond) // events pile up while rsyslog is down
	rs.start()
	time.Sleep(300 * time.Millisecond)
	close(stopProducer)
	wg.Wait()
	store.mu.Lock()
	n := int64(len(store.events))
	store.mu.Unlock()
	waitFor(t, fmt.Sprintf("all %d events after the outage", n), func() bool {
		seqs := rs.seqs(t)
		return len(seqs) > 0 && seqs[len(seqs)-1] == n
	})
	checkSeqs(t, rs.seqs(t), n, true)
	if during >= n-50 {
		t.Fatalf("the outage did not hold events back (cursor %d of %d when rsyslog stopped)", during, n)
	}
	if st := s.Stats(); st[0].Failed == 0 {
		t.Fatal("no delivery failed while rsyslog was down")
	}
	t.Logf("%d events, %d messages received (repeats by at-least-once: %d)", n, len(rs.seqs(t)), int64(len(rs.seqs(t)))-n)
}

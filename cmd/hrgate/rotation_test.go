package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/pgtest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// rotationEnv is one data directory (and PostgreSQL schema) with the
// binary and environment to run hrgate on it.
type rotationEnv struct {
	bin     string
	dir     string
	dbFlags []string // --data-dir, and --database on PostgreSQL
	keysDSN string
	env     []string
}

func (e *rotationEnv) cmd(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, e.bin, append(args, e.dbFlags...)...)
	c.Env = append(append(append(append([]string{}, e.env...), unlimitedEnv...), extraEnv...), "HOME="+e.dir)
	return c
}

// hrgate runs one command to completion and returns its stdout, failing
// the test on a non-zero exit.
func (e *rotationEnv) hrgate(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	c := e.cmd(context.Background(), nil, args...)
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		t.Fatalf("hrgate %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

func (e *rotationEnv) pending(t *testing.T) (pending, total int) {
	t.Helper()
	var st struct {
		Pending  int `json:"pending_rewrap"`
		DataKeys int `json:"data_keys"`
	}
	if err := json.Unmarshal([]byte(e.hrgate(t, "keyring", "status", "--output", "json")), &st); err != nil {
		t.Fatal(err)
	}
	return st.Pending, st.DataKeys
}

// openKeyring opens the key store as another instance would: the test
// process seals and opens through it beside the server.
func (e *rotationEnv) openKeyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	mk, err := keyring.LoadMasterKey(filepath.Join(e.dir, "master.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := keyring.NewLocalProvider(mk.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := sqlstore.OpenKeyStore(context.Background(), e.keysDSN, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	k, err := keyring.Open(context.Background(), ks, p, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// server is a running `hrgate serve` process.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	log  *syncBuffer
}

// startServer starts hrgate serve on a free loopback port and waits until
// it serves.
func (e *rotationEnv) startServer(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	c := e.cmd(context.Background(), extraEnv, "serve", "--addr", "127.0.0.1:0", "--insecure-http", "--admin-addr", "", "--log-format", "json")
	s := &server{cmd: c, done: make(chan error, 1), log: &syncBuffer{}}
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.log.Write(append(line, '\n'))
			var rec struct{ Msg, URL string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "hrgate is serving" {
				urls <- rec.URL
			}
		}
		s.done <- c.Wait()
	}()
	select {
	case s.url = <-urls:
	case err := <-s.done:
		t.Fatalf("serve exited: %v\n%s", err, s.log.String())
	case <-time.After(60 * time.Second):
		_ = c.Process.Kill()
		t.Fatalf("serve did not start\n%s", s.log.String())
	}
	t.Cleanup(func() {
		_ = c.Process.Kill()
		<-s.done
	})
	return s
}

// TestRotationSurvivesACrash is the rotation acceptance test: rotate the
// KEK while employees are read over the API and data keys are created,
// SIGKILL the server mid-re-wrap, restart it, let it finish; every field
// still decrypts, no read failed, and the old KEK can be retired.
func TestRotationSurvivesACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs servers; skipped with -short")
	}
	bin := buildHrgate(t)
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		testRotationCrash(t, &rotationEnv{bin: bin, dir: dir, dbFlags: []string{"--data-dir", dir}, keysDSN: filepath.Join(dir, "keys.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Schema(t, pgtest.URL(t))
		dir := filepath.Join(t.TempDir(), "data")
		testRotationCrash(t, &rotationEnv{bin: bin, dir: dir, dbFlags: []string{"--data-dir", dir, "--database", dsn}, keysDSN: dsn})
	})
}

// Sizes of the rotation test: enough data keys that the re-wrap, at the
// capped rate, runs for seconds in small batches, so that the server is
// killed with part of it done.
const (
	rotationEmployees = 150 // per company, two companies
	rotationExtraKeys = 1500
	rotationBatch     = 20
	rotationRate      = 250 // data keys per second before the crash
)

func testRotationCrash(t *testing.T, e *rotationEnv) {
	ctx := context.Background()
	e.env = []string{"HRGATE_KEYRING__REWRAP_INTERVAL=1s", fmt.Sprintf("HRGATE_KEYRING__REWRAP_BATCH=%d", rotationBatch)}
	e.hrgate(t, "sandbox", "seed", "--companies", "2", "--employees", fmt.Sprint(rotationEmployees))
	e.hrgate(t, "consumers", "create", "auditor", "--scopes",
		"employees:read:identity,employment,contact,personal,compensation,banking,government_id companies:*")
	var key struct{ Key string }
	if err := json.Unmarshal([]byte(e.hrgate(t, "keys", "create", "--consumer", "auditor", "--test", "--output", "json")), &key); err != nil {
		t.Fatal(err)
	}

	// Data keys beyond the employees' (if the store encrypts fields, the
	// seed made one per employee already), sealed through the keyring as
	// the stores seal fields.
	writer := e.openKeyring(t)
	var (
		valuesMu sync.Mutex
		values   []sealed
	)
	seal := func(owner string) error {
		v, err := writer.Seal(ctx, owner, fieldOf(owner), []byte(owner))
		if err != nil {
			return fmt.Errorf("seal %s: %w", owner, err)
		}
		valuesMu.Lock()
		values = append(values, sealed{owner, v})
		valuesMu.Unlock()
		return nil
	}
	extra := make([]string, rotationExtraKeys)
	for i := range extra {
		extra[i] = fmt.Sprintf("rotation_%05d", i)
	}
	if err := writer.CreateDataKeys(ctx, extra); err != nil {
		t.Fatal(err)
	}
	for _, o := range extra {
		if err := seal(o); err != nil {
			t.Fatal(err)
		}
	}

	srv := e.startServer(t, fmt.Sprintf("HRGATE_KEYRING__REWRAP_RATE=%d", rotationRate))
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(base, path string) (int, []byte, error) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key.Key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}

	// What every employee reads as before the rotation, restricted
	// groups included.
	want := map[string]any{}
	var ids []string
	for cursor := ""; ; {
		path := "/v1/employees?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body, err := get(srv.url, path)
		if err != nil || status != 200 {
			t.Fatalf("list employees: %d %v %s", status, err, body)
		}
		var page struct {
			Data       []map[string]any `json:"data"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, emp := range page.Data {
			id := emp["id"].(string)
			status, body, err := get(srv.url, "/v1/employees/"+id)
			if err != nil || status != 200 {
				t.Fatalf("get %s: %d %v", id, status, err)
			}
			var one any
			if err := json.Unmarshal(body, &one); err != nil {
				t.Fatal(err)
			}
			want[id] = one
			ids = append(ids, id)
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	if len(ids) != 2*rotationEmployees {
		t.Fatalf("listed %d employees, want %d", len(ids), 2*rotationEmployees)
	}
	if emp := want[ids[0]].(map[string]any); emp["national_id"] == nil || emp["bank_account"] == nil || emp["compensation"] == nil {
		t.Fatalf("the auditor key does not read the restricted groups: %v", emp)
	}

	// Readers follow the current server. A transport error counts as a
	// failure unless the server was killed while the request was out.
	var (
		base      atomic.Pointer[string]
		gen       atomic.Int64
		stop      atomic.Bool
		reads     [2]atomic.Int64 // before the kill, after the restart
		phase     atomic.Int32
		failMu    sync.Mutex
		failures  []string
		cliWrites atomic.Int64
		wg        sync.WaitGroup
		writeErrs = make(chan error, 100)
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	base.Store(&srv.url)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !stop.Load(); i++ {
				b, g := base.Load(), gen.Load()
				if b == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				id := ids[i%len(ids)]
				status, body, err := get(*b, "/v1/employees/"+id)
				if err != nil {
					if gen.Load() == g {
						fail("GET %s: %v", id, err)
					}
					continue
				}
				var got any
				if status != 200 || json.Unmarshal(body, &got) != nil || !reflect.DeepEqual(got, want[id]) {
					fail("GET %s: status %d, body %.300s", id, status, body)
					continue
				}
				reads[phase.Load()].Add(1)
			}
		}()
	}
	// Writers: new data keys through another instance, and CLI commands
	// that open the keyring and write to the data store.
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := seal(fmt.Sprintf("written_%05d", i)); err != nil {
				writeErrs <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			name := fmt.Sprintf("writer-%d", i)
			for _, args := range [][]string{
				{"consumers", "create", name, "--scope", "employees:read:identity", "--scope", "companies:*"},
				{"keys", "create", "--consumer", name, "--test"},
			} {
				if out, err := e.cmd(ctx, nil, args...).CombinedOutput(); err != nil {
					writeErrs <- fmt.Errorf("hrgate %v: %v\n%s", args, err, out)
					return
				}
			}
			cliWrites.Add(1)
		}
	}()
	stopAll := func() {
		if stop.Swap(true) {
			return
		}
		wg.Wait()
		close(writeErrs)
	}
	defer stopAll()

	time.Sleep(300 * time.Millisecond) // reads and writes under way
	if out := e.hrgate(t, "keyring", "rotate"); !strings.Contains(out, "version 2") {
		t.Fatalf("rotate says: %s", out)
	}
	atRotation, _ := e.pending(t)

	// Kill the server once it has committed a few batches but is far
	// from done.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pending, total := e.pending(t)
		if pending > 0 && pending <= atRotation-3*rotationBatch {
			t.Logf("killing the server with %d of %d data keys pending (%d at the rotation)", pending, total, atRotation)
			break
		}
		if pending == 0 {
			t.Fatalf("the re-wrap finished before the test saw it under way (%d keys); lower rotationRate", total)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start re-wrapping: %d of %d pending\n%s", pending, total, srv.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	base.Store(nil)
	gen.Add(1)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	srv.done <- nil // for the cleanup
	pendingAtKill, _ := e.pending(t)
	if pendingAtKill == 0 {
		t.Fatal("nothing was left to re-wrap after the kill")
	}

	// Restart without the rate cap; it finishes what is left.
	phase.Store(1)
	srv2 := e.startServer(t)
	base.Store(&srv2.url)
	deadline = time.Now().Add(2 * time.Minute)
	for {
		pending, total := e.pending(t)
		if pending == 0 {
			t.Logf("the restarted server finished the re-wrap: %d data keys", total)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server left %d of %d pending\n%s", pending, total, srv2.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for reads[1].Load() < int64(len(ids)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // reads after the restart, too
	}
	stopAll()
	for err := range writeErrs {
		t.Error(err)
	}
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d reads before the kill, %d after the restart; %d values sealed; %d consumers and keys created by the CLI",
		reads[0].Load(), reads[1].Load(), len(values), cliWrites.Load())
	if reads[0].Load() == 0 || reads[1].Load() < int64(len(ids)) || cliWrites.Load() == 0 {
		t.Error("too few reads or writes happened during the rotation")
	}
	if strings.Contains(srv.log.String()+srv2.log.String(), `"level":"ERROR"`) {
		t.Errorf("the servers logged errors:\n%s\n%s", srv.log.String(), srv2.log.String())
	}

	// The old KEK is used by nothing now: retire it, restart so that no
	// data key is cached, and read everything again.
	e.hrgate(t, "keyring", "retire", "1")
	if err := srv2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-srv2.done; err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	srv2.done <- nil
	srv3 := e.startServer(t)
	for _, id := range ids {
		status, body, err := get(srv3.url, "/v1/employees/"+id)
		var got any
		if err != nil || status != 200 || json.Unmarshal(body, &got) != nil || !reflect.DeepEqual(got, want[id]) {
			t.Fatalf("GET %s after retiring the old KEK: %d %v %.300s", id, status, err, body)
		}
	}
	fresh := e.openKeyring(t)
	for _, v := range values {
		got, err := fresh.Open(ctx, v.owner, fieldOf(v.owner), v.value)
		if err != nil || string(got) != v.owner {
			t.Fatalf("Open %s after the rotation = %q, %v", v.owner, got, err)
		}
	}
	st := keyringStatusOf(t, e)
	if st.ActiveKEK != 2 || st.Pending != 0 {
		t.Fatalf("final status: %+v", st)
	}
	for _, k := range st.Keys {
		if k.Purpose == hrgate.PurposeKEK && k.Version == 1 && (k.State != hrgate.KeyRetired || k.DataKeys != 0) {
			t.Fatalf("version 1 at the end: %+v", k)
		}
	}
}

func keyringStatusOf(t *testing.T, e *rotationEnv) *keyring.Status {
	t.Helper()
	var st keyring.Status
	if err := json.Unmarshal([]byte(e.hrgate(t, "keyring", "status", "--output", "json")), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

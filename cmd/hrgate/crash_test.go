package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hrgate/hrgate/internal/pgtest"
)

// buildHrgate builds the hrgate binary into a temporary directory.
func buildHrgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hrgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is an hrgate binary serving on plain HTTP over loopback.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	url    string
	exited chan error
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr=", "--insecure-http", "--log-format", "json"}, args...)
	p := &process{cmd: exec.Command(bin, all...), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(append(os.Environ(), unlimitedEnv...), "HRGATE_LOG__LEVEL=info")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	deadline := time.Now().Add(time.Minute)
	for p.url == "" {
		select {
		case err := <-p.exited:
			t.Fatalf("hrgate exited (%v): %s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hrgate did not start: %s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
		p.url, _ = servingURLs(strings.NewReader(p.stderr.String()))
	}
	return p
}

// TestCrashLosesNoAnsweredRequest is the acceptance test of the trail's
// durability: under concurrent load the server is killed with SIGKILL;
// after a restart the trail verifies and holds an event for every request
// the client saw answered. Nothing here depends on how fast the machine
// is: the load runs until a number of answers has come back.
func TestCrashLosesNoAnsweredRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it under load")
	}
	bin := buildHrgate(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			flags := []string{"--data-dir", filepath.Join(t.TempDir(), "data")}
			if db == "postgres" {
				flags = append(flags, "--database", pgtest.Schema(t, pgtest.URL(t)))
			}
			mustRun := func(args ...string) string {
				t.Helper()
				code, out, errOut := run(t, nil, append(args, flags...)...)
				if code != 0 {
					t.Fatalf("hrgate %v: exit %d: %s", args, code, errOut)
				}
				return out
			}
			mustRun("sandbox", "seed", "--companies", "1", "--employees", "30")
			mustRun("consumers", "create", "payroll", "--scopes", "employees:read:identity,employment companies:*")
			var k struct{ Key string }
			if err := json.Unmarshal([]byte(mustRun("keys", "create", "--consumer", "payroll", "--test", "--output", "json")), &k); err != nil {
				t.Fatal(err)
			}

			p := startProcess(t, bin, flags...)
			answered := drive(t, p, k.Key, 2000)
			if err := <-p.exited; err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("hrgate was not killed: %v", err)
			}
			t.Logf("%d requests answered before SIGKILL", len(answered))

			// Restart, stop gracefully, then check the trail.
			again := startProcess(t, bin, flags...)
			if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := <-again.exited; err != nil {
				t.Fatalf("restarted hrgate: %v: %s", err, again.stderr.String())
			}
			if out := mustRun("audit", "verify"); !strings.HasPrefix(out, "OK:") {
				t.Fatalf("verify after the crash: %s", out)
			}
			recorded := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(mustRun("audit", "export", "--format", "jsonl")), "\n") {
				var ev struct {
					RequestID string `json:"request_id"`
					Type      string
				}
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("export line %q: %v", line, err)
				}
				recorded[ev.RequestID] = true
				recorded[ev.Type] = true
			}
			var missing []string
			for _, id := range answered {
				if !recorded[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				t.Fatalf("%d of %d answered requests have no event, e.g. %s", len(missing), len(answered), missing[0])
			}
			if !recorded["server.stop"] {
				t.Fatal("the graceful stop after the restart was not recorded")
			}
		})
	}
}

// drive reads employees with 16 concurrent clients until at least n
// requests were answered, kills the server with SIGKILL while the clients
// keep going, and returns the request ids of every answer the clients
// received in full.
func drive(t *testing.T, p *process, key string, n int) []string {
	t.Helper()
	var (
		mu       sync.Mutex
		answered []string
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	paths := []string{"/v1/employees?limit=5", "/v1/employees?limit=1", "/v1/companies"}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, p.url+paths[(w+i)%len(paths)], nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == http.StatusOK {
					mu.Lock()
					answered = append(answered, resp.Header.Get("X-Request-Id"))
					mu.Unlock()
				} else if err == nil {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		mu.Lock()
		got := len(answered)
		mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("only %d answers: %s", got, p.stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Let the clients run into the dead server for a moment, so that
	// answers in flight at the kill are counted if they arrived.
	for range 3 {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(answered) < n {
		t.Fatalf("%d answers", len(answered))
	}
	return answered
}

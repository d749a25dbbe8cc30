package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/pgtest"
	"github.com/hrgate/hrgate/sqlstore"
)

// hookReceiver verifies every delivery with the official Standard
// Webhooks library and counts them by webhook-id and by event.
type hookReceiver struct {
	t     *testing.T
	srv   *httptest.Server
	delay time.Duration

	mu      sync.Mutex
	wh      *standardwebhooks.Webhook
	byID    map[string]int
	byEvent map[string]int
	bodies  []string
}

func newHookReceiver(t *testing.T, delay time.Duration) *hookReceiver {
	r := &hookReceiver{t: t, delay: delay, byID: map[string]int{}, byEvent: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		r.mu.Lock()
		wh := r.wh
		r.mu.Unlock()
		if wh == nil || wh.Verify(body, req.Header) != nil {
			t.Errorf("a delivery does not verify with the official library: %s", req.Header.Get("webhook-id"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct{ ID string }
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
			t.Errorf("delivery body: %v", err)
		}
		time.Sleep(r.delay)
		r.mu.Lock()
		r.byID[req.Header.Get("webhook-id")]++
		r.byEvent[ev.ID]++
		r.bodies = append(r.bodies, string(body))
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) setSecret(s string) {
	wh, err := standardwebhooks.NewWebhook(s)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.wh = wh
	r.mu.Unlock()
}

func (r *hookReceiver) events() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byEvent)
}

// webhookSetup seeds a company, a CSV source, a consumer and an endpoint
// at the receiver, through the command line, and returns the company id.
func webhookSetup(t *testing.T, mustRun func(args ...string) string, dsn string, r *hookReceiver, scopes string) {
	t.Helper()
	mustRun("sandbox", "seed", "--companies", "1", "--employees", "1")
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := db.FindCompanies(context.Background(), hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
	db.Close()
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	mustRun("sources", "create", "people", "--company", cs[0].ID, "--type", "csv")
	mustRun("consumers", "create", "payroll", "--scopes", scopes)
	var created struct{ ID, Secret string }
	out := mustRun("webhooks", "create", "--consumer", "payroll", "--url", r.srv.URL+"/hooks", "--events", "employee.created,employee.updated",
		"--allow-http", "--output", "json")
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Secret, "whsec_") || !hrgate.ValidID(hrgate.PrefixWebhookEndpoint, created.ID) {
		t.Fatalf("webhooks create: %q (%v)", out, err)
	}
	r.setSecret(created.Secret)
}

// TestWebhooksSurviveSIGKILL is the acceptance test of at-least-once
// delivery: 1,000 change events are queued by a CSV import, the server is
// killed with SIGKILL while it delivers them, and after a restart every
// event has been delivered at least once, each delivery verified with the
// official library.
// loopbackEnv lets the commands of a test register endpoints on the
// loopback receivers of the tests (webhooks.allowed_networks).
var loopbackEnv = []string{"HRGATE_WEBHOOKS__ALLOWED_NETWORKS=127.0.0.0/8,::1/128"}

// TestWebhooksRefuseLoopbackByDefault: without webhooks.allowed_networks,
// an endpoint on a loopback, private or link-local address is refused
// when it is registered, naming the setting, and nothing is created.
func TestWebhooksRefuseLoopbackByDefault(t *testing.T) {
	_, flag, _ := newDataDir(t)
	mustRun := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, nil, append(args, flag...)...)
		if code != 0 {
			t.Fatalf("hrgate %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity companies:*")
	for _, u := range []string{"https://127.0.0.1/hooks", "https://10.0.0.1/hooks", "https://[::1]/hooks",
		"https://169.254.169.254/latest/meta-data", "https://[::ffff:127.0.0.1]/hooks"} {
		code, _, errOut := run(t, nil, append([]string{"webhooks", "create", "--consumer", "payroll", "--url", u,
			"--events", "employee.created"}, flag...)...)
		if code != 2 || !strings.Contains(errOut, "webhooks.allowed_networks") {
			t.Errorf("%s: exit %d, %q; want 2 naming webhooks.allowed_networks", u, code, errOut)
		}
	}
	if out := mustRun(t, "webhooks", "list", "--output", "json"); strings.Contains(out, "whe_") {
		t.Errorf("a refused endpoint was created: %s", out)
	}
}

func TestWebhooksSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	bin := buildHrgate(t)
	// Leases of the killed process run out after 2×timeout+5s.
	t.Setenv("HRGATE_WEBHOOKS__TIMEOUT", "1s")
	t.Setenv("HRGATE_WEBHOOKS__ALLOWED_NETWORKS", "127.0.0.0/8")
	t.Setenv("HRGATE_WEBHOOKS__POLL_INTERVAL", "100ms")
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			flags := []string{"--data-dir", dir}
			dsn := filepath.Join(dir, "hrgate.db")
			if db == "postgres" {
				dsn = pgtest.Schema(t, pgtest.URL(t))
				flags = append(flags, "--database", dsn)
			}
			mustRun := func(args ...string) string {
				t.Helper()
				code, out, errOut := run(t, loopbackEnv, append(args, flags...)...)
				if code != 0 {
					t.Fatalf("hrgate %v: exit %d: %s", args, code, errOut)
				}
				return out
			}
			r := newHookReceiver(t, 2*time.Millisecond)
			webhookSetup(t, mustRun, dsn, r, "employees:read:identity companies:*")

			const n = 1000
			var csv strings.Builder
			csv.WriteString("remote_id,first_name,last_name\n")
			for i := range n {
				fmt.Fprintf(&csv, "r%d,Ada%d,Lovelace\n", i, i)
			}
			file := filepath.Join(t.TempDir(), "people.csv")
			writeFile(t, file, csv.String())
			if out := mustRun("sources", "import", "people", file); !strings.Contains(out, fmt.Sprintf("%d created", n)) {
				t.Fatalf("import: %s", out)
			}

			p := startProcess(t, bin, flags...)
			deadline := time.Now().Add(2 * time.Minute)
			for r.events() < 50 {
				if time.Now().After(deadline) {
					t.Fatalf("only %d events delivered: %s", r.events(), p.stderr.String())
				}
				time.Sleep(time.Millisecond)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-p.exited
			killedAt := r.events()
			if killedAt >= n {
				t.Fatalf("all %d events were delivered before the kill; the test proves nothing", n)
			}
			t.Logf("%d of %d events delivered before SIGKILL", killedAt, n)

			again := startProcess(t, bin, flags...)
			deadline = time.Now().Add(3 * time.Minute)
			for r.events() < n {
				if time.Now().After(deadline) {
					t.Fatalf("after the restart only %d of %d events were delivered: %s", r.events(), n, again.stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The deliveries the killed process had in flight are
			// attempted again once their leases run out: wait for
			// them, so that the outbox is drained before the stop.
			var pending []json.RawMessage
			deadline = time.Now().Add(time.Minute)
			for {
				if err := json.Unmarshal([]byte(mustRun("webhooks", "deliveries", "--status", "pending", "--output", "json")), &pending); err != nil {
					t.Fatal(err)
				}
				if len(pending) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d deliveries still pending a minute after the restart", len(pending))
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := <-again.exited; err != nil {
				t.Fatalf("restarted hrgate: %v: %s", err, again.stderr.String())
			}
			r.mu.Lock()
			dups := 0
			for _, c := range r.byID {
				dups += c - 1
			}
			if len(r.byID) != n {
				t.Errorf("%d webhook-ids for %d events", len(r.byID), n)
			}
			r.mu.Unlock()
			t.Logf("%d deliveries were repeated after the crash (at least once allows it)", dups)
			var succeeded []json.RawMessage
			if err := json.Unmarshal([]byte(mustRun("webhooks", "deliveries", "--status", "succeeded", "--limit", "1000", "--output", "json")), &succeeded); err != nil ||
				len(succeeded) != n {
				t.Fatalf("%d deliveries succeeded (%v), want %d", len(succeeded), err, n)
			}
		})
	}
}

// TestWebhooksCommands: the command line creates an endpoint with its
// secret shown once, lists, shows, disables and enables it, rotates its
// secret, lists deliveries and replays an event as a new delivery; bad
// input exits 2 with a message that names the problem.
func TestWebhooksCommands(t *testing.T) {
	dir, flag, _ := newDataDir(t)
	mustRun := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, loopbackEnv, append(args, flag...)...)
		if code != 0 {
			t.Fatalf("hrgate %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	r := newHookReceiver(t, 0)
	webhookSetup(t, func(args ...string) string { return mustRun(t, args...) }, filepath.Join(dir, "hrgate.db"), r,
		"employees:read:identity companies:*")
	var list []struct {
		ID, URL    string
		Enabled    bool
		EventTypes []string `json:"event_types"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "webhooks", "list", "--consumer", "payroll", "--output", "json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	id := list[0].ID
	if !list[0].Enabled || len(list[0].EventTypes) != 2 {
		t.Errorf("listed %+v", list[0])
	}
	if out := mustRun(t, "webhooks", "show", id); strings.Contains(out, "whsec_") {
		t.Error("show prints a secret")
	}
	if out := mustRun(t, "webhooks", "disable", id, "--reason", "maintenance", "--output", "json"); !strings.Contains(out, `"enabled": false`) ||
		!strings.Contains(out, "maintenance") {
		t.Errorf("disable: %s", out)
	}
	if out := mustRun(t, "webhooks", "enable", id, "--output", "json"); !strings.Contains(out, `"enabled": true`) {
		t.Errorf("enable: %s", out)
	}
	var rot struct {
		Secret       string
		OverlapUntil time.Time `json:"overlap_until"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "webhooks", "rotate-secret", id, "--output", "json")), &rot); err != nil || !strings.HasPrefix(rot.Secret, "whsec_") ||
		time.Until(rot.OverlapUntil) < 23*time.Hour {
		t.Errorf("rotate-secret: %+v %v", rot, err)
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"ErrUnknownEvent", []string{"webhooks", "create", "--consumer", "payroll", "--url", "https://x.example/h", "--events", "employee.fired"}, `Unknown event type "employee.fired"`},
		{"ErrPlainHTTP", []string{"webhooks", "create", "--consumer", "payroll", "--url", "http://x.example/h", "--events", "employee.created"}, "--allow-http"},
		{"ErrUnknownConsumer", []string{"webhooks", "create", "--consumer", "nobody", "--url", "https://x.example/h", "--events", "employee.created"}, "not found"},
		{"ErrNoTimeOffRead", []string{"webhooks", "create", "--consumer", "payroll", "--url", "https://x.example/h", "--events", "time_off.created"}, "time_off:read"},
		{"ErrNoEvents", []string{"webhooks", "create", "--consumer", "payroll", "--url", "https://x.example/h"}, "--events is required"},
		{"ErrReplayBoth", []string{"webhooks", "replay", "evt_x", "--since", "2026-01-01T00:00:00Z"}, "not both"},
		{"ErrShowUnknown", []string{"webhooks", "show", "whe_nope"}, "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := run(t, nil, append(c.args, flag...)...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, c.want)
			}
		})
	}

	// Deliver one event through a server, then replay it.
	bin := buildHrgate(t)
	t.Setenv("HRGATE_WEBHOOKS__POLL_INTERVAL", "50ms")
	t.Setenv("HRGATE_WEBHOOKS__ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
	file := filepath.Join(t.TempDir(), "one.csv")
	writeFile(t, file, "remote_id,first_name,last_name\nr1,Ada,Lovelace\n")
	mustRun(t, "sources", "import", "people", file)
	r.setSecret(rot.Secret) // the new secret signs alongside the old one
	p := startProcess(t, bin, flag...)
	waitFor(t, func() bool { return r.events() == 1 })
	var ds []struct {
		ID, Status string
		EventID    string `json:"event_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "webhooks", "deliveries", "--endpoint", id, "--output", "json")), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v %v", ds, err)
	}
	waitFor(t, func() bool {
		out := mustRun(t, "webhooks", "deliveries", ds[0].ID, "--output", "json")
		return strings.Contains(out, `"status": "succeeded"`) && strings.Contains(out, `"attempt_history"`)
	})
	var replayed struct{ Queued int }
	if err := json.Unmarshal([]byte(mustRun(t, "webhooks", "replay", ds[0].EventID, "--output", "json")), &replayed); err != nil || replayed.Queued != 1 {
		t.Fatalf("replay: %+v %v", replayed, err)
	}
	waitFor(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.byID) == 2 && r.byEvent[ds[0].EventID] == 2
	})
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

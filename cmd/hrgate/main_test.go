package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	main "github.com/hrgate/hrgate/cmd/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine writing while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDataDir returns a data directory that hrgate creates on first use,
// the --data-dir flag naming it, and a function that runs hrgate with that
// flag and fails the test unless the command succeeds.
func newDataDir(t *testing.T) (dir string, flag []string, mustRun func(t *testing.T, args ...string) string) {
	dir = filepath.Join(t.TempDir(), "data")
	flag = []string{"--data-dir", dir}
	mustRun = func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errOut := run(t, nil, append(args, flag...)...)
		if code != 0 {
			t.Fatalf("hrgate %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	return dir, flag, mustRun
}

// run executes one command line and returns exit code, stdout, stderr.
func run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := main.Run(context.Background(), args, &out, &errOut, env)
	return code, out.String(), errOut.String()
}

// demo is a running `hrgate demo`.
type demo struct {
	url, cert        string
	payroll, planner string
	stop             func() int
}

func startDemo(t *testing.T, dataDir string) *demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- main.Run(ctx, []string{"demo", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json"}, out, errOut, nil)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Try it:") {
		select {
		case code := <-done:
			t.Fatalf("demo exited with %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("demo did not start\nstdout: %s\nstderr: %s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := out.String()
	d := &demo{
		url:  regexp.MustCompile(`serving (https://\S+)`).FindStringSubmatch(text)[1],
		cert: regexp.MustCompile(`--cacert (\S+)`).FindStringSubmatch(text)[1],
	}
	keys := regexp.MustCompile(`key: (hrg_test_\w+)`).FindAllStringSubmatch(text, -1)
	if len(keys) != 2 {
		t.Fatalf("demo printed %d keys:\n%s", len(keys), text)
	}
	d.payroll, d.planner = keys[0][1], keys[1][1]
	var once sync.Once
	code := 0
	d.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { d.stop() })
	return d
}

func (d *demo) get(t *testing.T, key, path string) (int, map[string]any) {
	t.Helper()
	pem, err := os.ReadFile(d.cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodGet, d.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := startDemo(t, dir)

	status, list := d.get(t, d.payroll, "/v1/employees?limit=200")
	if status != 200 {
		t.Fatalf("payroll: %d", status)
	}
	for _, it := range list["data"].([]any) {
		emp := it.(map[string]any)
		if _, ok := emp["national_id"]; ok {
			t.Fatal("payroll reads national_id")
		}
		if _, ok := emp["compensation"]; !ok {
			t.Fatal("payroll cannot read compensation")
		}
	}
	status, list = d.get(t, d.planner, "/v1/employees?limit=200")
	if status != 200 {
		t.Fatalf("planner: %d", status)
	}
	companies := map[any]bool{}
	for _, it := range list["data"].([]any) {
		emp := it.(map[string]any)
		companies[emp["company_id"]] = true
		for _, f := range []string{"job_title", "compensation", "bank_account", "personal_email"} {
			if _, ok := emp[f]; ok {
				t.Fatalf("planner reads %s", f)
			}
		}
	}
	if len(companies) != 1 {
		t.Fatalf("planner sees %d companies, want 1", len(companies))
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("demo exit code %d after SIGTERM-like cancel", code)
	}

	// A second run reuses the sandbox and retires the first run's keys.
	d2 := startDemo(t, dir)
	if status, _ := d2.get(t, d.payroll, "/v1/employees?limit=1"); status != 401 {
		t.Fatalf("old demo key still works: %d", status)
	}
	if status, _ := d2.get(t, d2.payroll, "/v1/employees?limit=1"); status != 200 {
		t.Fatalf("new demo key: %d", status)
	}
	d2.stop()

	// The demo leaves consumers it did not create alone.
	other := filepath.Join(t.TempDir(), "other")
	if code, _, errOut := run(t, nil, "consumers", "create", "payroll", "--scope", "companies:*", "--data-dir", other); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := run(t, nil, "demo", "--data-dir", other, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"); code == 0 || !strings.Contains(errOut, "did not create") {
		t.Fatalf("demo took over a real consumer: exit %d %s", code, errOut)
	}
	if _, out, _ := run(t, nil, "consumers", "show", "payroll", "--data-dir", other); !strings.Contains(out, "grant:       companies:*") {
		t.Fatalf("the real consumer's grant changed: %s", out)
	}
	// The refusal comes before anything is written: no sandbox either.
	odb, err := sqlstore.Open(context.Background(), filepath.Join(other, "hrgate.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer odb.Close()
	if n, err := odb.CountEmployees(context.Background(), hrgate.AllCompanies); err != nil || n != 0 {
		t.Fatalf("the refused demo seeded %d employees (%v)", n, err)
	}

	code, out, _ := run(t, nil, "consumers", "list", "--data-dir", dir, "--output", "json")
	var cs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &cs) != nil || len(cs) != 2 {
		t.Fatalf("consumers after two demo runs: %d %s", code, out)
	}
}

func TestCLI(t *testing.T) {
	dir, dd, mustRun := newDataDir(t) // hrgate creates dir
	mustRun(t, "sandbox", "seed", "--companies", "2", "--employees", "20")

	t.Run("SeedTwiceLeavesNothingBehind", func(t *testing.T) {
		code, _, errOut := run(t, nil, append([]string{"sandbox", "seed", "--companies", "3", "--employees", "20"}, dd...)...)
		if code == 0 || !strings.Contains(errOut, "already seeded") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		// Nothing of the failed run may remain. (The run fails on its first
		// company; that a failure on a later batch also leaves nothing is
		// proven by sqlstore's TestImport.)
		db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "hrgate.db"), sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		companies, err := db.FindCompanies(context.Background(), hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
		if err != nil || len(companies) != 2 {
			t.Fatalf("%d companies after a failed seed (want 2): %v", len(companies), err)
		}
		if n, err := db.CountEmployees(context.Background(), hrgate.AllCompanies); err != nil || n != 40 {
			t.Fatalf("%d employees after a failed seed (want 40): %v", n, err)
		}
	})

	t.Run("ConsumerAndKeys", func(t *testing.T) {
		out := mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity,compensation companies:*", "--output", "json")
		var c map[string]any
		if err := json.Unmarshal([]byte(out), &c); err != nil || !strings.HasPrefix(c["id"].(string), "con_") {
			t.Fatalf("consumer json: %s", out)
		}
		out = mustRun(t, "keys", "create", "--consumer", "payroll", "--output", "json")
		var k struct{ ID, Key string }
		if err := json.Unmarshal([]byte(out), &k); err != nil || !strings.HasPrefix(k.Key, "hrg_live_") || !strings.HasPrefix(k.ID, "key_") {
			t.Fatalf("key json: %s", out)
		}
		list := mustRun(t, "keys", "list", "--output", "json")
		if strings.Contains(list, k.Key) || !strings.Contains(list, k.ID) {
			t.Fatalf("keys list leaks the secret or misses the key: %s", list)
		}
		test := mustRun(t, "keys", "create", "--consumer", "payroll", "--test", "--scope", "employees:read:identity", "--scope", "companies:*", "--output", "json")
		if !strings.Contains(test, "hrg_test_") {
			t.Fatalf("--test key: %s", test)
		}
		mustRun(t, "keys", "revoke", k.ID)
		list = mustRun(t, "keys", "list")
		if !strings.Contains(list, "revoked") {
			t.Fatalf("revoked key not shown as revoked:\n%s", list)
		}
		mustRun(t, "consumers", "grant", "payroll", "--scopes", "employees:read:identity companies:acme")
		if out := mustRun(t, "consumers", "show", "payroll"); !strings.Contains(out, "companies:acme employees:read:identity") {
			t.Fatalf("grant not changed: %s", out)
		}
		mustRun(t, "consumers", "delete", "payroll")
		if code, _, _ := run(t, nil, append([]string{"consumers", "show", "payroll"}, dd...)...); code != 2 {
			t.Fatalf("deleted consumer still shown (exit %d)", code)
		}
	})

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"BadScopeNamesToken", nil, []string{"consumers", "create", "x", "--scopes", "employees:read:salary companies:*"}, `"salary"`},
		{"NoGroups", nil, []string{"consumers", "create", "x", "--scopes", "employees:read"}, "field groups"},
		{"BadConsumerName", nil, []string{"consumers", "create", "Pay Roll!", "--scope", "companies:*"}, "Invalid consumer name"},
		{"KeyOutsideGrant", nil, []string{"keys", "create", "--consumer", "narrow", "--scopes", "employees:read:banking companies:*"}, "not within the grant"},
		{"UnknownConsumer", nil, []string{"keys", "create", "--consumer", "ghost"}, "not found"},
		{"MissingConsumerFlag", nil, []string{"keys", "create"}, "--consumer is required"},
		{"BadKeyID", nil, []string{"keys", "revoke", "nope"}, "Invalid key id"},
		{"MissingArgument", nil, []string{"keys", "revoke"}, "accepts 1 arg(s), received 0"},
		{"UnknownFlag", nil, []string{"keys", "list", "--colour"}, "unknown flag: --colour"},
		{"BadOutput", nil, []string{"consumers", "list", "--output", "xml"}, "--output must be text or json"},
		{"BadEnv", []string{"HRGATE_HTTP__ADDR=nowhere"}, []string{"serve", "--print-config"}, "http.addr"},
		{"BadFlag", nil, []string{"serve", "--print-config", "--addr", "x:99999"}, "http.addr"},
		{"BadSeed", nil, []string{"sandbox", "seed", "--companies", "0"}, "companies must be between 1 and 50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "KeyOutsideGrant" {
				mustRun(t, "consumers", "create", "narrow", "--scopes", "employees:read:identity companies:*")
			}
			code, _, errOut := run(t, tc.env, append(tc.args, dd...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q, want exit 2 and a mention of %q", code, errOut, tc.want)
			}
			if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "sql") {
				t.Fatalf("error reveals internals: %s", errOut)
			}
		})
	}

	t.Run("PrintConfigRedacts", func(t *testing.T) {
		code, out, errOut := run(t, []string{"HRGATE_DATABASE=postgres://hr:TopSecret99@db:5432/hr"}, "serve", "--print-config")
		if code != 0 || strings.Contains(out, "TopSecret99") || !strings.Contains(out, "db:5432") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("MigrateIsIdempotent", func(t *testing.T) {
		if out := mustRun(t, "migrate"); !strings.Contains(out, "Applied 0 migration") {
			t.Fatalf("migrate on a migrated database: %s", out)
		}
	})

	t.Run("FilesArePrivate", func(t *testing.T) {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Fatalf("data dir mode %v", st.Mode())
		}
		db, err := os.Stat(filepath.Join(dir, "hrgate.db"))
		if err != nil || db.Mode().Perm() != 0o600 {
			t.Fatalf("database mode %v %v", db.Mode(), err)
		}
	})
}

package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	main "github.com/hrgate/hrgate/cmd/hrgate"
)

// running is an hrgate command serving in the background.
type running struct {
	out, errOut *syncBuffer
	stop        func() int
}

// start runs hrgate with args until the test ends, once marker has
// appeared on its standard output or error.
func start(t *testing.T, env []string, marker string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &syncBuffer{}, errOut: &syncBuffer{}}
	done := make(chan int, 1)
	go func() { done <- main.Run(ctx, args, r.out, r.errOut, env) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(r.out.String()+r.errOut.String(), marker) {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("hrgate %v exited with %d\nstdout: %s\nstderr: %s", args, code, r.out.String(), r.errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("hrgate %v did not start\nstdout: %s\nstderr: %s", args, r.out.String(), r.errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped, code := false, 0
	r.stop = func() int {
		if !stopped {
			cancel()
			code, stopped = <-done, true
		}
		return code
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// adminGet calls the admin API at url with token, trusting cert.
func adminGet(t *testing.T, cert, url, token string) int {
	t.Helper()
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// noFileHolds fails the test when a file under dir holds one of secrets
// in the clear.
func noFileHolds(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the secret %.14s… in the clear", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The admin token is issued by `hrgate admin token`, shown once and kept
// nowhere but as a sealed hash; a token file an earlier hrgate wrote is
// moved into the database at start and keeps working until replaced.
func TestAdminTokenCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	legacy := hrgate.AdminTokenPrefix + strings.Repeat("L", 43)
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(legacy+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every request reads the credential epoch, so a new token takes
	// effect on the running server at once.
	env := []string{"HRGATE_AUTH__CREDENTIAL_REFRESH=0"}
	srv := start(t, env, "admin API is serving",
		"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json")
	admin := regexp.MustCompile(`"msg":"admin API is serving","url":"([^"]+)"`).FindStringSubmatch(srv.errOut.String())
	if admin == nil {
		t.Fatalf("no admin URL in the log:\n%s", srv.errOut.String())
	}
	keys, cert := admin[1]+"/admin/v1/keys", filepath.Join(dir, "tls", "cert.pem")
	if _, err := os.Stat(filepath.Join(dir, "admin-token")); !os.IsNotExist(err) {
		t.Fatalf("the legacy token file is still there: %v", err)
	}
	if code := adminGet(t, cert, keys, legacy); code != 200 {
		t.Fatalf("the imported legacy token: %d", code)
	}

	code, out, errOut := run(t, env, "admin", "token", "--data-dir", dir, "--output", "json")
	var issued struct{ Token string }
	if code != 0 || json.Unmarshal([]byte(out), &issued) != nil || !hrgate.AdminTokenPattern.MatchString(issued.Token) {
		t.Fatalf("admin token: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, issued.Token) {
		t.Fatal("the token reached the log")
	}
	if code := adminGet(t, cert, keys, legacy); code != 401 {
		t.Fatalf("the replaced token: %d", code)
	}
	if code := adminGet(t, cert, keys, issued.Token); code != 200 {
		t.Fatalf("the new token: %d", code)
	}
	srv.stop()
	if strings.Contains(srv.errOut.String(), issued.Token) || strings.Contains(srv.errOut.String(), legacy) {
		t.Fatal("a token reached the server log")
	}
	noFileHolds(t, dir, legacy, issued.Token)

	// With a token file of the operator's own, hrgate issues none.
	own := filepath.Join(t.TempDir(), "token")
	code, _, errOut = run(t, append(env, "HRGATE_ADMIN__TOKEN_FILE="+own), "admin", "token", "--data-dir", dir)
	if code != 2 || !strings.Contains(errOut, "admin.token_file is set") {
		t.Fatalf("admin token with admin.token_file: exit %d %s", code, errOut)
	}
}

// The demo prints a curl line for the admin API that works as printed.
func TestDemoAdminCurl(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := start(t, nil, "/admin/v1/keys'",
		"demo", "--data-dir", dir, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json")
	m := regexp.MustCompile(`curl --cacert (\S+) -H "Authorization: Bearer (hrg_admin_\S+)" '(\S+/admin/v1/keys)'`).
		FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("no admin curl line in:\n%s", d.out.String())
	}
	if code := adminGet(t, m[1], m[3], m[2]); code != 200 {
		t.Fatalf("the demo's admin curl: %d", code)
	}
	d.stop()
	noFileHolds(t, dir, m[2])
}

// A token file the operator names in admin.token_file is theirs, even at
// the path where an earlier hrgate wrote its own: it is read and left in
// place.
func TestAdminOwnTokenFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "admin-token")
	own := hrgate.AdminTokenPrefix + strings.Repeat("W", 43)
	if err := os.WriteFile(path, []byte(own+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := start(t, []string{"HRGATE_ADMIN__TOKEN_FILE=" + path}, "admin API is serving",
		"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "json")
	admin := regexp.MustCompile(`"msg":"admin API is serving","url":"([^"]+)"`).FindStringSubmatch(srv.errOut.String())
	if admin == nil {
		t.Fatalf("no admin URL in the log:\n%s", srv.errOut.String())
	}
	if code := adminGet(t, filepath.Join(dir, "tls", "cert.pem"), admin[1]+"/admin/v1/keys", own); code != 200 {
		t.Fatalf("the operator's token: %d", code)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the operator's token file: %v", err)
	}
}

// API keys and OAuth client secrets are kept as hashes only: nothing in
// the data directory holds one in the clear.
func TestCredentialsNotAtRest(t *testing.T) {
	dir, _, mustRun := newDataDir(t)
	mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity companies:*")
	var key struct{ Key string }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "create", "--consumer", "payroll", "--output", "json")), &key); err != nil || key.Key == "" {
		t.Fatalf("keys create: %v", err)
	}
	var client struct {
		Secret string `json:"client_secret"`
	}
	out := mustRun(t, "clients", "create", "--consumer", "payroll", "--scopes", "companies:*", "--output", "json")
	if err := json.Unmarshal([]byte(out), &client); err != nil || client.Secret == "" {
		t.Fatalf("clients create: %v %s", err, out)
	}
	noFileHolds(t, dir, key.Key, client.Secret)
}

package main_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/sqlstore"
)

// git runs git in dir with its own identity and no user or system
// configuration.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	args = append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// scanReport is the JSON output of keys scan.
type scanReport struct {
	Findings []struct {
		Path, Commit, Kind, Status, Redacted string
		Line                                 int
		KeyID                                string `json:"key_id"`
		RevokedNow                           bool   `json:"revoked_now"`
	}
	Keys       int
	Live       int
	RevokedNow int `json:"revoked_now"`
}

// authenticate reports whether the gate over the data directory accepts
// key, and the reason when it does not.
func authenticate(t *testing.T, dataDir, key string) (bool, string) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(dataDir, "hrgate.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = gate.New(db).Authenticate(context.Background(), key, netip.MustParseAddr("127.0.0.1"))
	if err != nil && hrgate.ErrorCode(err) != hrgate.EUNAUTHORIZED {
		t.Fatal(err)
	}
	return err == nil, gate.AuthFailureReason(err)
}

func TestKeysScan(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	var consumer struct{ ID string }
	if err := json.Unmarshal([]byte(mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity companies:*", "--output", "json")), &consumer); err != nil {
		t.Fatal(err)
	}
	newKey := func(t *testing.T) (id, secret string) {
		t.Helper()
		var k struct{ ID, Key string }
		if err := json.Unmarshal([]byte(mustRun(t, "keys", "create", "--consumer", "payroll", "--output", "json")), &k); err != nil {
			t.Fatal(err)
		}
		return k.ID, k.Key
	}
	liveID, live := newKey(t)
	revokedID, revoked := newKey(t)
	mustRun(t, "keys", "revoke", revokedID)
	// No command makes an expired key; write one to the store.
	expired, err := hrgate.GenerateAPIKey(hrgate.KeyLive, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	expiredID, err := hrgate.NewID(hrgate.PrefixAPIKey, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "hrgate.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	err = db.CreateAPIKey(context.Background(), &hrgate.APIKey{
		ID: expiredID, ConsumerID: consumer.ID, Env: hrgate.KeyLive, Hash: hrgate.HashAPIKey(expired),
		Scopes: []string{"companies:*", "employees:read:identity"}, CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour),
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := hrgate.GenerateAPIKey(hrgate.KeyTest, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lookalike := live[:len(live)-6] + "000000"
	if _, ok := hrgate.CheckAPIKey(lookalike); ok || !hrgate.APIKeyPattern.MatchString(lookalike) {
		t.Fatal("the look-alike is not one")
	}

	// The live key was committed and then deleted: only the history has
	// it. The work tree holds the others, uncommitted, and a look-alike.
	repo := t.TempDir()
	git(t, repo, "init", "-q")
	if err := os.MkdirAll(filepath.Join(repo, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "deploy", "payroll.env"), "HRGATE_URL=https://hr.example\nHRGATE_KEY="+live+"\n")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "deploy settings")
	commit := git(t, repo, "rev-parse", "HEAD")
	git(t, repo, "rm", "-q", "deploy/payroll.env")
	git(t, repo, "commit", "-q", "-m", "no keys in git")
	writeFile(t, filepath.Join(repo, "notes.md"), "old: "+revoked+"\nexpired: "+expired+"\nfrom elsewhere: `"+unknown+"`\n")
	writeFile(t, filepath.Join(repo, "example.env"), "HRGATE_KEY="+lookalike+"\n")

	secrets := []string{live, revoked, expired, unknown}
	noSecrets := func(t *testing.T, outputs ...string) {
		t.Helper()
		for _, out := range outputs {
			for _, s := range secrets {
				if strings.Contains(out, s) || strings.Contains(out, s[12:]) {
					t.Fatalf("output reveals a key:\n%s", out)
				}
			}
		}
	}
	scanJSON := func(t *testing.T, args ...string) (int, scanReport) {
		t.Helper()
		code, out, errOut := run(t, nil, append(append([]string{"keys", "scan", "--output", "json"}, args...), dd...)...)
		noSecrets(t, out, errOut)
		if errOut != "" && !strings.Contains(errOut, `"level"`) {
			t.Fatalf("unexpected error output: %s", errOut)
		}
		var r scanReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("exit %d, output %q: %v", code, out, err)
		}
		return code, r
	}
	rows := func(r scanReport) []string {
		var out []string
		for _, f := range r.Findings {
			place := filepath.Base(f.Path) + ":" + strconv.Itoa(f.Line)
			if f.Commit != "" {
				place += "@" + f.Commit
			}
			out = append(out, place+" "+f.KeyID+" "+f.Status)
		}
		slices.Sort(out)
		return out
	}

	t.Run("FilesOnlyMissTheDeletedKey", func(t *testing.T) {
		code, r := scanJSON(t, repo)
		want := []string{
			"notes.md:1 " + revokedID + " revoked",
			"notes.md:2 " + expiredID + " expired",
			"notes.md:3  unknown",
		}
		if code != 0 || r.Live != 0 || r.Keys != 3 || !slices.Equal(rows(r), want) {
			t.Fatalf("exit %d, %d live of %d\n%q\nwant\n%q", code, r.Live, r.Keys, rows(r), want)
		}
	})

	t.Run("HistoryFindsTheLiveKey", func(t *testing.T) {
		if ok, reason := authenticate(t, dir, live); !ok {
			t.Fatalf("the planted key does not work before the scan: %s", reason)
		}
		code, r := scanJSON(t, "--git", repo)
		want := []string{
			"notes.md:1 " + revokedID + " revoked",
			"notes.md:2 " + expiredID + " expired",
			"notes.md:3  unknown",
			"payroll.env:2@" + commit + " " + liveID + " live",
		}
		if code != 1 || r.Live != 1 || r.RevokedNow != 0 || !slices.Equal(rows(r), want) {
			t.Fatalf("exit %d, %d live, %d revoked now\n%q\nwant\n%q", code, r.Live, r.RevokedNow, rows(r), want)
		}
		if ok, _ := authenticate(t, dir, live); !ok {
			t.Fatal("a scan without --revoke revoked the key")
		}
	})

	t.Run("TextReport", func(t *testing.T) {
		code, out, errOut := run(t, nil, append([]string{"keys", "scan", "--git", repo}, dd...)...)
		noSecrets(t, out, errOut)
		if code != 1 || strings.Contains(errOut, "hrgate:") {
			t.Fatalf("exit %d, stderr %q: want 1 and no error line", code, errOut)
		}
		for _, want := range []string{"deploy/payroll.env:2@" + commit[:12], live[:12] + "…", "1 live, 1 revoked, 1 expired, 1 unknown", "--revoke"} {
			if !strings.Contains(out, want) {
				t.Fatalf("report misses %q:\n%s", want, out)
			}
		}
	})

	t.Run("TextReportWithClientSecret", func(t *testing.T) {
		// A client secret cannot be checked, but must not hide the counts
		// of the keys that were.
		cs, err := hrgate.GenerateClientSecret(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "app.env"), "KEY="+live+"\nCLIENT_SECRET="+cs+"\n")
		code, out, errOut := run(t, nil, append([]string{"keys", "scan", dir}, dd...)...)
		noSecrets(t, out, errOut)
		if strings.Contains(out, cs) || strings.Contains(out, cs[12:]) {
			t.Fatalf("output reveals the client secret:\n%s", out)
		}
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		for _, want := range []string{"1 live, 0 revoked, 0 expired, 0 unknown, 1 that cannot be checked", "--revoke"} {
			if !strings.Contains(out, want) {
				t.Fatalf("report misses %q:\n%s", want, out)
			}
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		code, r := scanJSON(t, "--git", "--revoke", repo)
		if code != 1 || r.Live != 1 || r.RevokedNow != 1 {
			t.Fatalf("exit %d, %d live, %d revoked now: want 1, 1, 1 (the key leaked)", code, r.Live, r.RevokedNow)
		}
		for _, f := range r.Findings {
			if f.RevokedNow != (f.KeyID == liveID) {
				t.Fatalf("finding %+v: revoked_now %v", f, f.RevokedNow)
			}
		}
		if ok, reason := authenticate(t, dir, live); ok || !strings.Contains(reason, "revoked") {
			t.Fatalf("the leaked key still works (%v, %q)", ok, reason)
		}
		code, r = scanJSON(t, "--git", repo)
		if code != 0 || r.Live != 0 {
			t.Fatalf("after revocation: exit %d, %d live", code, r.Live)
		}
	})

	t.Run("Offline", func(t *testing.T) {
		nowhere := filepath.Join(t.TempDir(), "no-data")
		code, out, errOut := run(t, nil, "keys", "scan", "--offline", "--output", "json", "--data-dir", nowhere, repo)
		noSecrets(t, out, errOut)
		var r scanReport
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.Keys != 3 {
			t.Fatalf("exit %d, %d keys (%v): want 1 and 3", code, r.Keys, err)
		}
		for _, f := range r.Findings {
			if f.Status != "unchecked" || f.KeyID != "" {
				t.Fatalf("offline finding %+v", f)
			}
		}
		if _, err := os.Stat(nowhere); !os.IsNotExist(err) {
			t.Fatalf("--offline created the data directory (%v)", err)
		}
		if code, _, _ := run(t, nil, "keys", "scan", "--offline", filepath.Join(repo, "example.env")); code != 0 {
			t.Fatalf("a look-alike failed an offline scan: exit %d", code)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoPath", []string{"keys", "scan"}, "at least one file"},
		{"NotAWorkTree", []string{"keys", "scan", "--git", t.TempDir()}, "not a git work tree"},
		{"Missing", []string{"keys", "scan", filepath.Join(repo, "nope")}, "does not exist"},
		{"RevokeOffline", []string{"keys", "scan", "--offline", "--revoke", repo}, "cannot be used with --offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The scanner's git runs in the process environment.
			t.Setenv("GIT_CEILING_DIRECTORIES", os.TempDir())
			code, _, errOut := run(t, nil, append(tc.args, dd...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q: want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestKeysScanSourceTokens: a leaked SCIM source token is checked against
// the sources: live while its source authenticates with it (the finding
// names the source, the scan fails, --revoke leaves it to a rotation),
// unknown once the source's token is rotated.
func TestKeysScanSourceTokens(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "1")
	db := openWithKeyring(t, dir)
	cs, err := db.FindCompanies(context.Background(), hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	var src struct{ ID, Token string }
	if err := json.Unmarshal([]byte(mustRun(t, "sources", "create", "entra", "--company", cs[0].Slug, "--type", "scim", "--output", "json")), &src); err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	writeFile(t, filepath.Join(files, "okta.env"), "SCIM_TOKEN="+src.Token+"\n")
	scan := func(t *testing.T, args ...string) (int, scanReport, string) {
		t.Helper()
		code, out, errOut := run(t, nil, append(append([]string{"keys", "scan"}, args...), dd...)...)
		if strings.Contains(out+errOut, src.Token[12:]) {
			t.Fatalf("output reveals the token:\n%s%s", out, errOut)
		}
		var r scanReport
		if slices.Contains(args, "json") {
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("exit %d, output %q: %v", code, out, err)
			}
		}
		return code, r, out
	}

	code, r, _ := scan(t, "--revoke", "--output", "json", files)
	if code != 1 || r.Live != 1 || r.RevokedNow != 0 || len(r.Findings) != 1 ||
		r.Findings[0].Status != "live" || r.Findings[0].KeyID != src.ID || r.Findings[0].RevokedNow {
		t.Fatalf("a live SCIM token: exit %d, %+v", code, r)
	}
	if got, err := db.FindSourceByTokenHash(context.Background(), hrgate.HashSourceToken(src.Token)); err != nil || got.ID != src.ID {
		t.Fatalf("--revoke touched the source: %v, %v", got, err)
	}
	code, _, out := scan(t, files)
	if code != 1 || !strings.Contains(out, "1 live") || !strings.Contains(out, "hrgate sources rotate-credential") || strings.Contains(out, "hrgate keys revoke") {
		t.Fatalf("text report, exit %d:\n%s", code, out)
	}

	mustRun(t, "sources", "rotate-credential", "entra")
	code, r, _ = scan(t, "--output", "json", files)
	if code != 0 || r.Live != 0 || len(r.Findings) != 1 || r.Findings[0].Status != "unknown" || r.Findings[0].KeyID != "" {
		t.Fatalf("a rotated SCIM token: exit %d, %+v", code, r)
	}
}

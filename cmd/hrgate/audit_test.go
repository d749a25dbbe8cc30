package main_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

// Changes made on the command line are in the trail as the OS user's; the
// audit commands verify, search, export and checkpoint it, and verify
// exits 1, naming the event, when the trail was edited.
func TestAuditCLI(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity companies:*")
	var k struct{ ID, Key string }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "create", "--consumer", "payroll", "--output", "json")), &k); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "keys", "revoke", k.ID)
	mustRun(t, "consumers", "grant", "payroll", "--scopes", "employees:read:identity,employment companies:*")

	var evs []hrgate.AuditEvent
	if err := json.Unmarshal([]byte(mustRun(t, "audit", "search", "--output", "json")), &evs); err != nil {
		t.Fatal(err)
	}
	types := []string{}
	for _, ev := range evs {
		types = append(types, ev.Type)
		if ev.ActorKind != hrgate.ActorCLI || ev.Actor == "" {
			t.Errorf("event %d: actor %q %q", ev.Seq, ev.ActorKind, ev.Actor)
		}
	}
	if strings.Join(types, " ") != "consumer.created key.created key.revoked consumer.updated" {
		t.Fatalf("events %v", types)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "search", "--credential", k.ID}, "key.revoked"},
		{[]string{"audit", "search", "--consumer", "payroll", "--type", "consumer.updated"}, "consumer.updated"},
		{[]string{"audit", "export", "--format", "cef"}, "CEF:0|hrgate|hrgate|"},
		{[]string{"audit", "export", "--format", "jsonl", "--type", "key.created"}, `"type":"key.created"`},
	} {
		if out := mustRun(t, c.args...); !strings.Contains(out, c.want) {
			t.Errorf("%v: %s", c.args, out)
		}
	}
	if out := mustRun(t, "audit", "export", "--format", "jsonl"); strings.Count(out, "\n") != 4 || strings.Contains(out, k.Key) {
		t.Errorf("export: %s", out)
	}

	cp := filepath.Join(t.TempDir(), "checkpoint.json")
	mustRun(t, "audit", "checkpoint", "--out", cp)
	if code, _, errOut := run(t, nil, append([]string{"audit", "checkpoint", "--out", cp}, dd...)...); code != 2 || !strings.Contains(errOut, "never overwritten") {
		t.Fatalf("a second checkpoint overwrote the first: %d %s", code, errOut)
	}
	if out := mustRun(t, "audit", "verify", "--checkpoint", cp); !strings.HasPrefix(out, "OK: 5 events verified") {
		t.Fatalf("verify: %s", out)
	}

	// Edited with the database's own tools, the trail fails verification
	// at the event edited.
	db, err := sql.Open("sqlite", filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var body []byte
	if err := db.QueryRow("SELECT body FROM audit_events WHERE seq = 3").Scan(&body); err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte("key.revoked"), []byte("key.rotated"), 1)
	if _, err := db.Exec("DROP TRIGGER audit_events_no_update"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE audit_events SET body = ?, type = 'key.rotated' WHERE seq = 3", body); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, nil, append([]string{"audit", "verify"}, dd...)...)
	if code != 1 || !strings.Contains(out, "FAILED at event 3") {
		t.Fatalf("verify of an edited trail: exit %d: %s", code, out)
	}
	code, out, _ = run(t, nil, append([]string{"audit", "verify", "--output", "json"}, dd...)...)
	var rep struct {
		OK        bool  `json:"ok"`
		BrokenSeq int64 `json:"broken_seq"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.OK || rep.BrokenSeq != 3 {
		t.Fatalf("verify --output json: exit %d: %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.db")); err != nil {
		t.Fatal(err)
	}
}

func TestAuditDisabledForBenchmarksOnly(t *testing.T) {
	dir, dd, _ := newDataDir(t)
	code, _, errOut := run(t, []string{"HRGATE_AUDIT__INSECURE_DISABLE=true"}, append([]string{"consumers", "create", "x", "--scope", "teams:read"}, dd...)...)
	if code != 0 || !strings.Contains(errOut, "audit trail is disabled") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.db")); err == nil {
		t.Fatal("a disabled trail was opened")
	}
}

package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

// TestSourcesCommands: a source is created with its credential shown once,
// a file with bad rows imports nothing and lists them, a good file
// imports, and both runs are recorded.
func TestSourcesCommands(t *testing.T) {
	dir, flag, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "1")
	db := openWithKeyring(t, dir)
	cs, err := db.FindCompanies(context.Background(), hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	slug := cs[0].Slug

	var scim struct{ ID, Token string }
	if err := json.Unmarshal([]byte(mustRun(t, "sources", "create", "entra", "--company", slug, "--type", "scim", "--output", "json")), &scim); err != nil {
		t.Fatal(err)
	}
	if !hrgate.ValidID(hrgate.PrefixSource, scim.ID) || !hrgate.CheckSourceToken(scim.Token) {
		t.Errorf("scim source = %+v", scim)
	}
	var hook map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, "sources", "create", "hibob", "--company", slug, "--type", "webhook", "--output", "json")), &hook); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hook["secret"], "whsec_") || hook["token"] != "" {
		t.Errorf("webhook source = %v", hook)
	}
	mustRun(t, "sources", "create", "payroll", "--company", slug, "--type", "csv")
	if show := mustRun(t, "sources", "show", "entra", "--output", "json"); strings.Contains(show, scim.Token) {
		t.Error("show prints the token again")
	}
	if code, _, _ := run(t, nil, append([]string{"sources", "create", "payroll", "--company", slug, "--type", "csv"}, flag...)...); code != 2 {
		t.Errorf("a taken name: exit %d, want 2", code)
	}

	bad := filepath.Join(t.TempDir(), "bad.csv")
	writeFile(t, bad, "remote_id,first_name,last_name,pay_currency\nA,Ada,Lovelace,EUR\nB,=1+1,X,EUR\nC,Grace,Hopper,XYZ\n")
	code, out, errOut := run(t, nil, append([]string{"sources", "import", "payroll", bad}, flag...)...)
	if code != 2 || !strings.Contains(errOut, "2 of 3 rows are invalid") {
		t.Errorf("bad file: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "2\tfirst_name") && !strings.Contains(out, "2    first_name") {
		t.Errorf("the problems are not listed:\n%s", out)
	}
	good := filepath.Join(t.TempDir(), "good.csv")
	writeFile(t, good, "remote_id,first_name,last_name,pay_currency\r\nA,Ada,Lovelace,EUR\r\nB,Grace,Hopper,USD\r\n")
	if out := mustRun(t, "sources", "import", "payroll", good); !strings.Contains(out, "2 created") {
		t.Errorf("good file: %s", out)
	}
	var runs []hrgate.SyncRun
	if err := json.Unmarshal([]byte(mustRun(t, "sources", "runs", "payroll", "--output", "json")), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Status != hrgate.RunSucceeded || runs[1].Status != hrgate.RunFailed || runs[1].Rejected != 2 {
		t.Errorf("runs = %+v", runs)
	}
	// Rotation prints the new token once; the old one no longer
	// authenticates; the change is audited without either.
	var rot struct{ ID, Token string }
	if err := json.Unmarshal([]byte(mustRun(t, "sources", "rotate-credential", "entra", "--output", "json")), &rot); err != nil {
		t.Fatal(err)
	}
	if rot.ID != scim.ID || !hrgate.CheckSourceToken(rot.Token) || rot.Token == scim.Token {
		t.Errorf("rotate-credential = %+v", rot)
	}
	if _, err := db.FindSourceByTokenHash(context.Background(), hrgate.HashSourceToken(scim.Token)); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
		t.Errorf("the old token after rotation: %v", err)
	}
	if got, err := db.FindSourceByTokenHash(context.Background(), hrgate.HashSourceToken(rot.Token)); err != nil || got.ID != scim.ID {
		t.Errorf("the new token: %v, %v", got, err)
	}
	evs := mustRun(t, "audit", "search", "--type", "source.credential_rotated", "--output", "json")
	if !strings.Contains(evs, scim.ID) || strings.Contains(evs, rot.Token) || strings.Contains(evs, scim.Token) {
		t.Errorf("the rotation's audit event: %s", evs)
	}
	if code, _, errOut := run(t, nil, append([]string{"sources", "rotate-credential", "payroll"}, flag...)...); code != 2 || !strings.Contains(errOut, "no credential") {
		t.Errorf("rotating a CSV source: exit %d, %s", code, errOut)
	}

	mustRun(t, "sources", "delete", "entra")
	if list := mustRun(t, "sources", "list"); strings.Contains(list, "entra") || !strings.Contains(list, "payroll") {
		t.Errorf("list after delete:\n%s", list)
	}
}

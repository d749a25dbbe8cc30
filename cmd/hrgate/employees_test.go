package main_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// openWithKeyring opens the data store of dir with its key store and
// master key, as hrgate does.
func openWithKeyring(t *testing.T, dir string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	mk, err := keyring.LoadMasterKey(filepath.Join(dir, "master.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := keyring.NewLocalProvider(mk.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := sqlstore.OpenKeyStore(ctx, filepath.Join(dir, "keys.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	kr, err := keyring.Open(ctx, ks, p, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, filepath.Join(dir, "hrgate.db"), sqlstore.Options{Cipher: kr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestSandboxSeedEncrypted: `hrgate sandbox seed` leaves no national id,
// IBAN, account number, pay rate or date of birth in the clear in the data
// directory, while the keyring reads them all back.
func TestSandboxSeedEncrypted(t *testing.T) {
	dir, _, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "2", "--employees", "30")
	var files []byte
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b...)
	}

	db := openWithKeyring(t, dir)
	es, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
	if err != nil || len(es) != 60 {
		t.Fatalf("read back %d employees: %v", len(es), err)
	}
	checked := 0
	for _, e := range es {
		for _, v := range []struct{ what, value, next string }{
			{"national id", e.GovernmentID.Value, ""},
			{"IBAN", e.Banking.IBAN, ""},
			{"account number", e.Banking.AccountNumber, e.Banking.RoutingNumber},
			// Dates and short numbers could occur by chance next to
			// other bytes (a start date equal to a date of birth is
			// stored in the clear by design): look for them framed as
			// the group codec would hold them, with the next field.
			{"date of birth", e.Personal.DateOfBirth, e.Personal.Gender},
			{"pay rate", e.Compensation.PayRate, e.Compensation.PayPeriod},
		} {
			if v.value == "" {
				continue
			}
			needle := []byte(v.value)
			if v.next != "" {
				needle = append(append(append([]byte{byte(len(v.value))}, v.value...), byte(len(v.next))), v.next...)
			}
			if bytes.Contains(files, needle) {
				t.Errorf("%s %q of %s is in the data directory in the clear", v.what, v.value, e.ID)
			}
			checked++
		}
	}
	if checked < 200 {
		t.Fatalf("checked only %d values", checked)
	}
}

func TestEmployeesErase(t *testing.T) {
	dir, dd, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "3")
	db := openWithKeyring(t, dir)
	es, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
	if err != nil || len(es) != 3 {
		t.Fatalf("%d employees: %v", len(es), err)
	}
	id := es[0].ID

	if code, _, errOut := run(t, nil, append([]string{"employees", "erase", id}, dd...)...); code != 2 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("erase without --yes: exit %d: %s", code, errOut)
	}
	out := mustRun(t, "employees", "erase", id, "--yes")
	if !strings.Contains(out, "Erased employee "+id) {
		t.Fatalf("output: %s", out)
	}
	if out := mustRun(t, "employees", "erase", id, "--yes", "--output", "json"); !strings.Contains(out, `"erased": true`) {
		t.Fatalf("a second erase: %s", out)
	}
	for _, bad := range []string{"emp_nope", "emp_00000000000000000000000000"} {
		if code, _, errOut := run(t, nil, append([]string{"employees", "erase", bad, "--yes"}, dd...)...); code != 2 {
			t.Fatalf("erase %s: exit %d: %s", bad, code, errOut)
		}
	}
	left, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
	if err != nil || len(left) != 2 {
		t.Fatalf("after the erase: %d employees, %v", len(left), err)
	}
	ks, err := sqlstore.OpenKeyStore(context.Background(), filepath.Join(dir, "keys.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if dks, err := ks.DataKeys(context.Background(), []string{id}); err != nil || len(dks) != 0 {
		t.Fatalf("the erased employee still has %d data keys (%v)", len(dks), err)
	}
	// Both erasures are on the audit trail, naming the employee.
	trail := mustRun(t, "audit", "search", "--type", "employee.erased", "--output", "json")
	if n := strings.Count(trail, `"target": "`+id+`"`) + strings.Count(trail, `"target":"`+id+`"`); n != 2 {
		t.Fatalf("audit trail holds %d employee.erased events for %s:\n%s", n, id, trail)
	}
}

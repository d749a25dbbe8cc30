package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/pgtest"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// backupDatabase copies the data store at dsn the way an operator's backup
// would, and returns the copy's DSN: VACUUM INTO for SQLite (the WAL
// included), pg_dump restored into a fresh schema with psql for
// PostgreSQL.
func backupDatabase(t *testing.T, db *sqlstore.DB, dsn string) string {
	t.Helper()
	ctx := context.Background()
	if !strings.HasPrefix(dsn, "postgres") {
		dst := filepath.Join(t.TempDir(), "backup.db")
		if err := db.ExecForTest(ctx, `VACUUM INTO ?`, dst); err != nil {
			t.Fatalf("VACUUM INTO: %v", err)
		}
		return dst
	}
	dump, server, schema := storetest.PGDump(t, dsn)
	copyDSN := pgtest.Schema(t, server)
	cu, _ := url.Parse(copyDSN)
	copySchema := cu.Query().Get("search_path")
	// The dump names its schema; restore it under the new one.
	restored := bytes.ReplaceAll(dump, []byte(schema), []byte(copySchema))
	restored = bytes.ReplaceAll(restored, []byte("CREATE SCHEMA "+copySchema+";"), nil)
	cmd := exec.Command("psql", "--quiet", "--set", "ON_ERROR_STOP=1", "--no-psqlrc", server)
	cmd.Stdin = bytes.NewReader(restored)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql restore: %v\n%s", err, out)
	}
	return copyDSN
}

// TestEraseShredsBackups is the crypto-shredding acceptance test: a copy of
// the database taken before an employee is erased no longer yields that
// employee's encrypted groups through the live keyring, while the other
// employees in the copy still open.
func TestEraseShredsBackups(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		es := staff(t, env.db, 81, 3)
		gone, kept := es[1], es[2]

		backup := backupDatabase(t, env.db, dsn)
		if err := env.db.EraseEmployee(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}

		t.Run("LiveRecordTombstoned", func(t *testing.T) {
			got, err := env.db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: gone.ID, Groups: hrgate.AllGroups})
			if err != nil || len(got) != 0 {
				t.Fatalf("the erased employee reads as %v, %v", got, err)
			}
			if n, _ := env.db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM employees WHERE id = ? AND deleted_at IS NOT NULL AND `+
				`g_identity IS NULL AND g_employment IS NULL AND g_contact IS NULL AND g_personal IS NULL AND g_compensation IS NULL AND `+
				`g_banking IS NULL AND g_government_id IS NULL AND bi_national_id IS NULL AND bi_personal_email IS NULL`, gone.ID); n != 1 {
				t.Fatal("the record is not tombstoned")
			}
			if got := search(t, env.db, hrgate.EmployeeFilter{NationalID: gone.GovernmentID.Value}); len(got) != 0 {
				t.Fatalf("the erased employee is still found by national id: %v", got)
			}
			if n, _ := env.db.CountEmployees(ctx, hrgate.AllCompanies); n != 2 {
				t.Fatalf("%d employees after the erase", n)
			}
		})
		t.Run("Idempotent", func(t *testing.T) {
			if err := env.db.EraseEmployee(ctx, gone.ID); err != nil {
				t.Fatalf("a second erase = %v", err)
			}
			wantCode(t, env.db.EraseEmployee(ctx, "emp_0000000000000000000000000z"), hrgate.ENOTFOUND)
		})

		t.Run("BackupNoLongerOpens", func(t *testing.T) {
			copyDB, err := sqlstore.Open(ctx, backup, sqlstore.Options{Cipher: env.kr})
			if err != nil {
				t.Fatalf("open the backup with the live keyring: %v", err)
			}
			defer copyDB.Close()
			checked := 0
			for _, g := range hrgate.FieldGroups() {
				sealed := rawGroup(t, copyDB, gone.ID, g)
				if !keyring.IsSealed(sealed) {
					continue
				}
				checked++
				if _, err := env.kr.Open(ctx, gone.ID, hrgate.FieldRef{Table: "employees", RecordID: gone.ID, Field: "g_" + g.String()}, sealed); !errors.Is(err, hrgate.ErrKeyErased) {
					t.Errorf("g_%s of the erased employee in the backup opens: %v; want ErrKeyErased", g, err)
				}
			}
			if checked != 5 {
				t.Fatalf("the backup holds %d sealed groups of the erased employee; want the 5 encrypted ones", checked)
			}
			if _, err := findOne(t, copyDB, gone.ID, hrgate.GroupsOf(hrgate.GroupBanking)); !errors.Is(err, hrgate.ErrKeyErased) {
				t.Fatalf("reading the erased employee from the backup = %v; want ErrKeyErased", err)
			}
			got, err := findOne(t, copyDB, kept.ID, hrgate.AllGroups)
			if err != nil || got.Banking != kept.Banking || got.GovernmentID != kept.GovernmentID {
				t.Fatalf("another employee in the backup = %+v, %v; want it whole", got, err)
			}
		})

		if strings.HasPrefix(dsn, "postgres") {
			// The documented limit: with the key store in the same
			// PostgreSQL database (the default), the backup holds the key
			// store too, and a keyring opened on the backup's key tables
			// still opens the erased employee. Keep keyring.database
			// elsewhere for shredding to hold against database backups.
			t.Run("LimitKeyStoreInSameDatabase", func(t *testing.T) {
				oldKeys := storetest.Keyring(t, backup)
				copyDB := storetest.OpenWith(t, backup, oldKeys, sqlstore.Options{})
				got, err := findOne(t, copyDB, gone.ID, hrgate.GroupsOf(hrgate.GroupBanking))
				if err != nil || got.Banking != gone.Banking {
					t.Fatalf("the backup's own key store = %+v, %v; the limit no longer holds, update docs/encryption.md", got, err)
				}
			})
		}
	})
}

// TestEraseCrashBetweenSteps: an erase that dies after destroying the keys
// leaves the record hidden and unreadable, and running it again finishes.
func TestEraseCrashBetweenSteps(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		es := staff(t, env.db, 82, 2)
		crash := errors.New("crash")
		env.db.SetCrashForTest(func(step string) error {
			if step == "erase: keys destroyed" {
				return crash
			}
			return nil
		})
		if err := env.db.EraseEmployee(ctx, es[0].ID); !errors.Is(err, crash) {
			t.Fatalf("EraseEmployee = %v; want the crash", err)
		}
		env.db.SetCrashForTest(nil)
		// Hidden: lists and look-ups neither show it nor fail on it.
		mustReadAll(t, env.db, es[1:])
		sealed := rawGroup(t, env.db, es[0].ID, hrgate.GroupBanking)
		if _, err := env.kr.Open(ctx, es[0].ID, hrgate.FieldRef{Table: "employees", RecordID: es[0].ID, Field: "g_banking"}, sealed); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("the half-erased record opens: %v", err)
		}
		// The jobs pass it by without failing.
		if _, err := env.db.StartDataKeyRotation(ctx); err != nil {
			t.Fatal(err)
		}
		if res, err := env.db.Reencrypt(ctx, 0); err != nil || res.Skipped != 1 {
			t.Fatalf("Reencrypt over a half-erased record = %+v, %v; want it skipped", res, err)
		}
		if err := env.db.EraseEmployee(ctx, es[0].ID); err != nil {
			t.Fatal(err)
		}
		if b := rawGroup(t, env.db, es[0].ID, hrgate.GroupBanking); b != nil {
			t.Fatal("the record is not tombstoned after the second erase")
		}
	})
}

// TestEraseLeavesNoTraceInLiveFiles: on SQLite, after an erase neither the
// employee's wrapped data key nor its plain-text fields remain in the live
// files, the WAL included, where they would survive until enough later
// writes forced a checkpoint.
func TestEraseLeavesNoTraceInLiveFiles(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	env := openEnc(t, dsn, sqlstore.Options{})
	es := staff(t, env.db, 83, 3)
	gone := es[0]
	ks := storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))
	dks, err := ks.DataKeys(ctx, []string{gone.ID})
	if err != nil || len(dks) != 1 {
		t.Fatalf("data keys: %d, %v", len(dks), err)
	}
	traces := map[string][]byte{"wrapped data key": dks[0].Wrapped, "work e-mail": []byte(gone.Identity.WorkEmail)}
	if err := env.db.EraseEmployee(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	var files []byte
	for _, f := range []string{dsn, dsn + "-wal", storetest.KeysDSN(dsn), storetest.KeysDSN(dsn) + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	for what, b := range traces {
		if bytes.Contains(files, b) {
			t.Errorf("the %s of the erased employee is still in the live files", what)
		}
	}
	if !bytes.Contains(files, []byte(es[1].Identity.WorkEmail)) {
		t.Fatal("another employee's work e-mail is not found: the search proves nothing")
	}
}

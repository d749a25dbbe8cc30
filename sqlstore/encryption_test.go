package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// logBuffer collects a store's log lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// encEnv is a data store with its keyring, as hrgate serve opens them.
type encEnv struct {
	dsn string
	db  *sqlstore.DB
	kr  *keyring.Keyring
	log *logBuffer
	// ahead moves the keyring's clock forward (advance), as the hours
	// after a rotation would.
	ahead atomic.Int64
}

// advance moves the keyring's clock forward by d.
func (env *encEnv) advance(d time.Duration) { env.ahead.Add(int64(d)) }

func (env *encEnv) now() time.Time { return time.Now().Add(time.Duration(env.ahead.Load())) }

// openEnc opens the store at dsn with the keyring of its key store
// (storetest.KeysDSN) and opts.
func openEnc(t *testing.T, dsn string, opts sqlstore.Options) *encEnv {
	t.Helper()
	env := &encEnv{dsn: dsn, log: &logBuffer{}}
	env.kr = storetest.KeyringWith(t, storetest.OpenKeyStore(t, storetest.KeysDSN(dsn)), keyring.Options{Now: env.now})
	opts.Logger = slog.New(slog.NewJSONHandler(env.log, nil))
	env.db = storetest.OpenWith(t, dsn, env.kr, opts)
	return env
}

// rawGroup returns the stored bytes of one group column of an employee.
func rawGroup(t *testing.T, db *sqlstore.DB, id string, g hrgate.FieldGroup) []byte {
	t.Helper()
	b, err := db.QueryBytesForTest(context.Background(), `SELECT g_`+g.String()+` FROM employees WHERE id = ?`, id)
	if err != nil {
		t.Fatalf("read g_%s of %s: %v", g, id, err)
	}
	return b
}

// sensitive lists values of newEmployee that must never be stored in the
// clear, with the group holding them.
func sensitive(e *hrgate.Employee) map[hrgate.FieldGroup][]string {
	return map[hrgate.FieldGroup][]string{
		hrgate.GroupContact:      {e.Contact.PersonalEmail, e.Contact.Phone},
		hrgate.GroupPersonal:     {e.Personal.DateOfBirth},
		hrgate.GroupCompensation: {e.Compensation.PayRate},
		hrgate.GroupBanking:      {e.Banking.IBAN, e.Banking.AccountNumber},
		hrgate.GroupGovernmentID: {e.GovernmentID.Value},
	}
}

func findOne(t *testing.T, db *sqlstore.DB, id string, groups hrgate.GroupSet) (*hrgate.Employee, error) {
	t.Helper()
	es, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: groups})
	if err != nil {
		return nil, err
	}
	if len(es) != 1 {
		t.Fatalf("FindEmployees(%s) = %d employees", id, len(es))
	}
	return es[0], nil
}

func TestEncryptedGroupsAtRest(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		env := openEnc(t, dsn, sqlstore.Options{})
		g := newIDs(61)
		c := newCompany(t, g, "acme", false)
		e := newEmployee(t, g, c, 1)
		mustInsert(t, env.db, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{e}})

		for _, grp := range hrgate.FieldGroups() {
			raw := rawGroup(t, env.db, e.ID, grp)
			sealed := keyring.IsSealed(raw)
			if want := grp.Sensitivity() != hrgate.Internal; sealed != want {
				t.Errorf("g_%s sealed = %v; want %v (%s)", grp, sealed, want, grp.Sensitivity())
			}
			for _, v := range sensitive(e)[grp] {
				if bytes.Contains(raw, []byte(v)) {
					t.Errorf("g_%s holds %q in the clear", grp, v)
				}
			}
		}
		got, err := findOne(t, env.db, e.ID, hrgate.AllGroups)
		if err != nil {
			t.Fatal(err)
		}
		if want := project(e, hrgate.AllGroups); !reflect.DeepEqual(got, want) {
			t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
		}
	})
}

func TestPlaintextGroupsOption(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{PlaintextGroups: hrgate.GroupsOf(hrgate.GroupContact)})
		g := newIDs(62)
		c := newCompany(t, g, "acme", false)
		e := newEmployee(t, g, c, 1)
		mustInsert(t, env.db, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{e}})
		if keyring.IsSealed(rawGroup(t, env.db, e.ID, hrgate.GroupContact)) {
			t.Error("contact is sealed although the operator opted out")
		}
		if !keyring.IsSealed(rawGroup(t, env.db, e.ID, hrgate.GroupPersonal)) {
			t.Error("personal is not sealed")
		}
		if got, err := findOne(t, env.db, e.ID, hrgate.AllGroups); err != nil || got.Contact != e.Contact {
			t.Fatalf("read back = %+v, %v", got, err)
		}

		_, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Cipher: env.kr, PlaintextGroups: hrgate.GroupsOf(hrgate.GroupBanking)})
		if err == nil || !strings.Contains(err.Error(), "always encrypted") {
			t.Fatalf("Open with banking in plain text = %v; want a refusal", err)
		}
	})
}

func TestStoreWithoutCipher(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		g := newIDs(63)
		c := newCompany(t, g, "acme", false)
		e := newEmployee(t, g, c, 1)
		mustInsert(t, env.db, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{e}})

		bare, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer bare.Close()
		t.Run("RefusesWrites", func(t *testing.T) {
			err := bare.InsertBatch(ctx, &hrgate.Batch{Employees: []*hrgate.Employee{newEmployee(t, g, c, 2)}})
			if err == nil || !strings.Contains(err.Error(), "without a cipher") {
				t.Fatalf("InsertBatch without a cipher = %v; want a refusal", err)
			}
			if n, _ := bare.CountEmployees(ctx, hrgate.AllCompanies); n != 1 {
				t.Fatalf("%d employees after the refused insert", n)
			}
		})
		t.Run("ReadsOnlyInternalGroups", func(t *testing.T) {
			if got, err := findOne(t, bare, e.ID, hrgate.GroupsOf(hrgate.GroupIdentity)); err != nil || got.Identity != e.Identity {
				t.Fatalf("identity without a cipher = %+v, %v", got, err)
			}
			_, err := bare.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: e.ID, Groups: hrgate.GroupsOf(hrgate.GroupBanking)})
			wantCode(t, err, hrgate.EINTERNAL)
		})
		t.Run("InsecurePlaintextRefusedOnceBound", func(t *testing.T) {
			_, err := sqlstore.Open(ctx, dsn, sqlstore.Options{InsecurePlaintext: true})
			if err == nil || !strings.Contains(err.Error(), "InsecurePlaintext") {
				t.Fatalf("InsecurePlaintext on a bound store = %v; want a refusal", err)
			}
		})
		t.Run("CipherAndInsecurePlaintext", func(t *testing.T) {
			if _, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Cipher: env.kr, InsecurePlaintext: true}); err == nil {
				t.Fatal("Open with a cipher and InsecurePlaintext succeeded")
			}
		})
	})
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestKeyringBinding(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		g := newIDs(64)
		c := newCompany(t, g, "acme", false)
		e := newEmployee(t, g, c, 1)
		mustInsert(t, env.db, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{e}})
		stateBefore, err := env.db.QueryBytesForTest(ctx, `SELECT state FROM encryption_state`)
		if err != nil {
			t.Fatal(err)
		}

		// The same keyring opens it again, from another handle.
		again := storetest.OpenWith(t, dsn, env.kr, sqlstore.Options{})
		if got, err := findOne(t, again, e.ID, hrgate.AllGroups); err != nil || got.Banking != e.Banking {
			t.Fatalf("reopen with the same keyring = %+v, %v", got, err)
		}
		again.Close()

		// A regenerated key store (keys.db deleted) holds a new keyring.
		other := storetest.Keyring(t, storetest.SQLite(t))
		var sums [2][32]byte
		if !strings.HasPrefix(dsn, "postgres") {
			env.db.Close()
			sums = [2][32]byte{fileSum(t, dsn), fileSum(t, dsn+"-wal")}
		}
		for _, auto := range []bool{true, false} {
			_, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Cipher: other, AutoMigrate: auto})
			if err == nil || !strings.Contains(err.Error(), env.kr.ID()) || !strings.Contains(err.Error(), other.ID()) ||
				!strings.Contains(err.Error(), "Nothing was written") {
				t.Fatalf("Open(AutoMigrate=%v) with another keyring = %v; want a refusal naming both keyrings", auto, err)
			}
		}
		if !strings.HasPrefix(dsn, "postgres") {
			if now := [2][32]byte{fileSum(t, dsn), fileSum(t, dsn+"-wal")}; now != sums {
				t.Fatal("the refused open changed the database files")
			}
			env.db = storetest.OpenWith(t, dsn, env.kr, sqlstore.Options{})
		}
		stateAfter, err := env.db.QueryBytesForTest(ctx, `SELECT state FROM encryption_state`)
		if err != nil || !bytes.Equal(stateAfter, stateBefore) {
			t.Fatalf("the encryption state changed: %v", err)
		}
	})
}

func TestMigrateBindsKeyring(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		kr := storetest.Keyring(t, storetest.KeysDSN(dsn))
		// Open without migrating (hrgate migrate does this), then migrate.
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Cipher: kr})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		g := newIDs(65)
		c := newCompany(t, g, "acme", false)
		if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{newEmployee(t, g, c, 1)}}); err == nil {
			t.Fatal("an unmigrated store wrote employees")
		}
		_, err = db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
		if err == nil || !strings.Contains(err.Error(), "hrgate migrate") {
			t.Fatalf("an unmigrated store reads encrypted groups: %v", err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{newEmployee(t, g, c, 1)}})
		st, err := db.EncryptionStatus(ctx)
		if err != nil || st.KeyringID != kr.ID() || len(st.PendingEncryption) != 0 || len(st.Strict) != 5 {
			t.Fatalf("status = %+v, %v", st, err)
		}
	})
}

// TestTamperedGroups is the acceptance test for moved and changed
// ciphertexts: each is refused with an integrity error that the log
// records with the employee and group but without any value, while the
// other groups of the employee still read.
func TestTamperedGroups(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		g := newIDs(66)
		c := newCompany(t, g, "acme", false)
		a, b := newEmployee(t, g, c, 1), newEmployee(t, g, c, 2)
		b.Banking.IBAN, b.GovernmentID.Value = "DE89370400440532013000", "666-12-3456"
		mustInsert(t, env.db, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: []*hrgate.Employee{a, b}})
		banking := rawGroup(t, env.db, a.ID, hrgate.GroupBanking)
		flipped := bytes.Clone(banking)
		flipped[len(flipped)-3] ^= 0x04

		for _, tt := range []struct {
			name  string
			group hrgate.FieldGroup
			sql   string
			args  []any
		}{
			{"MovedToAnotherEmployee", hrgate.GroupBanking, `UPDATE employees SET g_banking = (SELECT g_banking FROM employees WHERE id = ?) WHERE id = ?`, []any{b.ID, a.ID}},
			{"MovedToAnotherField", hrgate.GroupCompensation, `UPDATE employees SET g_compensation = g_banking WHERE id = ?`, []any{a.ID}},
			{"FlippedBit", hrgate.GroupBanking, `UPDATE employees SET g_banking = ? WHERE id = ?`, []any{flipped, a.ID}},
			{"PlainTextPlanted", hrgate.GroupGovernmentID, `UPDATE employees SET g_government_id = (SELECT g_identity FROM employees WHERE id = ?) WHERE id = ?`, []any{a.ID, a.ID}},
			{"PlainTextInConfidential", hrgate.GroupContact, `UPDATE employees SET g_contact = (SELECT g_identity FROM employees WHERE id = ?) WHERE id = ?`, []any{a.ID, a.ID}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				orig := rawGroup(t, env.db, a.ID, tt.group)
				if err := env.db.ExecForTest(ctx, tt.sql, tt.args...); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := env.db.ExecForTest(ctx, `UPDATE employees SET g_`+tt.group.String()+` = ? WHERE id = ?`, orig, a.ID); err != nil {
						t.Fatal(err)
					}
				}()
				before := len(env.log.String())
				_, err := env.db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: a.ID, Groups: hrgate.GroupsOf(tt.group)})
				wantCode(t, err, hrgate.EINTERNAL)
				if !errors.Is(err, hrgate.ErrIntegrity) || hrgate.ErrorMessage(err) != "Internal error." {
					t.Fatalf("error = %v; want an internal integrity error", err)
				}
				// A page of employees fails the same way.
				_, err = env.db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups, Page: hrgate.Page{Limit: 10}})
				if !errors.Is(err, hrgate.ErrIntegrity) {
					t.Fatalf("list error = %v; want an integrity error", err)
				}
				line := env.log.String()[before:]
				if !strings.Contains(line, a.ID) || !strings.Contains(line, `"group":"`+tt.group.String()+`"`) || !strings.Contains(line, `"integrity":true`) {
					t.Fatalf("the log does not name the employee and group:\n%s", line)
				}
				for _, vals := range [][]string{flat(sensitive(a)), flat(sensitive(b)), {a.Identity.FirstName, a.Identity.WorkEmail}} {
					for _, v := range vals {
						if strings.Contains(line, v) || strings.Contains(err.Error(), v) {
							t.Fatalf("the log or error carries the value %q:\n%s\n%v", v, line, err)
						}
					}
				}
				// The other groups of the employee still read.
				if got, err := findOne(t, env.db, a.ID, hrgate.AllGroups&^hrgate.GroupsOf(tt.group)); err != nil || got.Identity != a.Identity {
					t.Fatalf("the untouched groups = %+v, %v", got, err)
				}
			})
		}
	})
}

func flat(m map[hrgate.FieldGroup][]string) []string {
	var out []string
	for _, vs := range m {
		out = append(out, vs...)
	}
	return out
}

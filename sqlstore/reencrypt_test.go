package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// staff inserts n employees of one company, each with its own national id
// and personal e-mail, and returns them.
func staff(t *testing.T, db *sqlstore.DB, seed byte, n int) []*hrgate.Employee {
	t.Helper()
	g := newIDs(seed)
	c := newCompany(t, g, fmt.Sprintf("co%d", seed), false)
	b := &hrgate.Batch{Companies: []*hrgate.Company{c}}
	for i := range n {
		e := newEmployee(t, g, c, i)
		e.GovernmentID = hrgate.NationalID{Type: "ssn", Value: fmt.Sprintf("666-%02d-%04d", seed%100, 1000+i)}
		e.Contact.PersonalEmail = fmt.Sprintf("Person.%d.%d@Example.org", seed, i)
		b.Employees = append(b.Employees, e)
	}
	mustInsert(t, db, b)
	return b.Employees
}

// mustReadAll fails unless every employee reads back whole.
func mustReadAll(t *testing.T, db *sqlstore.DB, es []*hrgate.Employee) {
	t.Helper()
	got, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
	if err != nil {
		t.Fatalf("read all: %v", err)
	}
	want := make(map[string]*hrgate.Employee, len(es))
	for _, e := range es {
		want[e.ID] = project(e, hrgate.AllGroups)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d employees; want %d", len(got), len(want))
	}
	for _, e := range got {
		if !reflect.DeepEqual(e, want[e.ID]) {
			t.Fatalf("employee %s reads\n%+v\nwant\n%+v", e.ID, e, want[e.ID])
		}
	}
}

func search(t *testing.T, db *sqlstore.DB, f hrgate.EmployeeFilter) []string {
	t.Helper()
	if f.Scope.IsNone() {
		f.Scope = hrgate.AllCompanies
	}
	f.Groups = hrgate.GroupsOf(hrgate.GroupIdentity)
	es, err := db.FindEmployees(context.Background(), f)
	if err != nil {
		t.Fatalf("search %+v: %v", f, err)
	}
	return idsOf(es, func(e *hrgate.Employee) string { return e.ID })
}

func TestBlindIndexSearch(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		es := staff(t, env.db, 71, 4)
		other := staff(t, env.db, 72, 1)
		e := es[2]
		for _, tt := range []struct {
			name string
			f    hrgate.EmployeeFilter
			want []string
		}{
			{"NationalID", hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value}, []string{e.ID}},
			{"NationalIDOtherwiseWritten", hrgate.EmployeeFilter{NationalID: " 666.71.1002 "}, []string{e.ID}},
			{"PersonalEmailAnyCase", hrgate.EmployeeFilter{PersonalEmail: "PERSON.71.2@example.ORG"}, []string{e.ID}},
			{"Both", hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value, PersonalEmail: e.Contact.PersonalEmail}, []string{e.ID}},
			{"BothDisagree", hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value, PersonalEmail: es[1].Contact.PersonalEmail}, nil},
			{"Unknown", hrgate.EmployeeFilter{NationalID: "666-00-0000"}, nil},
			{"NothingLeftOnceNormalised", hrgate.EmployeeFilter{NationalID: " - / "}, nil},
			{"OutOfScope", hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value, Scope: hrgate.CompanyScope{Refs: []string{"co72"}}}, nil},
			{"OtherCompany", hrgate.EmployeeFilter{NationalID: other[0].GovernmentID.Value, Scope: hrgate.CompanyScope{Refs: []string{"co72"}}}, []string{other[0].ID}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := search(t, env.db, tt.f); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
					t.Fatalf("found %v; want %v", got, tt.want)
				}
			})
		}

		t.Run("IndexKeyRotation", func(t *testing.T) {
			if _, err := env.kr.Rotate(ctx, hrgate.PurposeIndex); err != nil {
				t.Fatal(err)
			}
			// Rows still hold version-1 indexes: found through the old key.
			if got := search(t, env.db, hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value}); !slices.Equal(got, []string{e.ID}) {
				t.Fatalf("found %v during the rotation", got)
			}
			res, err := env.db.Reencrypt(ctx, 2)
			if err != nil || res.Reindexed != 5 {
				t.Fatalf("Reencrypt = %+v, %v; want 5 re-indexed", res, err)
			}
			if n, _ := env.db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM employees WHERE bi_version = 2`); n != 5 {
				t.Fatalf("%d rows at index version 2; want 5", n)
			}
			if got := search(t, env.db, hrgate.EmployeeFilter{PersonalEmail: e.Contact.PersonalEmail}); !slices.Equal(got, []string{e.ID}) {
				t.Fatalf("found %v after re-indexing", got)
			}
			// A fresh instance knows both index keys too.
			fresh := storetest.OpenWith(t, dsn, storetest.Keyring(t, storetest.KeysDSN(dsn)), sqlstore.Options{})
			if got := search(t, fresh, hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value}); !slices.Equal(got, []string{e.ID}) {
				t.Fatalf("a fresh instance found %v", got)
			}
			st, err := env.db.EncryptionStatus(ctx)
			if err != nil || st.IndexVersion != 2 || st.IndexDone != 2 {
				t.Fatalf("status = %+v, %v", st, err)
			}
			if res, err := env.db.Reencrypt(ctx, 2); err != nil || res.Total() != 0 {
				t.Fatalf("a second Reencrypt = %+v, %v; want nothing to do", res, err)
			}
		})
	})
}

// TestEncryptExistingPlainText: a database written before field
// encryption (here through InsecurePlaintext) is read as it is once a
// keyring opens it, and the encrypt job seals it, after which plain text in
// its groups is refused.
func TestEncryptExistingPlainText(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		legacy := storetest.OpenWith(t, dsn, nil, sqlstore.Options{InsecurePlaintext: true})
		es := staff(t, legacy, 73, 5)
		legacy.Close()

		env := openEnc(t, dsn, sqlstore.Options{})
		mustReadAll(t, env.db, es)
		st, err := env.db.EncryptionStatus(ctx)
		if err != nil || len(st.Strict) != 0 || len(st.PendingEncryption) != 5 || st.IndexDone != 0 {
			t.Fatalf("status of a legacy store = %+v, %v", st, err)
		}
		// Not yet indexed: the search finds nothing until the job ran.
		if got := search(t, env.db, hrgate.EmployeeFilter{NationalID: es[0].GovernmentID.Value}); len(got) != 0 {
			t.Fatalf("found %v before indexing", got)
		}

		res, err := env.db.Reencrypt(ctx, 2)
		if err != nil || res.Encrypted != 5 || res.Reindexed != 5 {
			t.Fatalf("Reencrypt = %+v, %v; want 5 encrypted and re-indexed", res, err)
		}
		for _, e := range es {
			for _, g := range hrgate.FieldGroups() {
				if sealed := keyring.IsSealed(rawGroup(t, env.db, e.ID, g)); sealed != (g.Sensitivity() != hrgate.Internal) {
					t.Fatalf("g_%s of %s sealed = %v after the job", g, e.ID, sealed)
				}
			}
		}
		mustReadAll(t, env.db, es)
		if got := search(t, env.db, hrgate.EmployeeFilter{NationalID: es[0].GovernmentID.Value}); !slices.Equal(got, []string{es[0].ID}) {
			t.Fatalf("found %v after indexing", got)
		}
		st, err = env.db.EncryptionStatus(ctx)
		if err != nil || len(st.Strict) != 5 || len(st.PendingEncryption) != 0 {
			t.Fatalf("status after the job = %+v, %v", st, err)
		}
		// Now plain text planted in a restricted group is tampering.
		if err := env.db.ExecForTest(ctx, `UPDATE employees SET g_banking = g_identity WHERE id = ?`, es[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := findOne(t, env.db, es[0].ID, hrgate.GroupsOf(hrgate.GroupBanking)); !errors.Is(err, hrgate.ErrIntegrity) {
			t.Fatalf("planted plain text reads as %v; want an integrity error", err)
		}
		// The strict set is sealed: a restart keeps it.
		again := storetest.OpenWith(t, dsn, env.kr, sqlstore.Options{})
		if _, err := findOne(t, again, es[0].ID, hrgate.GroupsOf(hrgate.GroupBanking)); !errors.Is(err, hrgate.ErrIntegrity) {
			t.Fatalf("after a restart planted plain text reads as %v", err)
		}
	})
}

func TestConfidentialGroupPolicyChanges(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		kr := storetest.Keyring(t, storetest.KeysDSN(dsn))
		optOut := storetest.OpenWith(t, dsn, kr, sqlstore.Options{PlaintextGroups: hrgate.GroupsOf(hrgate.GroupContact)})
		es := staff(t, optOut, 74, 3)
		if keyring.IsSealed(rawGroup(t, optOut, es[0].ID, hrgate.GroupContact)) {
			t.Fatal("contact sealed although opted out")
		}
		st, _ := optOut.EncryptionStatus(ctx)
		if slices.Contains(st.Strict, "contact") {
			t.Fatalf("contact is strict while stored in plain text: %+v", st)
		}
		optOut.Close()

		// The operator turns contact encryption (back) on.
		db := storetest.OpenWith(t, dsn, kr, sqlstore.Options{})
		mustReadAll(t, db, es)
		st, _ = db.EncryptionStatus(ctx)
		if !slices.Equal(st.PendingEncryption, []string{"contact"}) {
			t.Fatalf("pending = %v; want contact", st.PendingEncryption)
		}
		res, err := db.Reencrypt(ctx, 0)
		if err != nil || res.Encrypted != 3 {
			t.Fatalf("Reencrypt = %+v, %v; want 3 encrypted", res, err)
		}
		if !keyring.IsSealed(rawGroup(t, db, es[0].ID, hrgate.GroupContact)) {
			t.Fatal("contact still in plain text")
		}
		mustReadAll(t, db, es)

		// And off again: the sealed rows still read, new ones are plain.
		db.Close()
		off := storetest.OpenWith(t, dsn, kr, sqlstore.Options{PlaintextGroups: hrgate.GroupsOf(hrgate.GroupContact)})
		more := staff(t, off, 75, 1)
		mustReadAll(t, off, append(es, more...))
	})
}

func TestDataKeyRotation(t *testing.T) {
	for _, crashAt := range []string{"", "rotate: new keys", "rotate: re-sealed", "settle: re-sealed"} {
		t.Run("Crash "+crashAt, func(t *testing.T) {
			forEachDSN(t, func(t *testing.T, dsn string) {
				ctx := context.Background()
				env := openEnc(t, dsn, sqlstore.Options{})
				es := staff(t, env.db, 76, 7)
				round, err := env.db.StartDataKeyRotation(ctx)
				if err != nil || round != 1 {
					t.Fatalf("StartDataKeyRotation = %d, %v", round, err)
				}
				// Written during the rotation: fresh keys, not rotated.
				late := staff(t, env.db, 77, 1)
				es = append(es, late...)

				crash := errors.New("crash")
				if crashAt == "settle: re-sealed" {
					// The old versions are deleted only once no instance can
					// still seal under them.
					if _, err := env.db.Reencrypt(ctx, 3); err != nil {
						t.Fatal(err)
					}
					env.advance(keyring.MaxCacheTTL + 10*time.Minute)
				}
				if crashAt != "" {
					crashed := false
					env.db.SetCrashForTest(func(step string) error {
						if step == crashAt && !crashed {
							crashed = true
							return crash
						}
						return nil
					})
					if _, err := env.db.Reencrypt(ctx, 3); !errors.Is(err, crash) {
						t.Fatalf("Reencrypt with a crash at %q = %v", crashAt, err)
					}
					// Every value reads after the crash, before the restart.
					mustReadAll(t, env.db, es)
				}
				res, err := env.db.Reencrypt(ctx, 3)
				if err != nil || (res.Rotated == 0 && crashAt != "settle: re-sealed") || res.Skipped != 0 {
					t.Fatalf("Reencrypt = %+v, %v", res, err)
				}
				mustReadAll(t, env.db, es)
				ks := storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))
				// Within keyring.MaxCacheTTL of the rotation the old versions
				// stay, as another instance may still seal under them.
				if crashAt != "settle: re-sealed" {
					if dks, _ := ks.DataKeys(ctx, []string{es[0].ID}); len(dks) != 2 {
						t.Fatalf("%s holds %d data key versions right after the rotation; want the old one kept", es[0].ID, len(dks))
					}
					env.advance(keyring.MaxCacheTTL + 10*time.Minute)
					if res, err := env.db.Reencrypt(ctx, 3); err != nil || res.Settled < 7 || res.Skipped != 0 {
						t.Fatalf("Reencrypt an hour later = %+v, %v; want the old versions of the rotated employees deleted", res, err)
					}
					mustReadAll(t, env.db, es)
				}
				for _, e := range es[:7] {
					dks, err := ks.DataKeys(ctx, []string{e.ID})
					if err != nil || len(dks) != 1 || dks[0].Version < 2 {
						t.Fatalf("data keys of %s after the rotation: %d, %v; want one version above 1", e.ID, len(dks), err)
					}
					for _, g := range hrgate.FieldGroups() {
						if v, ok := keyring.SealedKeyVersion(rawGroup(t, env.db, e.ID, g)); ok && v != dks[0].Version {
							t.Fatalf("g_%s of %s is sealed under version %d; the key store holds %d", g, e.ID, v, dks[0].Version)
						}
					}
				}
				if dks, _ := ks.DataKeys(ctx, []string{late[0].ID}); len(dks) != 1 || dks[0].Version != 1 {
					t.Fatalf("the employee written during the rotation has %d keys", len(dks))
				}
				st, err := env.db.EncryptionStatus(ctx)
				if err != nil || st.DataKeyRound != 1 || st.DataKeyRoundDone != 1 {
					t.Fatalf("status = %+v, %v", st, err)
				}
				if res, err := env.db.Reencrypt(ctx, 3); err != nil || res.Total() != 0 {
					t.Fatalf("a second Reencrypt = %+v, %v; want nothing to do", res, err)
				}
			})
		})
	}
}

// TestDataKeyRotationWithStaleInstance: another instance whose cache
// predates a rotation still seals under the old version for up to
// keyring.MaxCacheTTL. The old version must outlive that window, and what
// was sealed under it meanwhile must be re-sealed before it is deleted.
func TestDataKeyRotationWithStaleInstance(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		es := staff(t, env.db, 79, 3)
		e := es[0]
		// The other instance: same key store, same clock, its cache
		// filled before the rotation.
		other := storetest.KeyringWith(t, storetest.OpenKeyStore(t, storetest.KeysDSN(dsn)), keyring.Options{Now: env.now})
		if v, err := other.NewestDataKeyVersion(ctx, e.ID); err != nil || v != 1 {
			t.Fatalf("the other instance's version of %s = %d, %v", e.ID, v, err)
		}

		if _, err := env.db.StartDataKeyRotation(ctx); err != nil {
			t.Fatal(err)
		}
		if res, err := env.db.Reencrypt(ctx, 10); err != nil || res.Rotated != len(es) || res.Settled != 0 {
			t.Fatalf("Reencrypt = %+v, %v", res, err)
		}

		// The other instance writes e's compensation, sealed under the
		// version its cache still calls the newest.
		ref := hrgate.FieldRef{Table: "employees", RecordID: e.ID, Field: "g_compensation"}
		plain, err := env.kr.Open(ctx, e.ID, ref, rawGroup(t, env.db, e.ID, hrgate.GroupCompensation))
		if err != nil {
			t.Fatal(err)
		}
		stale, err := other.Seal(ctx, e.ID, ref, plain)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := keyring.SealedKeyVersion(stale); v != 1 {
			t.Fatalf("the other instance sealed under version %d; the test needs its stale version 1", v)
		}
		if err := env.db.ExecForTest(ctx, `UPDATE employees SET g_compensation = ? WHERE id = ?`, stale, e.ID); err != nil {
			t.Fatal(err)
		}

		// Within the window nothing is deleted, and everything reads.
		if res, err := env.db.Reencrypt(ctx, 10); err != nil || res.Settled != 0 {
			t.Fatalf("Reencrypt within the window = %+v, %v; want nothing settled", res, err)
		}
		mustReadAll(t, env.db, es)

		// After it, the stale value is re-sealed and the old versions go.
		env.advance(keyring.MaxCacheTTL + 10*time.Minute)
		if res, err := env.db.Reencrypt(ctx, 10); err != nil || res.Settled != len(es) || res.Skipped != 0 {
			t.Fatalf("Reencrypt after the window = %+v, %v; want every employee settled", res, err)
		}
		mustReadAll(t, env.db, es)
		if v, _ := keyring.SealedKeyVersion(rawGroup(t, env.db, e.ID, hrgate.GroupCompensation)); v != 2 {
			t.Fatalf("the stale value is under version %d after settling; want 2", v)
		}
		ks := storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))
		for _, x := range es {
			if dks, err := ks.DataKeys(ctx, []string{x.ID}); err != nil || len(dks) != 1 || dks[0].Version != 2 {
				t.Fatalf("data keys of %s after settling: %d, %v; want only version 2", x.ID, len(dks), err)
			}
		}
		if res, err := env.db.Reencrypt(ctx, 10); err != nil || res.Total() != 0 || res.Settled != 0 {
			t.Fatalf("a further Reencrypt = %+v, %v; want nothing to do", res, err)
		}
	})
}

// settleCounter counts the scans for owners whose data keys can settle.
type settleCounter struct {
	sqlstore.FieldCipher
	scans atomic.Int64
}

func (c *settleCounter) SettledOwners(ctx context.Context, after string, limit int) ([]string, error) {
	c.scans.Add(1)
	return c.FieldCipher.SettledOwners(ctx, after, limit)
}

// TestSettleOnlyAfterARotation: finding the owners whose old data key
// versions can go scans every data key, so Reencrypt looks only from a
// rotation until it has settled, which the state records; before the
// first rotation and after the settling it does not look at all.
func TestSettleOnlyAfterARotation(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := &encEnv{dsn: dsn, log: &logBuffer{}}
		kr := storetest.KeyringWith(t, storetest.OpenKeyStore(t, storetest.KeysDSN(dsn)), keyring.Options{Now: env.now})
		c := &settleCounter{FieldCipher: kr}
		db := openWithCipher(t, dsn, c)
		es := staff(t, db, 83, 3)
		settled := func(t *testing.T) int64 {
			t.Helper()
			st, err := db.EncryptionStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return st.DataKeyRoundSettled
		}

		if res, err := db.Reencrypt(ctx, 10); err != nil || res.Total() != 0 {
			t.Fatalf("Reencrypt before any rotation = %+v, %v", res, err)
		}
		if n := c.scans.Load(); n != 0 {
			t.Fatalf("Reencrypt before any rotation scanned for settled owners %d times; want 0", n)
		}

		if _, err := db.StartDataKeyRotation(ctx); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if res, err := db.Reencrypt(ctx, 10); err != nil || res.Settled != 0 {
				t.Fatalf("Reencrypt within the hour after the rotation = %+v, %v", res, err)
			}
		}
		// The older versions are still there, too recent to settle: the
		// job keeps looking.
		if n := c.scans.Load(); n < 2 {
			t.Fatalf("two runs after the rotation scanned for settled owners %d times; want every run", n)
		}
		if r := settled(t); r != 0 {
			t.Fatalf("settled round %d while the old versions remain; want 0", r)
		}

		env.advance(keyring.MaxCacheTTL + 10*time.Minute)
		if res, err := db.Reencrypt(ctx, 10); err != nil || res.Settled != len(es) {
			t.Fatalf("Reencrypt an hour later = %+v, %v; want every employee settled", res, err)
		}
		if r := settled(t); r != 1 {
			t.Fatalf("settled round %d after settling; want 1", r)
		}
		c.scans.Store(0)
		for range 2 {
			if res, err := db.Reencrypt(ctx, 10); err != nil || res.Total() != 0 || res.Settled != 0 {
				t.Fatalf("Reencrypt after settling = %+v, %v", res, err)
			}
		}
		if n := c.scans.Load(); n != 0 {
			t.Fatalf("runs after the rotation settled scanned for settled owners %d times; want 0", n)
		}
		mustReadAll(t, db, es)
	})
}

// dataKeyReads counts the look-ups of employees' data keys in the key
// store (not those of the encryption state's own key).
type dataKeyReads struct {
	hrgate.KeyringStore
	reads atomic.Int64
}

func (s *dataKeyReads) DataKeys(ctx context.Context, owners []string) ([]*hrgate.DataKey, error) {
	if !slices.Equal(owners, []string{"datastore"}) {
		s.reads.Add(1)
	}
	return s.KeyringStore.DataKeys(ctx, owners)
}

// TestSettleReadsKeysOncePerBatch: settling looks the keys of a batch up
// in one query, not one per employee, although none of them is cached
// any more an hour after the rotation.
func TestSettleReadsKeysOncePerBatch(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := &encEnv{dsn: dsn, log: &logBuffer{}}
		ks := &dataKeyReads{KeyringStore: storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))}
		p, err := keyring.NewLocalProvider(storetest.MasterKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		kr, err := keyring.Open(ctx, ks, p, keyring.Options{Now: env.now})
		if err != nil {
			t.Fatal(err)
		}
		db := storetest.OpenWith(t, dsn, kr, sqlstore.Options{})
		es := staff(t, db, 84, 6)
		if _, err := db.StartDataKeyRotation(ctx); err != nil {
			t.Fatal(err)
		}
		if res, err := db.Reencrypt(ctx, 10); err != nil || res.Rotated != len(es) {
			t.Fatalf("Reencrypt = %+v, %v", res, err)
		}
		env.advance(keyring.MaxCacheTTL + 10*time.Minute)
		ks.reads.Store(0)
		if res, err := db.Reencrypt(ctx, 10); err != nil || res.Settled != len(es) {
			t.Fatalf("Reencrypt an hour later = %+v, %v; want every employee settled", res, err)
		}
		if n := ks.reads.Load(); n != 1 {
			t.Fatalf("settling %d employees in one batch read data keys %d times; want 1", len(es), n)
		}
		mustReadAll(t, db, es)
	})
}

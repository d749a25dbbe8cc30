package sqlstore_test

import (
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/pgtest"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// backend is one database the contract suite runs against. dsn returns the
// DSN of a fresh, empty database that is removed when tb ends.
type backend struct {
	name string
	dsn  func(tb testing.TB) string
}

func backends() []backend {
	return []backend{
		{name: "sqlite", dsn: sqliteDSN},
		{name: "postgres", dsn: postgresDSN},
	}
}

// forEachDB runs fn once per database, in subtests named after it, each on
// a fresh migrated store.
func forEachDB(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	forEachDSN(t, func(t *testing.T, dsn string) {
		fn(t, MustOpenDB(t, dsn))
	})
}

// forEachDSN is forEachDB for tests that open the database themselves.
func forEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			fn(t, b.dsn(t))
		})
	}
}

// sqliteDSN returns the path of a database file in a fresh temporary
// directory.
func sqliteDSN(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "hrgate.db")
}

// postgresDSN returns a fresh schema on the server named by
// HRGATE_TEST_POSTGRES, or skips.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	return pgtest.Schema(tb, pgtest.URL(tb))
}

// MustOpenDB opens and migrates the database at dsn, with the keyring of
// its key store (storetest.KeysDSN), and closes it when tb ends.
func MustOpenDB(tb testing.TB, dsn string) *sqlstore.DB {
	tb.Helper()
	return openWithCipher(tb, dsn, storetest.Keyring(tb, storetest.KeysDSN(dsn)))
}

// openWithCipher is MustOpenDB with c as the field cipher: a keyring, or
// a wrapper of one that a test watches.
func openWithCipher(tb testing.TB, dsn string, c sqlstore.FieldCipher) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{AutoMigrate: true, Cipher: c})
	if err != nil {
		tb.Fatalf("open %s: %v", hrgate.RedactDSN(dsn), err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return db
}

// ids issues deterministic ids from a seeded stream, so that failures
// reproduce.
type ids struct {
	r *mathrand.ChaCha8
}

func newIDs(seed byte) *ids {
	return &ids{r: mathrand.NewChaCha8([32]byte{seed})}
}

func (g *ids) new(tb testing.TB, prefix string) string {
	tb.Helper()
	id, err := hrgate.NewID(prefix, g.r)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// ts returns a UTC time at microsecond precision, the precision the store
// keeps.
func ts(sec int) time.Time {
	return time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(sec)*time.Second + 123456*time.Microsecond)
}

// newCompany returns a company with every field set.
func newCompany(tb testing.TB, g *ids, slug string, sandbox bool) *hrgate.Company {
	tb.Helper()
	return &hrgate.Company{
		ID:         g.new(tb, hrgate.PrefixCompany),
		Slug:       slug,
		Name:       "Société " + slug + " ✓",
		Country:    "FR",
		Sandbox:    sandbox,
		SourceID:   "src_hris",
		RemoteID:   "remote-" + slug,
		CreatedAt:  ts(1),
		ModifiedAt: ts(2),
	}
}

// newEmployee returns an employee of company c with every field of every
// group set, including non-ASCII text.
func newEmployee(tb testing.TB, g *ids, c *hrgate.Company, n int) *hrgate.Employee {
	tb.Helper()
	id := g.new(tb, hrgate.PrefixEmployee)
	return &hrgate.Employee{
		ID:         id,
		CompanyID:  c.ID,
		SourceID:   "src_hris",
		RemoteID:   fmt.Sprintf("%s-e%d", c.Slug, n),
		CreatedAt:  ts(10 + n),
		ModifiedAt: ts(100 + n),
		Identity: hrgate.Identity{
			EmployeeNumber: fmt.Sprintf("E%05d", n),
			FirstName:      "Zoë",
			LastName:       "Ørsted-Müller 山田",
			PreferredName:  "Zo",
			WorkEmail:      fmt.Sprintf("zoe%d@example.com", n),
		},
		Employment: hrgate.Employment{
			JobTitle:        "Ingénieure",
			Department:      "R&D",
			ManagerID:       "emp_manager",
			WorkLocationID:  "loc_paris",
			StartDate:       "2020-01-15",
			TerminationDate: "2030-12-31",
			Status:          hrgate.StatusActive,
			Type:            hrgate.TypeFullTime,
		},
		Contact: hrgate.Contact{
			PersonalEmail: "zoe@example.org",
			Phone:         "+33 1 23 45 67 89",
			HomeAddress: hrgate.Address{
				Line1: "1 rue de l'Église", Line2: "Bât. B", City: "Paris", Region: "IDF",
				PostalCode: "75001", Country: "FR",
			},
		},
		Personal:     hrgate.Personal{DateOfBirth: "1990-02-03", Gender: "female", MaritalStatus: "single"},
		Compensation: hrgate.Compensation{PayRate: "85000.00", PayPeriod: "year", PayCurrency: "EUR", PayFrequency: "monthly"},
		Banking: hrgate.BankAccount{
			BankName: "Banque ☃", AccountHolder: "Zoë Ørsted", IBAN: "FR7630006000011234567890189",
			AccountNumber: "12345678901", RoutingNumber: "30006",
		},
		GovernmentID: hrgate.NationalID{Type: "nir", Value: "2900275123456 78"},
	}
}

// mustInsert inserts b or fails the test.
func mustInsert(tb testing.TB, db *sqlstore.DB, b *hrgate.Batch) {
	tb.Helper()
	if err := db.InsertBatch(context.Background(), b); err != nil {
		tb.Fatalf("InsertBatch: %v", err)
	}
}

// wantCode fails the test unless err has the given error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := hrgate.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

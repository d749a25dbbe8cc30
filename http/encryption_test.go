package http_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// allGroups is a grant that lets every field group out in the clear.
const allGroups = "employees:read:identity,employment,contact,personal,compensation,banking,government_id companies:*"

// TestSearchByBlindIndex: a credential granted the field group finds the
// employee by national id or personal e-mail; any other gets the same 403
// whether the value exists or not, and so learns nothing.
func TestSearchByBlindIndex(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := MustOpenEnv(t, dsn(t))
			mustConsumer(t, e.gate, "hr", "employees:read:identity,contact,government_id companies:*")
			mustConsumer(t, e.gate, "masked", "employees:read:identity employees:read_masked:contact,government_id companies:*")
			hr, masked := mustKey(t, e.gate, "hr", true), mustKey(t, e.gate, "masked", true)
			target := e.seeded[1].Employees[3]
			nid, email := target.GovernmentID.Value, target.Contact.PersonalEmail

			for _, tt := range []struct {
				name, query string
				want        []string
			}{
				{"NationalID", "national_id=" + url.QueryEscape(nid), []string{target.ID}},
				{"NationalIDWithoutSeparators", "national_id=" + url.QueryEscape(strings.NewReplacer("-", "", " ", "").Replace(nid)), []string{target.ID}},
				{"PersonalEmailUpperCase", "personal_email=" + url.QueryEscape(strings.ToUpper(email)), []string{target.ID}},
				{"Unknown", "national_id=666-00-0001", nil},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := e.get(t, hr, "/v1/employees?"+tt.query)
					if r.status != 200 {
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					var got []string
					for _, it := range r.items(t) {
						got = append(got, it["id"].(string))
					}
					if strings.Join(got, ",") != strings.Join(tt.want, ",") {
						t.Fatalf("found %v; want %v", got, tt.want)
					}
					if tt.want != nil && !strings.Contains(string(r.body), nid) {
						t.Fatalf("the match lacks its national id: %s", r.body)
					}
				})
			}

			for _, caller := range []struct{ name, key string }{{"Payroll", e.payroll}, {"Planner", e.planner}, {"MaskedGroups", masked}} {
				t.Run("Refused"+caller.name, func(t *testing.T) {
					for _, pair := range [][2]string{
						{"national_id=" + url.QueryEscape(nid), "national_id=666-00-0001"},
						{"personal_email=" + url.QueryEscape(email), "personal_email=nobody%40example.org"},
						// Bad input too: the refusal comes first.
						{"national_id=" + url.QueryEscape(nid), "national_id=%27%3B--"},
					} {
						hit, miss := e.get(t, caller.key, "/v1/employees?"+pair[0]), e.get(t, caller.key, "/v1/employees?"+pair[1])
						if hit.status != 403 || miss.status != 403 {
							t.Fatalf("%s: status %d and %d; want 403 for both", pair[0], hit.status, miss.status)
						}
						if a, b := problemWithoutRequestID(t, hit), problemWithoutRequestID(t, miss); a != b {
							t.Fatalf("the answers differ with the value:\n%s\n%s", a, b)
						}
					}
				})
			}

			t.Run("BadInput", func(t *testing.T) {
				for _, q := range []string{
					"national_id=" + strings.Repeat("1", 65),
					"national_id=%27%3B--",
					"national_id=12%0A34",
					"personal_email=not-an-address",
					"personal_email=a%20b%40example.org",
					"personal_email=" + strings.Repeat("a", 250) + "%40x.org",
				} {
					r := e.get(t, hr, "/v1/employees?"+q)
					if r.status != 400 {
						t.Fatalf("%s: status %d; want 400: %s", q, r.status, r.body)
					}
					if strings.Contains(string(r.body), "DROP") || strings.Contains(string(r.body), "aaaa") {
						t.Fatalf("the error echoes the input: %s", r.body)
					}
				}
			})
		})
	}
}

// sensitiveValues returns the sandbox values that must never be stored in
// the clear: national ids, IBANs, account numbers, pay rates and dates of
// birth. Each is the byte string to look for: the value itself, or, for
// values short enough to occur by chance in unrelated bytes, the value
// framed as the group codec stores it (length, value, length of the next
// field), which is how a plain-text group would hold it. Values that also
// occur in a field that is stored in the clear by design (a date of birth
// equal to some start date) are left out.
func sensitiveValues(batches []*hrgate.Batch) map[string]string {
	var clear strings.Builder
	for _, b := range batches {
		for _, c := range b.Companies {
			clear.WriteString(c.Name + "\x00" + c.Slug + "\x00")
		}
		for _, l := range b.Locations {
			clear.WriteString(l.Name + "\x00" + l.Address.Line1 + "\x00" + l.Address.PostalCode + "\x00")
		}
		for _, e := range b.Employees {
			i, m := e.Identity, e.Employment
			for _, s := range []string{e.RemoteID, i.EmployeeNumber, i.FirstName, i.LastName, i.PreferredName, i.WorkEmail,
				m.JobTitle, m.Department, m.StartDate, m.TerminationDate} {
				clear.WriteString(s + "\x00")
			}
		}
		for _, r := range b.TimeOffRequests {
			clear.WriteString(r.StartDate + "\x00" + r.EndDate + "\x00" + r.Amount + "\x00" + r.RemoteID + "\x00")
		}
		for _, r := range b.TimeOffBalances {
			clear.WriteString(r.Balance + "\x00" + r.Used + "\x00" + r.RemoteID + "\x00")
		}
	}
	inClear := clear.String()
	out := map[string]string{}
	add := func(what, v, next string) {
		if v == "" || strings.Contains(inClear, v) {
			return
		}
		needle := v
		if len(v) < 8 {
			needle = string(rune(len(v))) + v + string(rune(len(next))) + next
		}
		out[needle] = what
	}
	for _, b := range batches {
		for _, e := range b.Employees {
			add("national id", e.GovernmentID.Value, "")
			add("IBAN", e.Banking.IBAN, e.Banking.AccountNumber)
			add("account number", e.Banking.AccountNumber, e.Banking.RoutingNumber)
			add("pay rate", e.Compensation.PayRate, e.Compensation.PayPeriod)
			add("date of birth", e.Personal.DateOfBirth, e.Personal.Gender)
		}
	}
	return out
}

// findPlaintext returns the sensitive values that occur in data, raw or
// hex-encoded (as pg_dump writes bytea).
func findPlaintext(data []byte, values map[string]string) []string {
	var found []string
	lower := bytes.ToLower(data)
	for v, what := range values {
		if bytes.Contains(data, []byte(v)) || bytes.Contains(lower, []byte(hex.EncodeToString([]byte(v)))) {
			found = append(found, what+" "+strings.ToValidUTF8(strings.TrimLeft(v, "\x00\x01\x02\x03\x04\x05\x06\x07\x08"), "?"))
		}
	}
	return found
}

// TestSandboxEncryptedAtRest is the acceptance test of field encryption:
// after the sandbox is seeded through the Import the CLI uses, with a real
// keyring, no national id, IBAN, account number, pay rate or date of birth
// is in the SQLite files (WAL included, key store too) or in a pg_dump,
// and the API still returns every one of them to a credential granted
// their groups.
func TestSandboxEncryptedAtRest(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			logs := &lockedBuffer{}
			e := openEnv(t, dsn(t), slog.New(slog.NewJSONHandler(logs, nil)), false)
			values := sensitiveValues(e.seeded)
			if len(values) < 400 {
				t.Fatalf("only %d values to look for", len(values))
			}

			dumps := dumpDatabase(t, e.dsn)
			if name == "sqlite" && len(dumps["hrgate.db-wal"]) == 0 {
				t.Fatal("the WAL is empty: the test would not look at recent writes")
			}
			for file, data := range dumps {
				if found := findPlaintext(data, values); len(found) > 0 {
					t.Errorf("%s holds %d sensitive values in the clear, e.g. %q", file, len(found), found[:min(5, len(found))])
				}
			}
			t.Run("ControlPlainTextIsFound", func(t *testing.T) {
				// The same data in a store without encryption: the search
				// must find nearly every value, or it proves nothing.
				plainDSN := dsn(t)
				plain := storetest.OpenWith(t, plainDSN, nil, sqlstore.Options{InsecurePlaintext: true})
				err := plain.Import(context.Background(), func(put func(*hrgate.Batch) error) error {
					for _, b := range e.seeded {
						if err := put(b); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				var all []byte
				for _, b := range dumpDatabase(t, plainDSN) {
					all = append(all, b...)
				}
				if found := findPlaintext(all, values); len(found) < len(values)*95/100 {
					t.Fatalf("the search finds %d of %d values in a plain-text store", len(found), len(values))
				}
			})
			t.Run("APIReturnsThem", func(t *testing.T) {
				mustConsumer(t, e.gate, "all", allGroups)
				key := mustKey(t, e.gate, "all", true)
				r := e.get(t, key, "/v1/employees?limit=200")
				if r.status != 200 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				var list struct {
					Data []struct {
						ID           string `json:"id"`
						DateOfBirth  string `json:"date_of_birth"`
						Compensation struct {
							PayRate json.Number `json:"pay_rate"`
						} `json:"compensation"`
						BankAccount struct {
							IBAN          string `json:"iban"`
							AccountNumber string `json:"account_number"`
						} `json:"bank_account"`
						NationalID struct {
							Value string `json:"value"`
						} `json:"national_id"`
					} `json:"data"`
				}
				dec := json.NewDecoder(bytes.NewReader(r.body))
				dec.UseNumber()
				if err := dec.Decode(&list); err != nil {
					t.Fatal(err)
				}
				got := map[string]string{}
				for _, it := range list.Data {
					got[it.ID] = strings.Join([]string{it.NationalID.Value, it.BankAccount.IBAN, it.BankAccount.AccountNumber,
						it.Compensation.PayRate.String(), it.DateOfBirth}, "|")
				}
				n := 0
				for _, b := range e.seeded {
					for _, emp := range b.Employees {
						want := strings.Join([]string{emp.GovernmentID.Value, emp.Banking.IBAN, emp.Banking.AccountNumber,
							emp.Compensation.PayRate, emp.Personal.DateOfBirth}, "|")
						if got[emp.ID] != want {
							t.Fatalf("employee %s reads %q; want %q", emp.ID, got[emp.ID], want)
						}
						n++
					}
				}
				if n != 120 {
					t.Fatalf("checked %d employees", n)
				}
			})

			t.Run("MovedCiphertextIsAnInternalErrorLoggedWithoutValue", func(t *testing.T) {
				mustConsumer(t, e.gate, "bank", "employees:read:identity,banking companies:*")
				key := mustKey(t, e.gate, "bank", true)
				a, b := e.seeded[1].Employees[0], e.seeded[1].Employees[1]
				moveBanking(t, e, b.ID, a.ID)
				r := e.get(t, key, "/v1/employees/"+a.ID)
				if r.status != 500 || !strings.Contains(string(r.body), "Internal error.") {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				assertNoInternals(t, r.body)
				for _, v := range []string{a.Banking.IBAN, b.Banking.IBAN, a.Banking.AccountNumber, b.Banking.AccountNumber} {
					if v == "" {
						continue
					}
					if strings.Contains(string(r.body), v) || strings.Contains(logs.String(), v) {
						t.Fatalf("the answer or the log carries the value %q", v)
					}
				}
				if !strings.Contains(logs.String(), a.ID) || !strings.Contains(logs.String(), `"group":"banking"`) {
					t.Fatalf("the log does not name the employee and group:\n%s", logs.String())
				}
				// Other employees still read.
				if r := e.get(t, key, "/v1/employees/"+b.ID); r.status != 200 || !strings.Contains(string(r.body), b.Banking.AccountNumber) {
					t.Fatalf("another employee: %d %s", r.status, r.body)
				}
			})
		})
	}
}

// dumpDatabase returns the bytes of the data store at dsn by file: the
// SQLite file, its WAL and the key store beside it, or a pg_dump of the
// PostgreSQL schema (which holds the key store tables too).
func dumpDatabase(t *testing.T, dsn string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if !strings.HasPrefix(dsn, "postgres") {
		for _, f := range []string{dsn, dsn + "-wal", storetest.KeysDSN(dsn), storetest.KeysDSN(dsn) + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatalf("read %s: %v", f, err)
			}
			out[filepath.Base(f)] = b
		}
		return out
	}
	out["pg_dump"] = storetest.Dump(t, dsn)
	return out
}

// moveBanking copies the sealed banking group of one employee onto another,
// as an attacker with write access to the database would.
func moveBanking(t *testing.T, e *testEnv, from, to string) {
	t.Helper()
	driver, q := "sqlite", `UPDATE employees SET g_banking = (SELECT g_banking FROM employees WHERE id = ?) WHERE id = ?`
	if strings.HasPrefix(e.dsn, "postgres") {
		driver, q = "pgx", `UPDATE employees SET g_banking = (SELECT g_banking FROM employees WHERE id = $1) WHERE id = $2`
	}
	db, err := sql.Open(driver, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), q, from, to); err != nil {
		t.Fatal(err)
	}
}

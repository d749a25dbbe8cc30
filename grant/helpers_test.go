package grant_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
)

// fullScopes reads every employee field group in clear.
const fullScopes = "employees:read:identity,employment,contact,personal,compensation,banking,government_id"

var (
	created  = time.Date(2024, 3, 1, 9, 30, 0, 123456789, time.UTC)
	modified = time.Date(2025, 1, 2, 3, 4, 5, 6000000, time.FixedZone("CET", 3600))
)

// fullEmployee returns an employee with every field set to a value that
// appears nowhere else, so a test can search the output for it.
func fullEmployee() *hrgate.Employee {
	return &hrgate.Employee{
		ID:         "emp_0123456789abcdefghjkmnpqrs",
		CompanyID:  "com_0123456789abcdefghjkmnpqrs",
		SourceID:   "src_0123456789abcdefghjkmnpqrs",
		RemoteID:   "remote-42",
		CreatedAt:  created,
		ModifiedAt: modified,
		Loaded:     hrgate.AllGroups,
		Identity: hrgate.Identity{
			EmployeeNumber: "E-1001",
			FirstName:      "Jane",
			LastName:       "Doe",
			PreferredName:  "Janie",
			WorkEmail:      "jane.doe@acme.example",
		},
		Employment: hrgate.Employment{
			JobTitle:        "Payroll Specialist",
			Department:      "Finance",
			ManagerID:       "emp_zzzzzzzzzzzzzzzzzzzzzzzzzz",
			WorkLocationID:  "loc_0123456789abcdefghjkmnpqrs",
			StartDate:       "2019-04-01",
			TerminationDate: "2026-06-30",
			Status:          hrgate.StatusActive,
			Type:            hrgate.TypeFullTime,
		},
		Contact: hrgate.Contact{
			PersonalEmail: "jane@home.example",
			Phone:         "+49 30 5550199",
			HomeAddress: hrgate.Address{
				Line1: "Hauptstrasse 1", Line2: "Hinterhaus", City: "Berlin",
				Region: "BE", PostalCode: "10115", Country: "DE",
			},
		},
		Personal: hrgate.Personal{
			DateOfBirth:   "1990-05-17",
			Gender:        "female",
			MaritalStatus: "married",
		},
		Compensation: hrgate.Compensation{
			PayRate: "85000.00", PayPeriod: "year", PayCurrency: "EUR", PayFrequency: "monthly",
		},
		Banking: hrgate.BankAccount{
			BankName:      "Commerzbank",
			AccountHolder: "Mrs J Doe",
			IBAN:          "DE89370400440532013000",
			AccountNumber: "0532013000",
			RoutingNumber: "37040044",
		},
		GovernmentID: hrgate.NationalID{Type: "ssn", Value: "987-65-4329"},
	}
}

// decode checks that b is one valid JSON object and decodes it.
func decode(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	if !json.Valid(b) {
		tb.Fatalf("invalid JSON: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// keys returns the sorted keys of m.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// paths returns the member names of the JSON object b in document order,
// dotted for nested objects, each object's name before its members.
func paths(tb testing.TB, b []byte) []string {
	tb.Helper()
	var out []string
	var walk func(prefix string, b []byte)
	walk = func(prefix string, b []byte) {
		dec := json.NewDecoder(bytes.NewReader(b))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			tb.Fatalf("want an object in %s, got %v, %v", b, tok, err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				tb.Fatal(err)
			}
			name := prefix + tok.(string)
			out = append(out, name)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				tb.Fatal(err)
			}
			if len(v) > 0 && v[0] == '{' {
				walk(name+".", v)
			}
		}
	}
	walk("", b)
	return out
}

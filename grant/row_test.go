package grant_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

// leaves flattens a decoded JSON object into dotted paths and text, the way
// a flat export writes them: null as "", numbers as written.
func leaves(tb testing.TB, b []byte) map[string]string {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch v := v.(type) {
			case map[string]any:
				walk(prefix+k+".", v)
			case nil:
				out[prefix+k] = ""
			default:
				out[prefix+k] = fmt.Sprint(v)
			}
		}
	}
	walk("", m)
	return out
}

// TestAppendEmployeeRow_MatchesJSON proves that exports and the API cannot
// disagree: every row value equals the JSON value of the same field.
func TestAppendEmployeeRow_MatchesJSON(t *testing.T) {
	odd := fullEmployee()
	odd.Identity.FirstName = "J\xffane <\"x\">"
	odd.Compensation.PayRate = "1e9"
	odd.Banking = hrgate.BankAccount{}
	odd.Contact.HomeAddress = hrgate.Address{City: "Köln"}
	tests := []struct {
		name   string
		e      *hrgate.Employee
		scopes string
	}{
		{"Full", fullEmployee(), fullScopes},
		{"FullMasked", fullEmployee(), strings.Replace(fullScopes, ":read:", ":read_masked:", 1)},
		{"Mixed", fullEmployee(), "employees:read:identity,compensation employees:read_masked:banking,government_id"},
		{"OddValues", odd, fullScopes},
		{"OddValuesMasked", odd, strings.Replace(fullScopes, ":read:", ":read_masked:", 1)},
		{"Empty", &hrgate.Employee{Loaded: hrgate.AllGroups}, fullScopes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := grant.MustParse(tt.scopes)
			cols := grant.EmployeeColumns(g)
			row := grant.AppendEmployeeRow(nil, tt.e, g)
			if len(row) != len(cols) {
				t.Fatalf("%d values for %d columns", len(row), len(cols))
			}
			js := leaves(t, grant.AppendEmployee(nil, tt.e, g))
			for i, c := range cols {
				if want, ok := js[c]; ok && row[i] != want {
					t.Errorf("%s: row %q, JSON %q", c, row[i], want)
				}
				if _, ok := js[c]; !ok && row[i] != "" {
					t.Errorf("%s: row %q for a null object", c, row[i])
				}
			}
		})
	}
}

func TestEmployeeColumns(t *testing.T) {
	var leafNames []string
	for _, f := range grant.Fields("employee") {
		if f.Type != "object" {
			leafNames = append(leafNames, f.Name)
		}
	}
	if got := grant.EmployeeColumns(grant.MustParse(fullScopes)); !slices.Equal(got, leafNames) {
		t.Errorf("full columns = %q, want %q", got, leafNames)
	}
	want := append(slices.Clone(envelopeKeys), "national_id.type", "national_id.value")
	if got := grant.EmployeeColumns(grant.MustParse("employees:read_masked:government_id employees:write:banking")); !slices.Equal(got, want) {
		t.Errorf("columns = %q, want %q", got, want)
	}
	if got := grant.EmployeeColumns(nil); !slices.Equal(got, envelopeKeys) {
		t.Errorf("nil grant columns = %q", got)
	}
}

func TestAppendEmployeeRow(t *testing.T) {
	t.Run("UnloadedGroupEmpty", func(t *testing.T) {
		e := fullEmployee()
		e.Loaded = hrgate.GroupsOf(hrgate.GroupIdentity)
		g := grant.MustParse("employees:read:identity,banking")
		row := grant.AppendEmployeeRow(nil, e, g)
		for i, c := range grant.EmployeeColumns(g) {
			if strings.HasPrefix(c, "bank_account.") && row[i] != "" {
				t.Errorf("%s = %q from an unloaded group", c, row[i])
			}
		}
	})
	t.Run("Masked", func(t *testing.T) {
		g := grant.MustParse("employees:read_masked:banking,compensation")
		row := grant.AppendEmployeeRow(nil, fullEmployee(), g)
		got := map[string]string{}
		for i, c := range grant.EmployeeColumns(g) {
			got[c] = row[i]
		}
		if got["bank_account.iban"] != "******************3000" || got["compensation.pay_rate"] != "****" ||
			got["compensation.pay_currency"] != "EUR" {
			t.Errorf("masked row = %q", got)
		}
	})
	t.Run("NilEmployee", func(t *testing.T) {
		g := grant.MustParse(fullScopes)
		row := grant.AppendEmployeeRow([]string{"x"}, nil, g)
		if len(row) != 1+len(grant.EmployeeColumns(g)) || slices.ContainsFunc(row[1:], func(s string) bool { return s != "" }) {
			t.Errorf("row for nil employee = %q", row)
		}
	})
}

package grant_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		want   string // canonical String()
	}{
		{"Empty", nil, ""},
		{"EmptyString", []string{""}, ""},
		{"OnlyWhitespace", []string{" \t\r\n "}, ""},
		{"OneGroup", []string{"employees:read:identity"}, "employees:read:identity"},
		{"GroupsCanonicalOrder", []string{"employees:read:banking,identity,employment"}, "employees:read:identity,employment,banking"},
		{"DuplicateGroup", []string{"employees:read:identity,identity"}, "employees:read:identity"},
		{"AllGroups", []string{"employees:read:identity,employment,contact,personal,compensation,banking,government_id"},
			"employees:read:identity,employment,contact,personal,compensation,banking,government_id"},
		{"Masked", []string{"employees:read_masked:banking,government_id"}, "employees:read_masked:banking,government_id"},
		{"ReadWinsOverMasked", []string{"employees:read_masked:banking,identity employees:read:banking"},
			"employees:read:banking employees:read_masked:identity"},
		{"ReadAndMaskedSameGroupOnly", []string{"employees:read:identity employees:read_masked:identity"}, "employees:read:identity"},
		{"WriteSeparate", []string{"employees:write:employment employees:read:identity"},
			"employees:read:identity employees:write:employment"},
		{"SeveralArgsAndSeparators", []string{"time_off:read\tteams:read", "locations:read\naudit:read\r\n", "time_off:write"},
			"audit:read locations:read teams:read time_off:read time_off:write"},
		{"GroupsMergeAcrossScopes", []string{"employees:read:identity employees:read:banking"}, "employees:read:identity,banking"},
		{"CompaniesSorted", []string{"companies:globex,acme"}, "companies:acme,globex"},
		{"CompaniesMerged", []string{"companies:globex companies:acme,globex"}, "companies:acme,globex"},
		{"CompanyID", []string{"companies:com_0123456789abcdefghjkmnpqrs"}, "companies:com_0123456789abcdefghjkmnpqrs"},
		{"CompaniesStar", []string{"companies:*"}, "companies:*"},
		{"CompaniesStarAbsorbs", []string{"companies:acme,* companies:globex"}, "companies:*"},
		{"SlugWithDigitsAndDash", []string{"companies:0-acme-2"}, "companies:0-acme-2"},
		{"SlugMaxLength", []string{"companies:" + strings.Repeat("a", 63)}, "companies:" + strings.Repeat("a", 63)},
		{"Mixed", []string{"companies:acme employees:read:identity,employment time_off:read"},
			"companies:acme employees:read:identity,employment time_off:read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := grant.Parse(tt.scopes...)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.scopes, err)
			}
			if got := g.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if g.IsEmpty() != (tt.want == "") {
				t.Errorf("IsEmpty() = %v for %q", g.IsEmpty(), tt.want)
			}
		})
	}
}

func TestParse_Errors(t *testing.T) {
	long := "companies:" + strings.Repeat("a", 600)
	tests := []struct {
		name   string
		scopes []string
		want   string // the whole message
	}{
		{"ErrUnknownGroup", []string{"employees:read:salary"},
			`invalid scope "employees:read:salary": unknown field group "salary"`},
		{"ErrUnknownResource", []string{"employes:read"},
			`invalid scope "employes:read": unknown resource "employes"`},
		{"ErrEmployeesWithoutGroups", []string{"employees:read"},
			`invalid scope "employees:read": employees scopes must name field groups (e.g. employees:read:identity)`},
		{"ErrNoAllGroup", []string{"employees:read:all"},
			`invalid scope "employees:read:all": unknown field group "all"`},
		{"ErrStarGroup", []string{"employees:read:*"},
			`invalid scope "employees:read:*": unknown field group "*"`},
		{"ErrMaskedTimeOff", []string{"time_off:read_masked"},
			`invalid scope "time_off:read_masked": access "read_masked" is not allowed for time_off`},
		{"ErrWriteTeams", []string{"teams:write"},
			`invalid scope "teams:write": access "write" is not allowed for teams`},
		{"ErrWriteAudit", []string{"audit:write"},
			`invalid scope "audit:write": access "write" is not allowed for audit`},
		{"ErrUnknownAccess", []string{"employees:reed:identity"},
			`invalid scope "employees:reed:identity": unknown access "reed"`},
		{"ErrMissingAccess", []string{"time_off"},
			`invalid scope "time_off": missing access (e.g. time_off:read)`},
		{"ErrGroupsOnOtherResource", []string{"time_off:read:identity"},
			`invalid scope "time_off:read:identity": time_off scopes do not take field groups`},
		{"ErrDoubleColon", []string{"employees::identity"},
			`invalid scope "employees::identity": empty segment between ":"`},
		{"ErrTrailingColon", []string{"employees:read:"},
			`invalid scope "employees:read:": empty segment between ":"`},
		{"ErrLeadingColon", []string{":read"},
			`invalid scope ":read": empty segment between ":"`},
		{"ErrTooManySegments", []string{"employees:read:identity:x"},
			`invalid scope "employees:read:identity:x": too many ":" segments`},
		{"ErrTrailingCommaGroups", []string{"employees:read:identity,"},
			`invalid scope "employees:read:identity,": empty field group`},
		{"ErrLeadingCommaGroups", []string{"employees:read:,identity"},
			`invalid scope "employees:read:,identity": empty field group`},
		{"ErrDoubleComma", []string{"employees:read:identity,,banking"},
			`invalid scope "employees:read:identity,,banking": empty field group`},
		{"ErrCommaBetweenScopes", []string{"time_off:read,teams:read"},
			`invalid scope "time_off:read,teams:read": unknown access "read,teams"`},
		{"ErrUpperCase", []string{"Employees:read:identity"},
			`invalid scope "Employees:read:identity": scopes are lower case`},
		{"ErrUpperCaseGroup", []string{"employees:read:IDENTITY"},
			`invalid scope "employees:read:IDENTITY": scopes are lower case`},
		{"ErrControlChar", []string{"employees:read:identity\x00"},
			`invalid scope "employees:read:identity\x00": control character '\x00'`},
		{"ErrVerticalTab", []string{"audit:read\vteams:read"},
			`invalid scope "audit:read\vteams:read": control character '\v'`},
		{"ErrInvalidUTF8", []string{"audit:read\xff"},
			`invalid scope "audit:read\xff": invalid UTF-8`},
		{"ErrLookAlike", []string{"audit:reаd"}, // Cyrillic a
			`invalid scope "audit:re\u0430d": invalid character '\u0430'`},
		{"ErrBidiOverride", []string{"audit:read\u202e"},
			`invalid scope "audit:read\u202e": invalid character '\u202e'`},
		{"ErrNonBreakingSpace", []string{"audit:read\u00a0teams:read"},
			`invalid scope "audit:read\u00a0teams:read": invalid character '\u00a0'`},
		{"ErrPunctuation", []string{"audit:read;"},
			`invalid scope "audit:read;": invalid character ';'`},
		{"ErrCompaniesAlone", []string{"companies"},
			`invalid scope "companies": companies scopes must name companies (e.g. companies:acme or companies:*)`},
		{"ErrCompaniesEmpty", []string{"companies:"},
			`invalid scope "companies:": empty segment between ":"`},
		{"ErrCompaniesTrailingComma", []string{"companies:acme,"},
			`invalid scope "companies:acme,": empty company selector`},
		{"ErrCompaniesTooManySegments", []string{"companies:acme:read"},
			`invalid scope "companies:acme:read": too many ":" segments`},
		{"ErrCompaniesRead", []string{"companies:read"},
			`invalid scope "companies:read": company selector "read" is reserved; name the company by id, or use companies:* for every company`},
		{"ErrCompaniesBadID", []string{"companies:com_short"},
			`invalid scope "companies:com_short": invalid company selector "com_short" (want a company id, a slug or *)`},
		{"ErrCompaniesWrongPrefix", []string{"companies:emp_0123456789abcdefghjkmnpqrs"},
			`invalid scope "companies:emp_0123456789abcdefghjkmnpqrs": invalid company selector "emp_0123456789abcdefghjkmnpqrs" (want a company id, a slug or *)`},
		{"ErrCompaniesSlugDash", []string{"companies:-acme"},
			`invalid scope "companies:-acme": invalid company selector "-acme" (want a company id, a slug or *)`},
		{"ErrCompaniesStarPattern", []string{"companies:ac*"},
			`invalid scope "companies:ac*": invalid company selector "ac*" (want a company id, a slug or *)`},
		{"ErrCompaniesSlugTooLong", []string{"companies:" + strings.Repeat("a", 64)},
			`invalid scope "companies:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"…: invalid company selector "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (want a company id, a slug or *)`},
		{"ErrScopeTooLong", []string{long},
			`invalid scope "companies:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"…: longer than 512 bytes`},
		{"ErrInputTooLong", []string{strings.Repeat("audit:read ", 1500)},
			`invalid scopes: 16500 bytes in total, more than the limit of 16384`},
		{"ErrInputTooLongAcrossArgs", []string{strings.Repeat(" ", 10000), strings.Repeat(" ", 10000)},
			`invalid scopes: 20000 bytes in total, more than the limit of 16384`},
		{"ErrSecondScopeBad", []string{"employees:read:identity", "time_off:read teems:read"},
			`invalid scope "teems:read": unknown resource "teems"`},
		// A secret pasted where a scope belongs, whole or cut short, is
		// named, not repeated.
		{"ErrSecretPasted", []string{"hrg_live_" + strings.Repeat("a", 49)},
			`invalid scope "(an API key, not repeated)": unknown resource "(an API key, not repeated)"`},
		{"ErrSecretCutShort", []string{"employees:read:hrg_cs_abc"},
			`invalid scope "(an OAuth client's secret, not repeated)": unknown field group "(an OAuth client's secret, not repeated)"`},
		{"ErrTruncatedAtRune", []string{"audit:" + strings.Repeat("é", 40)},
			`invalid scope "audit:\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"…: invalid character '\u00e9'`},
	}
	tests = append(tests, struct {
		name   string
		scopes []string
		want   string
	}{"ErrTooManyCompanies", slugScopes(grant.MaxCompanySelectors+1, 10),
		`invalid scopes: 201 company selectors, more than the limit of 200 (use companies:* instead)`})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := grant.Parse(tt.scopes...)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tt.scopes, g)
			}
			if g != nil {
				t.Errorf("Parse returned a grant with the error: %q", g)
			}
			var e *hrgate.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *hrgate.Error", err)
			}
			if e.Code != hrgate.EINVALID {
				t.Errorf("Code = %q, want %q", e.Code, hrgate.EINVALID)
			}
			if e.Message != tt.want {
				t.Errorf("Message =\n  %s\nwant\n  %s", e.Message, tt.want)
			}
			if got := hrgate.ErrorMessage(err); got != tt.want {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.want)
			}
			if len(e.Message) > 400 {
				t.Errorf("message is %d bytes long; long tokens must be truncated", len(e.Message))
			}
		})
	}
}

func TestMustParse_Panics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse of a bad scope did not panic")
		}
	}()
	grant.MustParse("employees:read")
}

func TestScopes_RoundTrip(t *testing.T) {
	inputs := []string{
		"",
		"employees:read_masked:government_id,banking employees:read:banking companies:b,a,com_0123456789abcdefghjkmnpqrs",
		"audit:read time_off:write employees:write:identity,contact companies:*",
		"teams:read locations:read employees:read:personal employees:read_masked:contact",
	}
	for _, in := range inputs {
		g := grant.MustParse(in)
		scopes := g.Scopes()
		for i := 1; i < len(scopes); i++ {
			if scopes[i-1] >= scopes[i] {
				t.Errorf("Scopes() of %q not sorted: %q", in, scopes)
			}
		}
		h, err := grant.Parse(scopes...)
		if err != nil {
			t.Fatalf("Parse(Scopes() of %q): %v", in, err)
		}
		if !h.Equal(g) || h.String() != g.String() {
			t.Errorf("round trip of %q: got %q, want %q", in, h, g)
		}
		if got := strings.Join(scopes, " "); got != g.String() {
			t.Errorf("String() = %q, want Scopes joined %q", g.String(), got)
		}
	}
}

// slugScopes returns n companies scopes, each naming one distinct slug of
// length size.
func slugScopes(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		s := fmt.Sprintf("%04d", i)
		out[i] = "companies:" + s + strings.Repeat("x", size-len(s))
	}
	return out
}

// TestScopes_RoundTripLargest proves that the canonical form of the largest
// grant Parse accepts is accepted again: merged company selectors are split
// to respect MaxScopeLen, and the total stays within MaxScopesLen.
func TestScopes_RoundTripLargest(t *testing.T) {
	in := append(slugScopes(grant.MaxCompanySelectors, 63),
		"employees:read:identity,employment,contact employees:read_masked:personal,compensation,banking,government_id",
		"employees:write:identity,employment,contact,personal,compensation,banking,government_id",
		"time_off:read time_off:write teams:read locations:read audit:read")
	g, err := grant.Parse(in...)
	if err != nil {
		t.Fatal(err)
	}
	scopes := g.Scopes()
	total := 0
	for _, s := range scopes {
		if len(s) > grant.MaxScopeLen {
			t.Errorf("canonical scope of %d bytes", len(s))
		}
		total += len(s) + 1
	}
	if total > grant.MaxScopesLen {
		t.Errorf("canonical scopes take %d bytes", total)
	}
	h, err := grant.Parse(scopes...)
	if err != nil {
		t.Fatalf("Parse(Scopes()): %v", err)
	}
	if !h.Equal(g) || len(h.CompanyScope().Refs) != grant.MaxCompanySelectors {
		t.Errorf("round trip lost something: %d companies", len(h.CompanyScope().Refs))
	}
	if again := h.Scopes(); !slices.Equal(again, scopes) {
		t.Error("Scopes() is not stable")
	}
}

package grant_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

var plainDecimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

var parseSeeds = []string{
	"",
	"employees:read:identity,employment",
	"employees:read_masked:banking,government_id employees:read:banking",
	"employees:write:identity\ttime_off:read\nteams:read locations:read audit:read",
	"companies:acme,globex companies:*",
	"companies:com_0123456789abcdefghjkmnpqrs,acme",
	"employees:read:salary",
	"employees::identity",
	"companies:acme,",
	"companies:read",
	"time_off:read_masked",
	"Employees:read:identity",
	"audit:read\x00",
	"audit:re\u0430d",
}

// FuzzParse checks that Parse never panics, fails only with EINVALID and a
// short, printable message, and that every grant it returns survives the
// round trip through its canonical scopes.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		g, err := grant.Parse(in)
		if err != nil {
			var e *hrgate.Error
			if !errors.As(err, &e) || e.Code != hrgate.EINVALID {
				t.Fatalf("Parse(%q): error %v is not EINVALID", in, err)
			}
			if len(e.Message) > 400 {
				t.Fatalf("Parse(%q): message of %d bytes", in, len(e.Message))
			}
			for _, c := range []byte(e.Message) {
				if c < 0x20 || c >= 0x7f {
					t.Fatalf("Parse(%q): message %q holds byte %#x", in, e.Message, c)
				}
			}
			return
		}
		h, err := grant.Parse(g.Scopes()...)
		if err != nil {
			t.Fatalf("Parse(Scopes() of %q) = %v", in, err)
		}
		if !h.Equal(g) || h.String() != g.String() {
			t.Fatalf("round trip of %q: %q != %q", in, h, g)
		}
		if h2, err := grant.Parse(g.String()); err != nil || !h2.Equal(g) {
			t.Fatalf("Parse(String() of %q) = %q, %v", in, h2, err)
		}
		if !g.Covers(g) || !g.Intersect(g).Equal(g) {
			t.Fatalf("%q does not cover itself", g)
		}
		if g.MaskedGroups()&^g.EmployeeGroups() != 0 {
			t.Fatalf("%q: masked groups outside the readable ones", g)
		}
	})
}

// FuzzIntersect checks the algebra of Covers and Intersect on any two
// grants: the intersection is covered by both, and h is covered by g exactly
// when intersecting with g leaves h unchanged.
func FuzzIntersect(f *testing.F) {
	for i, s := range parseSeeds {
		f.Add(s, parseSeeds[(i+3)%len(parseSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		g, err1 := grant.Parse(a)
		h, err2 := grant.Parse(b)
		if err1 != nil || err2 != nil {
			return
		}
		i := g.Intersect(h)
		if !g.Covers(i) || !h.Covers(i) {
			t.Fatalf("%q ∩ %q = %q not covered by both", g, h, i)
		}
		if !i.Equal(h.Intersect(g)) {
			t.Fatalf("intersection of %q and %q is not symmetric", g, h)
		}
		if g.Covers(h) != i.Equal(h) {
			t.Fatalf("%q covers %q = %v, but ∩ = %q", g, h, g.Covers(h), i)
		}
		if j, err := grant.Parse(i.Scopes()...); err != nil || !j.Equal(i) {
			t.Fatalf("intersection %q does not round-trip: %v", i, err)
		}
	})
}

// FuzzAppendEmployee puts arbitrary strings into every kind of field and
// checks that the output is valid JSON in which each value reads back as
// the input with invalid UTF-8 bytes replaced, one U+FFFD per byte.
func FuzzAppendEmployee(f *testing.F) {
	f.Add("Jane", "DE89370400440532013000", "85000.00", "123-45-6789", int64(0))
	f.Add("a\"b\\c\n<>&\u2028", "\xff\xfe", "-0.5", "\x00\x1f\x7f", int64(-62135596800))
	f.Add("", "", "", "", int64(253402300800))
	f.Fuzz(func(t *testing.T, s1, s2, dec, s3 string, sec int64) {
		e := &hrgate.Employee{
			ID:         s1,
			RemoteID:   s2,
			CreatedAt:  time.Unix(sec, 0),
			ModifiedAt: time.Unix(0, sec),
			Loaded:     hrgate.AllGroups,
		}
		e.Identity.FirstName = s1
		e.Identity.LastName = s2
		e.Employment.Status = hrgate.EmploymentStatus(s3)
		e.Contact.HomeAddress.City = s3
		e.Compensation.PayRate = dec
		e.Compensation.PayCurrency = s2
		e.Banking.IBAN = s3
		e.GovernmentID.Value = s1

		clear := grant.AppendEmployee(nil, e, grant.MustParse(fullScopes))
		if !json.Valid(clear) {
			t.Fatalf("invalid JSON: %q", clear)
		}
		var got struct {
			ID           *string `json:"id"`
			FirstName    *string `json:"first_name"`
			LastName     *string `json:"last_name"`
			Status       *string `json:"employment_status"`
			Compensation *struct {
				PayRate any `json:"pay_rate"`
			} `json:"compensation"`
			BankAccount *struct {
				IBAN *string `json:"iban"`
			} `json:"bank_account"`
		}
		if err := json.Unmarshal(clear, &got); err != nil {
			t.Fatalf("decode %q: %v", clear, err)
		}
		check := func(name string, got *string, want string) {
			t.Helper()
			switch {
			case want == "" && got != nil:
				t.Fatalf("%s = %q, want null", name, *got)
			case want != "" && (got == nil || *got != string([]rune(want))):
				t.Fatalf("%s = %v, want %q", name, got, want)
			}
		}
		check("id", got.ID, s1)
		check("first_name", got.FirstName, s1)
		check("last_name", got.LastName, s2)
		check("employment_status", got.Status, s3)
		if s3 != "" {
			check("iban", got.BankAccount.IBAN, s3)
		}
		var raw struct {
			Compensation struct {
				PayRate json.RawMessage `json:"pay_rate"`
			} `json:"compensation"`
		}
		if err := json.Unmarshal(clear, &raw); err != nil {
			t.Fatal(err)
		}
		wantRate := "null"
		if plainDecimal.MatchString(dec) && len(dec) <= 40 {
			wantRate = dec
		}
		if !e.Compensation.IsZero() && string(raw.Compensation.PayRate) != wantRate {
			t.Fatalf("pay_rate of %q = %s, want %s", dec, raw.Compensation.PayRate, wantRate)
		}

		masked := grant.AppendEmployee(nil, e, grant.MustParse(strings.Replace(fullScopes, ":read:", ":read_masked:", 1)))
		if !json.Valid(masked) {
			t.Fatalf("invalid masked JSON: %q", masked)
		}
		if err := json.Unmarshal(masked, &got); err != nil {
			t.Fatalf("decode %q: %v", masked, err)
		}
		if s1 != "" && (got.FirstName == nil || *got.FirstName != grant.Mask(s1)) {
			t.Fatalf("masked first_name = %v, want %q", got.FirstName, grant.Mask(s1))
		}
		// A mask keeps the value's length, or is the constant "****"
		// that gives nothing away.
		if m := grant.Mask(s1); !utf8.ValidString(m) ||
			(m != "****" && utf8.RuneCountInString(m) != utf8.RuneCountInString(string([]rune(s1)))) {
			t.Fatalf("Mask(%q) = %q changes the length or is invalid", s1, m)
		}
	})
}

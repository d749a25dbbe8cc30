package hrgate_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
)

// TestLooksLikeSecret checks that every secret hrgate generates is
// recognised as its kind, alone or amid other text, and that ids and
// names are not.
func TestLooksLikeSecret(t *testing.T) {
	gen := func(f func() (string, error)) string {
		t.Helper()
		s, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, hook, err := hrgate.GenerateWebhookSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		secret string
		want   hrgate.SecretKind
	}{
		{"APIKey", gen(func() (string, error) { return hrgate.GenerateAPIKey(hrgate.KeyLive, rand.Reader) }), hrgate.SecretAPIKey},
		{"ClientSecret", gen(func() (string, error) { return hrgate.GenerateClientSecret(rand.Reader) }), hrgate.SecretClientSecret},
		{"AdminToken", hrgate.AdminTokenPrefix + strings.Repeat("aB3_-", 8) + "xyz", hrgate.SecretAdminToken},
		{"SourceToken", gen(func() (string, error) { return hrgate.GenerateSourceToken(rand.Reader) }), hrgate.SecretSourceToken},
		{"WebhookSecret", hook, hrgate.SecretWebhookSecret},
		{"WebhookSecretUnpadded", strings.TrimSuffix(hook, "="), hrgate.SecretWebhookSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []string{tc.secret, "revoke " + tc.secret + "\n"} {
				sh, ok := hrgate.LooksLikeSecret(s)
				if !ok || sh.Kind != tc.want || sh.Words == "" {
					t.Fatalf("%.12s…: %+v, %v; want kind %q", tc.secret, sh, ok, tc.want)
				}
			}
		})
	}
	for _, s := range []string{"", "key_0123456789abcdefghjkmnpqrs", "payroll", "hrg_scim_short", "whsec_short", "whsec_"} {
		if sh, ok := hrgate.LooksLikeSecret(s); ok {
			t.Errorf("%q looks like %s", s, sh.Words)
		}
	}
	// No kind is listed twice or without its words and pattern, and
	// every pattern starts with a literal prefix: LooksLikeSecret runs a
	// pattern only on a string holding its prefix, and Echo withholds any
	// string holding one.
	kinds := map[hrgate.SecretKind]bool{}
	for _, sh := range hrgate.SecretShapes() {
		if kinds[sh.Kind] || sh.Words == "" || sh.Pattern == nil {
			t.Fatalf("shape %+v: listed twice or incomplete", sh)
		}
		kinds[sh.Kind] = true
		if p, _ := sh.Pattern.LiteralPrefix(); p == "" {
			t.Errorf("shape %s: pattern %s has no literal prefix", sh.Kind, sh.Pattern)
		}
	}
}

// TestEcho: what an error repeats of a caller's input is cut on a
// character boundary and never holds a secret.
func TestEcho(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	got := hrgate.Echo(long)
	if !strings.HasSuffix(got, "…") || !utf8.ValidString(got) || len(got) > hrgate.EchoMax+len("…") {
		t.Errorf("Echo(long) = %q", got)
	}
	if got := hrgate.Echo("payroll"); got != "payroll" {
		t.Errorf("Echo(short) = %q", got)
	}
	for _, secret := range []string{"hrg_scim_" + strings.Repeat("a", 49), "x whsec_" + strings.Repeat("A", 43) + " y"} {
		if got := hrgate.Echo(secret); strings.Contains(got, "hrg_scim_") || strings.Contains(got, "whsec_") || !strings.Contains(got, "not repeated") {
			t.Errorf("Echo(%.12s…) = %q; want the secret named, not repeated", secret, got)
		}
	}
	// A secret cut short, as by a paste that missed its end, matches no
	// pattern (LooksLikeSecret stays exact) but is withheld all the same,
	// named as the kind whose prefix it carries.
	key, err := hrgate.GenerateAPIKey(hrgate.KeyLive, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := hrgate.GenerateClientSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in    string
		words string
	}{
		{key[:len(key)-10], "an API key"},
		{"revoke " + key[:20], "an API key"},
		{cs[:len(cs)-1], "an OAuth client's secret"},
		{hrgate.AdminTokenPrefix + "abc", "the admin token"},
		{"hrg_scim_short", "a SCIM source's token"},
		{"whsec_", "a webhook signing secret"},
	} {
		if _, ok := hrgate.LooksLikeSecret(tc.in); ok {
			t.Errorf("LooksLikeSecret(%.12s…) = true for a secret cut short", tc.in)
		}
		if got, want := hrgate.Echo(tc.in), "("+tc.words+", not repeated)"; got != want {
			t.Errorf("Echo(%.12s…) = %q, want %q", tc.in, got, want)
		}
	}
}

// TestEchoQuoted: a name the sender chose is quoted in ASCII, so that
// it can neither forge a log line nor disguise itself, cut as Echo cuts
// with the mark of the cut outside the quotes, and never holds a secret.
func TestEchoQuoted(t *testing.T) {
	for in, want := range map[string]string{
		"payroll":                             `"payroll"`,
		"a\nb\u202ec":                         `"a\nb\u202ec"`,
		strings.Repeat("a", 65):               `"` + strings.Repeat("a", 64) + `"…`,
		strings.Repeat("é", 40):               `"` + strings.Repeat(`\u00e9`, 32) + `"…`,
		"hrg_scim_" + strings.Repeat("a", 49): `"(a SCIM source's token, not repeated)"`,
		"hrg_live_abc":                        `"(an API key, not repeated)"`,
	} {
		if got := hrgate.EchoQuoted(in); got != want {
			t.Errorf("EchoQuoted(%.12q…) = %s, want %s", in, got, want)
		}
	}
}

package hrgate_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

func TestSourceToken(t *testing.T) {
	tok, err := hrgate.GenerateSourceToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !hrgate.CheckSourceToken(tok) || !hrgate.SourceTokenPattern.MatchString(tok) {
		t.Fatalf("a fresh token %q does not check", tok)
	}
	// One changed character breaks the checksum.
	last := tok[len(tok)-8]
	swap := byte('A')
	if last == 'A' {
		swap = 'B'
	}
	bad := tok[:len(tok)-8] + string(swap) + tok[len(tok)-7:]
	if hrgate.CheckSourceToken(bad) {
		t.Errorf("a token with a changed character checks: %q", bad)
	}
	if hrgate.CheckSourceToken(strings.Replace(tok, "hrg_scim_", "hrg_live_", 1)) {
		t.Error("an API-key prefix passes as a source token")
	}
	if _, ok := hrgate.CheckAPIKey(tok); ok {
		t.Error("a source token passes as an API key")
	}
}

func TestWebhookSecret(t *testing.T) {
	key, text, err := hrgate.GenerateWebhookSecret(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, bytes.Repeat([]byte{7}, 32)) {
		t.Errorf("key = %x, want the first 32 random bytes", key)
	}
	// base64 of 32 bytes of 7: "BwcH" repeated, ending "Bwc=".
	if want := "whsec_" + strings.Repeat("BwcH", 10) + "Bwc="; text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
}

func TestValidSourceName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"workday", true}, {"acme-payroll_2", true},
		{"", false}, {"Workday", false}, {"-x", false}, {"src_0123456789abcdefghjkmnpqrs", false}, {strings.Repeat("a", 64), false},
	} {
		if got := hrgate.ValidSourceName(tc.name); got != tc.want {
			t.Errorf("ValidSourceName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package hrgate_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

func TestClientSecret(t *testing.T) {
	s, err := hrgate.GenerateClientSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "hrg_cs_") || len(s) != 56 || !hrgate.CheckClientSecret(s) {
		t.Fatalf("secret %q is not well-formed", s)
	}
	if got := hrgate.ClientSecretPattern.FindString("token=" + s + ";"); got != s {
		t.Fatalf("pattern found %q in text around %q", got, s)
	}
	if hrgate.APIKeyPattern.MatchString(s) {
		t.Error("a client secret must not look like an API key")
	}
	other, _ := hrgate.GenerateClientSecret(rand.Reader)
	if other == s {
		t.Fatal("two secrets are equal")
	}
	if h := hrgate.HashClientSecret(s); len(h) != 32 || bytes.Equal(h, hrgate.HashClientSecret(other)) {
		t.Fatal("hash is not SHA-256 of the secret")
	}
	flip := []byte(s)
	flip[20] ^= 'A' ^ 'B'
	if flip[20] == s[20] {
		flip[20] = 'C'
	}
	for name, bad := range map[string]string{
		"FlippedCharacter": string(flip),
		"Truncated":        s[:len(s)-1],
		"WrongPrefix":      "hrg_cx_" + s[7:],
		"NonBase62":        s[:10] + "-" + s[11:],
		"Empty":            "",
	} {
		if hrgate.CheckClientSecret(bad) {
			t.Errorf("%s: CheckClientSecret(%q) = true", name, bad)
		}
	}
}

package main_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

func TestClientsCLI(t *testing.T) {
	_, dd, mustRun := newDataDir(t)
	mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity,compensation companies:*")

	out := mustRun(t, "clients", "create", "--consumer", "payroll", "--scopes", "employees:read:identity companies:*",
		"--allow-cidr", "10.0.0.0/8", "--output", "json")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("clients create json: %v: %s", err, out)
	}
	id, _ := created["client_id"].(string)
	secret, _ := created["client_secret"].(string)
	if !hrgate.ValidID(hrgate.PrefixClient, id) || !hrgate.CheckClientSecret(secret) {
		t.Fatalf("created %s", out)
	}

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwk := func(name string, fields map[string]string) string {
		b, _ := json.Marshal(fields)
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x := base64.RawURLEncoding.EncodeToString(pub)
	out = mustRun(t, "clients", "create", "--consumer", "payroll", "--jwk", jwk("pub.jwk", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": x}), "--output", "json")
	if strings.Contains(out, "client_secret") || !strings.Contains(out, `"private_key_jwt"`) {
		t.Fatalf("private_key_jwt client: %s", out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"PrivateJWK", []string{"clients", "create", "--consumer", "payroll", "--jwk", jwk("priv.jwk", map[string]string{
			"kty": "OKP", "crv": "Ed25519", "x": x, "d": base64.RawURLEncoding.EncodeToString(priv.Seed())})}, "private key"},
		{"ScopeOutsideGrant", []string{"clients", "create", "--consumer", "payroll", "--scopes", "employees:read:banking companies:*"}, "not within the grant"},
		{"BadCIDR", []string{"clients", "create", "--consumer", "payroll", "--allow-cidr", "10.0.0.0/99"}, "Invalid client network"},
		{"MissingConsumer", []string{"clients", "create"}, "--consumer is required"},
		{"DeleteBadID", []string{"clients", "delete", "payroll"}, "Invalid client id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, nil, append(tc.args, dd...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}

	out = mustRun(t, "clients", "list", "--consumer", "payroll", "--output", "json")
	if strings.Contains(out, secret) || strings.Contains(out, "secret_hash") {
		t.Fatal("clients list prints the secret or its hash")
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("clients list: %v %s", err, out)
	}
	if text := mustRun(t, "clients", "list"); !strings.Contains(text, id) || !strings.Contains(text, "10.0.0.0/8") {
		t.Fatalf("text list: %s", text)
	}
	mustRun(t, "clients", "delete", id)
	if code, _, _ := run(t, nil, append([]string{"clients", "delete", id}, dd...)...); code != 2 {
		t.Fatalf("deleting twice: exit %d, want 2", code)
	}
}

package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hrgate/hrgate/oauth"
	"github.com/hrgate/hrgate/sqlstore"
)

var jsonMarshal = json.Marshal

// jwks decodes a JWKS document into its key ids.
func jwks(t *testing.T, a *oauth.Authority) []string {
	t.Helper()
	b, err := a.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	var ids []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("JWKS publishes private key material: %s", b)
		}
		if k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("key %s: use %q alg %q", k.KeyID, k.Use, k.Algorithm)
		}
		ids = append(ids, k.KeyID)
	}
	return ids
}

func mustIssue(t *testing.T, a *oauth.Authority) *oauth.Token {
	t.Helper()
	tok, err := a.Issue(context.Background(), "cli_payroll", "employees:read:identity companies:*")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustVerify(t *testing.T, a *oauth.Authority, token string) *oauth.Claims {
	t.Helper()
	c, err := a.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

func TestIssueAndVerify(t *testing.T) {
	for _, alg := range []string{oauth.EdDSA, oauth.ES256} {
		t.Run(alg, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
				c := newClock()
				a := newAuthority(t, db, c, func(cfg *oauth.Config) { cfg.Algorithm = alg })
				tok := mustIssue(t, a)
				hdr, payload := decodeParts(t, tok.Value)
				if hdr["typ"] != "at+jwt" || hdr["alg"] != alg || hdr["kid"] != tok.KeyID || len(hdr) != 3 {
					t.Fatalf("header %v", hdr)
				}
				for _, claim := range []string{"iss", "aud", "sub", "client_id", "scope", "jti", "exp", "iat"} {
					if _, ok := payload[claim]; !ok {
						t.Errorf("claim %s missing from %v", claim, payload)
					}
				}
				if payload["aud"] != issuer+"/v1" || payload["sub"] != "cli_payroll" ||
					payload["exp"].(float64)-payload["iat"].(float64) != 900 {
					t.Errorf("payload %v", payload)
				}
				got := mustVerify(t, a, tok.Value)
				if got.ID != tok.ID || got.ClientID != "cli_payroll" || got.Scope != tok.Scope || !got.ExpiresAt.Equal(tok.ExpiresAt) {
					t.Fatalf("claims %+v, want %+v", got, tok.Claims)
				}
				// Another instance on the same database verifies it too.
				mustVerify(t, newAuthority(t, db, c), tok.Value)

				c.Advance(15*time.Minute - time.Second)
				mustVerify(t, a, tok.Value)
				c.Advance(time.Second)
				if _, err := a.Verify(context.Background(), tok.Value); !isInvalid(err, "expired") {
					t.Fatalf("expired token: %v", err)
				}
			})
		})
	}
}

func isInvalid(err error, reason string) bool {
	var ie *oauth.InvalidTokenError
	return errors.As(err, &ie) && strings.Contains(ie.Reason, reason)
}

func decodeParts(t *testing.T, token string) (hdr, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&hdr, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, payload
}

// TestRotation walks one key's life with an injected clock: published
// before it signs, signing for its period, published after until its
// tokens have expired, then gone.
func TestRotation(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		a := newAuthority(t, db, c)
		b := newAuthority(t, db, c) // a second instance sharing the database
		first := mustIssue(t, a)
		if ids := jwks(t, a); len(ids) != 1 || ids[0] != first.KeyID {
			t.Fatalf("JWKS at start = %v, want [%s]", ids, first.KeyID)
		}

		// Just before publish-ahead: nothing new.
		c.Advance(22*time.Hour - time.Second)
		if ids := jwks(t, b); len(ids) != 1 {
			t.Fatalf("JWKS before publish-ahead = %v", ids)
		}
		// At publish-ahead both instances publish the same successor, one
		// key, which does not sign yet.
		c.Advance(time.Second)
		ids := jwks(t, a)
		if len(ids) != 2 || ids[0] != first.KeyID {
			t.Fatalf("JWKS at publish-ahead = %v", ids)
		}
		next := ids[1]
		if idsB := jwks(t, b); strings.Join(idsB, ",") != strings.Join(ids, ",") {
			t.Fatalf("instances disagree: %v vs %v", ids, idsB)
		}
		if tok := mustIssue(t, b); tok.KeyID != first.KeyID {
			t.Fatalf("successor signs %v before its activation", tok.KeyID)
		}

		// One second before activation the old key signs a last token.
		c.Advance(2*time.Hour - time.Second)
		last := mustIssue(t, a)
		if last.KeyID != first.KeyID {
			t.Fatal("old key retired early")
		}
		c.Advance(time.Second)
		for _, inst := range []*oauth.Authority{a, b} {
			if tok := mustIssue(t, inst); tok.KeyID != next {
				t.Fatalf("after activation tokens are signed by %s, want %s", tok.KeyID, next)
			}
		}
		// The old key's last token lives out its lifetime.
		c.Advance(15*time.Minute - 2*time.Second)
		mustVerify(t, b, last.Value)
		if ids := jwks(t, b); len(ids) != 2 {
			t.Fatalf("retired key withdrawn while its tokens live: %v", ids)
		}
		// Once lifetime and leeway have passed, it is withdrawn.
		c.Advance(oauth.ClockLeeway + 2*time.Second)
		if ids := jwks(t, a); len(ids) != 1 || ids[0] != next {
			t.Fatalf("JWKS after retirement = %v, want [%s]", ids, next)
		}
		keys, err := db.SigningKeys(context.Background())
		if err != nil || len(keys) != 2 {
			t.Fatalf("store holds %d keys (%v), want 2: one rotation, not one per instance", len(keys), err)
		}
	})
}

func TestDowntimeCreatesAKeyAtOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		a := newAuthority(t, db, c)
		first := mustIssue(t, a)
		c.Advance(30 * 24 * time.Hour)
		tok := mustIssue(t, a)
		if tok.KeyID == first.KeyID {
			t.Fatal("a key signs long after its retirement")
		}
		if _, err := a.Verify(context.Background(), first.Value); err == nil {
			t.Fatal("month-old token verifies")
		}
		// An instance that loaded its keys before the new one existed
		// finds it on the unknown kid.
		mustVerify(t, newAuthority(t, db, c), tok.Value)
	})
}

// TestRefused forges tokens an attacker could make, most of them with the
// server's own private key, and checks each is refused for its reason.
func TestRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		a := newAuthority(t, db, c)
		good := mustIssue(t, a)
		alg, priv := serverKey(t, db, good.KeyID)
		_, goodPayload := decodeParts(t, good.Value)
		claims := func(mutate func(map[string]any)) map[string]any {
			m := map[string]any{}
			for k, v := range goodPayload {
				m[k] = v
			}
			mutate(m)
			return m
		}
		typ := map[jose.HeaderKey]any{jose.HeaderType: "at+jwt"}
		now := c.Now().Unix()
		pub := priv.(ed25519.PrivateKey).Public().(ed25519.PublicKey)
		parts := strings.Split(good.Value, ".")
		tampered := func() string {
			p := claims(func(m map[string]any) { m["scope"] = "employees:read:government_id companies:*" })
			b, _ := json.Marshal(p)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
		}()
		none := func() string {
			h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "at+jwt", "kid": good.KeyID})
			return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "."
		}()
		_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)

		for _, tc := range []struct {
			name, token, reason string
		}{
			{"AlgNone", none, "malformed or disallowed algorithm"},
			{"HS256WithPublicKey", sign(t, jose.HS256, []byte(pub), good.KeyID, typ, goodPayload), "malformed or disallowed algorithm"},
			{"TamperedPayload", tampered, "bad signature"},
			{"OtherKeySameKid", sign(t, jose.EdDSA, otherPriv, good.KeyID, typ, goodPayload), "bad signature"},
			{"UnknownKid", sign(t, alg, priv, "nope", typ, goodPayload), "unknown or unpublished key id"},
			{"NoTyp", sign(t, alg, priv, good.KeyID, nil, goodPayload), "typ is not at+jwt"},
			{"TypJWT", sign(t, alg, priv, good.KeyID, map[jose.HeaderKey]any{jose.HeaderType: "JWT"}, goodPayload), "typ is not at+jwt"},
			{"JKUHeader", sign(t, alg, priv, good.KeyID, map[jose.HeaderKey]any{jose.HeaderType: "at+jwt", "jku": "https://evil.example/jwks"}, goodPayload), "unexpected header"},
			{"NonceHeader", sign(t, alg, priv, good.KeyID, map[jose.HeaderKey]any{jose.HeaderType: "at+jwt", "nonce": "n"}, goodPayload), "unexpected header"},
			{"X5CHeader", sign(t, alg, priv, good.KeyID, map[jose.HeaderKey]any{jose.HeaderType: "at+jwt", "x5c": []string{selfSigned(t, priv)}}, goodPayload), "unexpected header"},
			{"WrongIssuer", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["iss"] = "https://evil.example" })), "wrong issuer"},
			{"WrongAudience", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["aud"] = "https://other.example/api" })), "wrong audience"},
			{"Expired", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["iat"] = now - 20; m["exp"] = now - 1 })), "expired"},
			{"IssuedInTheFuture", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["iat"] = now + 60; m["exp"] = now + 960 })), "future"},
			{"NotYetValid", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["nbf"] = now + 120 })), "not valid yet"},
			{"LifetimeTooLong", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["exp"] = now + 86400 })), "lifetime"},
			{"NoExpiry", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { delete(m, "exp") })), "no exp"},
			{"SubjectNotClient", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["sub"] = "cli_other" })), "missing"},
			{"BeforeKeyActivation", sign(t, alg, priv, good.KeyID, typ, claims(func(m map[string]any) { m["iat"] = now - 600; m["exp"] = now + 60 })), "signing period"},
			{"Garbage", "a.b.c", "malformed"},
			{"Huge", strings.Repeat("a", 5000) + ".b.c", "longer than"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := a.Verify(context.Background(), tc.token)
				if !isInvalid(err, tc.reason) {
					t.Fatalf("Verify = %v, want refusal for %q", err, tc.reason)
				}
				if strings.Contains(err.Error(), tc.token) {
					t.Fatal("the error quotes the token")
				}
			})
		}
		// The genuine token still verifies after all that.
		mustVerify(t, a, good.Value)
	})
}

func TestClientAssertion(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		a := newAuthority(t, db, c)
		clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
		jwk, _ := json.Marshal(jose.JSONWebKey{Key: clientPub})
		key, canon, err := oauth.ParseClientJWK(jwk)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(canon), `"alg":"EdDSA"`) || strings.Contains(string(canon), `"d"`) {
			t.Fatalf("canonical JWK %s", canon)
		}
		now := c.Now().Unix()
		base := func(mutate func(map[string]any)) map[string]any {
			m := map[string]any{"iss": "cli_a", "sub": "cli_a", "aud": issuer + "/oauth2/token", "jti": "j1", "exp": now + 60, "iat": now}
			if mutate != nil {
				mutate(m)
			}
			return m
		}
		ok := sign(t, jose.EdDSA, clientPriv, "", nil, base(nil))
		as, err := a.VerifyAssertion(ok, "cli_a", key)
		if err != nil || as.ID != "j1" || as.ExpiresAt.Unix() != now+60 {
			t.Fatalf("VerifyAssertion = %+v, %v", as, err)
		}
		if _, err := a.VerifyAssertion(sign(t, jose.EdDSA, clientPriv, "", nil, base(func(m map[string]any) { m["aud"] = issuer })), "cli_a", key); err != nil {
			t.Fatalf("issuer as audience: %v", err)
		}
		_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
		ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for _, tc := range []struct{ name, assertion, client, reason string }{
			{"OtherClient", ok, "cli_b", "iss or sub"},
			{"OtherKey", sign(t, jose.EdDSA, otherPriv, "", nil, base(nil)), "cli_a", "does not verify"},
			{"OtherAlgorithm", sign(t, jose.ES256, ecPriv, "", nil, base(nil)), "cli_a", "another algorithm"},
			{"WrongAudience", sign(t, jose.EdDSA, clientPriv, "", nil, base(func(m map[string]any) { m["aud"] = "https://other.example/token" })), "cli_a", "audience"},
			{"Expired", sign(t, jose.EdDSA, clientPriv, "", nil, base(func(m map[string]any) { m["exp"] = now - 1 })), "cli_a", "expired"},
			{"NoExpiry", sign(t, jose.EdDSA, clientPriv, "", nil, base(func(m map[string]any) { delete(m, "exp") })), "cli_a", "no exp"},
			{"TooLong", sign(t, jose.EdDSA, clientPriv, "", nil, base(func(m map[string]any) { m["exp"] = now + 3600 })), "cli_a", "too far"},
			{"NoJTI", sign(t, jose.EdDSA, clientPriv, "", nil, base(func(m map[string]any) { delete(m, "jti") })), "cli_a", "jti"},
			{"AccessTokenType", sign(t, jose.EdDSA, clientPriv, "", map[jose.HeaderKey]any{jose.HeaderType: "at+jwt"}, base(nil)), "cli_a", "access token"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := a.VerifyAssertion(tc.assertion, tc.client, key); !isInvalid(err, tc.reason) {
					t.Fatalf("VerifyAssertion = %v, want refusal for %q", err, tc.reason)
				}
			})
		}
	})
}

func TestParseClientJWK(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024) // #nosec G403 -- a weak key the parser must refuse.
	marshal := func(k jose.JSONWebKey) []byte { b, _ := json.Marshal(k); return b }
	for _, tc := range []struct {
		name string
		jwk  []byte
		alg  string
		err  string
	}{
		{"Ed25519", marshal(jose.JSONWebKey{Key: edPub}), "EdDSA", ""},
		{"P384", marshal(jose.JSONWebKey{Key: &ec.PublicKey}), "ES384", ""},
		{"PrivateKey", marshal(jose.JSONWebKey{Key: edPriv}), "", "private key"},
		{"Symmetric", []byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`), "", "not a valid JWK"},
		{"ShortRSA", marshal(jose.JSONWebKey{Key: &small.PublicKey}), "", "2048"},
		{"EncryptionKey", marshal(jose.JSONWebKey{Key: edPub, Use: "enc"}), "", "use"},
		{"AlgDoesNotFit", marshal(jose.JSONWebKey{Key: &ec.PublicKey, Algorithm: "ES256"}), "", "does not fit"},
		{"NotJSON", []byte("-----BEGIN PUBLIC KEY-----"), "", "not a valid JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, _, err := oauth.ParseClientJWK(tc.jwk)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || k.Algorithm() != tc.alg {
				t.Fatalf("ParseClientJWK = %v, %v; want %s", k, err, tc.alg)
			}
		})
	}
}

func TestConfigAndIssuer(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		for name, mutate := range map[string]func(*oauth.Config){
			"HS256":            func(cfg *oauth.Config) { cfg.Algorithm = "HS256" },
			"ShortTTL":         func(cfg *oauth.Config) { cfg.TokenTTL = time.Second },
			"RotationTooShort": func(cfg *oauth.Config) { cfg.KeyRotation = cfg.KeyPublishAhead },
			"IssuerWithPath":   func(cfg *oauth.Config) { cfg.Issuer = "https://h.example/base" },
			"IssuerFTP":        func(cfg *oauth.Config) { cfg.Issuer = "ftp://h.example" },
		} {
			cfg := testConfig
			mutate(&cfg)
			if _, err := oauth.New(db, cfg); err == nil {
				t.Errorf("%s: New accepted %+v", name, cfg)
			}
		}
		a := newAuthority(t, db, c, func(cfg *oauth.Config) { cfg.Issuer = "" })
		if _, err := a.Issue(context.Background(), "cli_a", ""); err == nil {
			t.Fatal("an unbound authority issued a token")
		}
		if got, err := a.BindIssuer("https://127.0.0.1:8443"); err != nil || got != "https://127.0.0.1:8443" {
			t.Fatalf("BindIssuer = %q, %v", got, err)
		}
		if got, _ := a.BindIssuer("https://evil.example"); got != "https://127.0.0.1:8443" {
			t.Fatalf("issuer changed after binding: %q", got)
		}
		mustVerify(t, a, mustIssue(t, a).Value)
	})
}

// TestWithdrawnKey deletes the signing key from the store, as an operator
// answering a key compromise would: every instance refuses its tokens from
// its next key reload, verified-token cache included.
func TestWithdrawnKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		a := newAuthority(t, db, c)
		tok := mustIssue(t, a)
		mustVerify(t, a, tok.Value) // now cached
		c.Advance(time.Minute)
		mustVerify(t, a, tok.Value) // a reload that changes nothing keeps it cached
		if _, err := db.DeleteSigningKeys(context.Background(), c.Now().Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
		if _, err := a.Verify(context.Background(), tok.Value); !isInvalid(err, "unknown or unpublished key id") {
			t.Fatalf("token of a withdrawn key: %v", err)
		}
		if next := mustIssue(t, a); next.KeyID == tok.KeyID {
			t.Fatal("the withdrawn key still signs")
		}
	})
}

package http_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/oauth"
)

// TestPrivateKeyJWT authenticates a private_key_jwt client over HTTP with
// no client_id in the form, as RFC 7523 allows: the assertion's subject
// names the client, and every audit event of a successful request must
// name it as it would a client authenticated with a secret.
func TestPrivateKeyJWT(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := MustOpenAuditEnv(t, dsn(t))
			pub, priv, err := ed25519.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			jwk, _ := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub)})
			clientID, _ := e.newClient(t, gate.ClientRequest{Consumer: "payroll", JWK: jwk})
			assertion := func(jti string) url.Values {
				now := time.Now()
				s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
					"iss": clientID, "sub": clientID, "aud": e.srv.URL() + "/oauth2/token", "jti": jti,
					"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
				}).SignedString(priv)
				if err != nil {
					t.Fatal(err)
				}
				return url.Values{"client_assertion_type": {oauth.AssertionType}, "client_assertion": {s}}
			}
			with := func(form, more url.Values) url.Values {
				for k, v := range more {
					form[k] = v
				}
				return form
			}

			tr := e.postForm(t, "/oauth2/token", with(url.Values{"grant_type": {"client_credentials"}}, assertion("j1")), "", "")
			if tr.status != 200 {
				t.Fatalf("token: %d %s", tr.status, tr.body)
			}
			token := tr.object(t)["access_token"].(string)
			in := e.postForm(t, "/oauth2/introspect", with(url.Values{"token": {token}}, assertion("j2")), "", "")
			if o := in.object(t); in.status != 200 || o["active"] != true || o["client_id"] != clientID {
				t.Fatalf("introspect: %d %s", in.status, in.body)
			}
			rv := e.postForm(t, "/oauth2/revoke", with(url.Values{"token": {token}}, assertion("j3")), "", "")
			if rv.status != 200 {
				t.Fatalf("revoke: %d %s", rv.status, rv.body)
			}
			replay := e.postForm(t, "/oauth2/revoke", with(url.Values{"token": {token}}, assertion("j3")), "", "")
			if replay.status != 401 || replay.object(t)["error"] != "invalid_client" {
				t.Fatalf("replayed assertion: %d %s", replay.status, replay.body)
			}

			evs := e.events(t)
			for name, r := range map[string]response{"token": tr, "introspect": in, "revoke": rv, "replay": replay} {
				if ev := evs[r.header.Get("X-Request-Id")]; ev == nil || ev.CredentialID != clientID {
					t.Errorf("%s event %+v does not name the client %s", name, ev, clientID)
				}
			}
		})
	}
}

// postForm sends a form to an OAuth endpoint, optionally with Basic
// client credentials, validates the answer against the OpenAPI document
// and returns it.
func (e *testEnv) postForm(t *testing.T, path string, form url.Values, basicID, basicSecret string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	e.doc.Validate(t, resp, body)
	return response{resp.StatusCode, resp.Header, body}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String())
}

func (e *testEnv) newClient(t *testing.T, req gate.ClientRequest) (string, string) {
	t.Helper()
	c, secret, err := e.gate.CreateClient(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

func (e *testEnv) testOAuth(t *testing.T) {
	ctx := context.Background()
	issuer := e.srv.URL()
	clientID, secret := e.newClient(t, gate.ClientRequest{
		Consumer: "payroll", Scopes: []string{"employees:read:identity,employment companies:*"}, AllowCIDRs: []string{"127.0.0.0/8"},
	})
	httpCtx := context.WithValue(ctx, oauth2.HTTPClient, e.client)

	var token string
	t.Run("ClientCredentialsLibraryReadsEmployees", func(t *testing.T) {
		for name, style := range map[string]oauth2.AuthStyle{"Basic": oauth2.AuthStyleInHeader, "Post": oauth2.AuthStyleInParams} {
			t.Run(name, func(t *testing.T) {
				cc := clientcredentials.Config{
					ClientID: clientID, ClientSecret: secret, TokenURL: issuer + "/oauth2/token",
					Scopes: []string{"employees:read:identity", "companies:*"}, AuthStyle: style,
				}
				tok, err := cc.Token(httpCtx)
				if err != nil {
					t.Fatal(err)
				}
				if tok.TokenType != "Bearer" || time.Until(tok.Expiry) > 15*time.Minute || time.Until(tok.Expiry) < 14*time.Minute {
					t.Fatalf("token type %q expiry %v", tok.TokenType, tok.Expiry)
				}
				token = tok.AccessToken
				resp, err := cc.Client(httpCtx).Get(issuer + "/v1/employees?limit=5")
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				e.doc.Validate(t, resp, body)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				r := response{resp.StatusCode, resp.Header, body}
				items := r.items(t)
				if len(items) != 5 {
					t.Fatalf("%d employees", len(items))
				}
				for _, it := range items {
					// The token asked for identity only; employment is in
					// the client's grant but not in the token's scope.
					assertOnlyKeys(t, it, "employee_number", "first_name", "last_name", "preferred_name", "work_email")
				}
			})
		}
	})

	t.Run("IndependentLibraryVerifiesAgainstJWKS", func(t *testing.T) {
		meta := e.get(t, "", "/.well-known/oauth-authorization-server")
		if meta.status != 200 {
			t.Fatalf("metadata: %d %s", meta.status, meta.body)
		}
		var md struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
			Token   string `json:"token_endpoint"`
		}
		if err := json.Unmarshal(meta.body, &md); err != nil {
			t.Fatal(err)
		}
		if md.Issuer != issuer || md.Token != issuer+"/oauth2/token" {
			t.Fatalf("metadata %s", meta.body)
		}
		keys := e.fetchJWKS(t, md.JWKSURI)
		parsed, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			return keys[kid], nil
		}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(md.Issuer), jwt.WithAudience(md.Issuer+"/v1"),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		if err != nil {
			t.Fatalf("golang-jwt rejects the token: %v", err)
		}
		if parsed.Header["typ"] != "at+jwt" {
			t.Errorf("typ %v", parsed.Header["typ"])
		}
		claims := parsed.Claims.(jwt.MapClaims)
		for _, c := range []string{"iss", "aud", "sub", "client_id", "scope", "jti", "exp", "iat"} {
			if claims[c] == nil {
				t.Errorf("claim %s missing", c)
			}
		}
		if claims["client_id"] != clientID || claims["sub"] != clientID || claims["scope"] != "companies:* employees:read:identity" {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("Refused", func(t *testing.T) { e.testTokensRefused(t, token, clientID, secret) })
	t.Run("TokenEndpointErrors", func(t *testing.T) { e.testTokenEndpointErrors(t, clientID, secret) })
	t.Run("IntrospectAndRevoke", func(t *testing.T) { e.testIntrospectAndRevoke(t, clientID, secret) })
}

// fetchJWKS reads the served JWKS and decodes its Ed25519 keys by hand, so
// that the test relies on go-jose neither to sign nor to parse keys.
func (e *testEnv) fetchJWKS(t *testing.T, uri string) map[string]ed25519.PublicKey {
	t.Helper()
	resp, err := e.client.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	e.doc.Validate(t, resp, body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("JWKS content type %q", ct)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k["d"] != "" {
			t.Fatal("JWKS publishes a private key")
		}
		if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" {
			t.Fatalf("unexpected key %v", k)
		}
		x, err := base64.RawURLEncoding.DecodeString(k["x"])
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("key x %q", k["x"])
		}
		keys[k["kid"]] = ed25519.PublicKey(x)
	}
	if len(keys) == 0 {
		t.Fatal("empty JWKS")
	}
	return keys
}

// testTokensRefused presents forged, stale and withdrawn tokens to the
// API. Each must get the very 401 an unknown API key gets.
func (e *testEnv) testTokensRefused(t *testing.T, good, clientID, secret string) {
	ctx := context.Background()
	ref := e.get(t, "", "/v1/employees", "Authorization", "Bearer hrg_live_nope")
	if ref.status != 401 {
		t.Fatalf("reference 401: %d", ref.status)
	}
	want := problemWithoutRequestID(t, ref)
	if r := e.get(t, good, "/v1/employees?limit=1"); r.status != 200 {
		t.Fatalf("the genuine token: %d %s", r.status, r.body)
	}

	parts := strings.Split(good, ".")
	var hdr, payload map[string]any
	for i, dst := range []*map[string]any{&hdr, &payload} {
		b, _ := base64.RawURLEncoding.DecodeString(parts[i])
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	kid := hdr["kid"].(string)
	priv := e.signingKey(t, kid)
	now := time.Now().Unix()
	forge := func(method jwt.SigningMethod, key any, mutate func(jwt.MapClaims)) string {
		t.Helper()
		c := jwt.MapClaims{}
		for k, v := range payload {
			c[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b, _ := json.Marshal(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid})
	algNone := base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "."
	escalated := func() string {
		c := map[string]any{}
		for k, v := range payload {
			c[k] = v
		}
		c["scope"] = "employees:read:identity,employment,compensation,banking,government_id companies:*"
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()

	// A token of a client deleted afterwards, and one revoked.
	delID, delSecret := e.newClient(t, gate.ClientRequest{Consumer: "payroll"})
	deleted, err := e.gate.IssueToken(ctx, gate.ClientAuth{ClientID: delID, Secret: delSecret}, "", netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, deleted.Value, "/v1/employees?limit=1"); r.status != 200 {
		t.Fatalf("token before deletion: %d", r.status)
	}
	if err := e.gate.DeleteClient(ctx, delID); err != nil {
		t.Fatal(err)
	}
	revoked, err := e.gate.IssueToken(ctx, gate.ClientAuth{ClientID: clientID, Secret: secret}, "", netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.postForm(t, "/oauth2/revoke", url.Values{"token": {revoked.Value}}, clientID, secret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	// A client confined to another network: its token works nowhere else.
	farID, farSecret := e.newClient(t, gate.ClientRequest{Consumer: "payroll", AllowCIDRs: []string{"192.0.2.0/24"}})
	far, err := e.gate.IssueToken(ctx, gate.ClientAuth{ClientID: farID, Secret: farSecret}, "", netip.MustParseAddr("192.0.2.10"))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, token string }{
		{"AlgNone", algNone},
		{"HS256SignedWithThePublicKey", forge(jwt.SigningMethodHS256, []byte(priv.Public().(ed25519.PublicKey)), nil)},
		{"Expired", forge(jwt.SigningMethodEdDSA, priv, func(c jwt.MapClaims) { c["iat"] = now - 20; c["exp"] = now - 1 })},
		{"NotYetValid", forge(jwt.SigningMethodEdDSA, priv, func(c jwt.MapClaims) { c["nbf"] = now + 300 })},
		{"IssuedInTheFuture", forge(jwt.SigningMethodEdDSA, priv, func(c jwt.MapClaims) { c["iat"] = now + 300; c["exp"] = now + 900 })},
		{"WrongAudience", forge(jwt.SigningMethodEdDSA, priv, func(c jwt.MapClaims) { c["aud"] = "https://other.example/v1" })},
		{"WrongIssuer", forge(jwt.SigningMethodEdDSA, priv, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })},
		{"TamperedPayload", escalated},
		{"DeletedClient", deleted.Value},
		{"Revoked", revoked.Value},
		{"OutsideClientAllowlist", far.Value},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, tc.token, "/v1/employees?limit=1")
			if r.status != 401 {
				t.Fatalf("status %d, want 401: %s", r.status, r.body)
			}
			if got := problemWithoutRequestID(t, r); got != want {
				t.Fatalf("401 body differs from an unknown key's, revealing why:\n%s\n%s", got, want)
			}
		})
	}
}

// signingKey reads a token signing key from the store, as an attacker
// with a database dump would, to forge tokens only claim checks refuse.
func (e *testEnv) signingKey(t *testing.T, kid string) ed25519.PrivateKey {
	t.Helper()
	keys, err := e.store.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == kid {
			p, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			return p.(ed25519.PrivateKey)
		}
	}
	t.Fatalf("no key %s", kid)
	return nil
}

func (e *testEnv) testTokenEndpointErrors(t *testing.T, clientID, secret string) {
	wrong, _ := hrgate.GenerateClientSecret(strings.NewReader(strings.Repeat("x", 64)))
	farID, farSecret := e.newClient(t, gate.ClientRequest{Consumer: "payroll", AllowCIDRs: []string{"192.0.2.0/24"}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	withSecret := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	var unauthorized []string
	for _, tc := range []struct {
		name       string
		form       url.Values
		id, secret string
		status     int
		err        string
	}{
		{"WrongSecret", cc, clientID, wrong, 401, "invalid_client"},
		{"WrongSecretPost", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {wrong}}, "", "", 401, "invalid_client"},
		{"UnknownClient", cc, "cli_00000000000000000000000000", secret, 401, "invalid_client"},
		{"OutsideAllowlist", cc, farID, farSecret, 401, "invalid_client"},
		{"NoCredentials", cc, "", "", 401, "invalid_client"},
		{"ScopeOutsideGrant", url.Values{"grant_type": {"client_credentials"}, "scope": {"employees:read:compensation companies:*"}}, clientID, secret, 400, "invalid_scope"},
		{"UnknownScope", url.Values{"grant_type": {"client_credentials"}, "scope": {"everything"}}, clientID, secret, 400, "invalid_scope"},
		{"PasswordGrant", url.Values{"grant_type": {"password"}}, clientID, secret, 400, "unsupported_grant_type"},
		{"NoGrantType", url.Values{}, clientID, secret, 400, "invalid_request"},
		{"RepeatedParameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, clientID, secret, 400, "invalid_request"},
		{"TwoAuthMethods", withSecret, clientID, secret, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postForm(t, "/oauth2/token", tc.form, tc.id, tc.secret)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.object(t)["error"]; got != tc.err {
				t.Fatalf("error %v, want %s: %s", got, tc.err, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
			if tc.status == 401 {
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
					t.Error("401 without a Basic challenge")
				}
				unauthorized = append(unauthorized, string(r.body))
			}
			assertNoInternals(t, r.body)
		})
	}
	for _, b := range unauthorized[1:] {
		if b != unauthorized[0] {
			t.Errorf("invalid_client answers differ, revealing why: %s vs %s", unauthorized[0], b)
		}
	}
	t.Run("SecretInQueryString", func(t *testing.T) {
		r := e.postForm(t, "/oauth2/token?client_secret="+secret, cc, clientID, secret)
		if r.status != 400 || strings.Contains(string(r.body), secret) {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("JSONBody", func(t *testing.T) {
		r := e.postForm(t, "/oauth2/token", cc, clientID, secret, "Content-Type", "application/json")
		if r.status != 400 {
			t.Fatalf("status %d", r.status)
		}
	})
}

func (e *testEnv) testIntrospectAndRevoke(t *testing.T, clientID, secret string) {
	otherID, otherSecret := e.newClient(t, gate.ClientRequest{Consumer: "holiday-planner"})
	tr := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, clientID, secret)
	if tr.status != 200 || tr.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %v", tr.status, tr.header)
	}
	token := tr.object(t)["access_token"].(string)
	form := url.Values{"token": {token}}

	in := e.postForm(t, "/oauth2/introspect", form, clientID, secret).object(t)
	if in["active"] != true || in["client_id"] != clientID || in["scope"] == "" || in["jti"] == nil {
		t.Fatalf("own token: %v", in)
	}
	if in := e.postForm(t, "/oauth2/introspect", form, otherID, otherSecret).object(t); in["active"] != false || len(in) != 1 {
		t.Fatalf("another client's token: %v", in)
	}
	if r := e.postForm(t, "/oauth2/introspect", form, "", ""); r.status != 401 {
		t.Fatalf("unauthenticated introspection: %d", r.status)
	}
	if r := e.postForm(t, "/oauth2/revoke", form, otherID, otherSecret); r.status != 400 || r.object(t)["error"] != "unauthorized_client" {
		t.Fatalf("revocation by another client: %d %s", r.status, r.body)
	}
	if r := e.get(t, token, "/v1/companies"); r.status != 200 {
		t.Fatalf("token before revocation: %d", r.status)
	}
	if r := e.postForm(t, "/oauth2/revoke", url.Values{"token": {token}, "token_type_hint": {"access_token"}}, clientID, secret); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.get(t, token, "/v1/companies"); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	if in := e.postForm(t, "/oauth2/introspect", form, clientID, secret).object(t); in["active"] != false {
		t.Fatalf("revoked token introspects %v", in)
	}
	if r := e.postForm(t, "/oauth2/revoke", url.Values{"token": {"garbage"}}, clientID, secret); r.status != 200 {
		t.Fatalf("revoking garbage: %d", r.status)
	}
}

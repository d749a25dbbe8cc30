package gate_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"github.com/hrgate/hrgate/internal/storetest"
	"net/netip"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/oauth"
	"github.com/hrgate/hrgate/sqlstore"
)

const issuer = "https://hrgate.example.com"

// oauthEnv is a store shared by two gates, as two instances of hrgate
// share one database, with a clock they share too.
type oauthEnv struct {
	db    *sqlstore.DB
	clk   *clock
	g, g2 *gate.Gate
}

func forEachOAuthDB(t *testing.T, fn func(t *testing.T, e *oauthEnv)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, db *sqlstore.DB) {
		e := &oauthEnv{db: db, clk: &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}}
		e.g, e.g2 = e.newGate(t), e.newGate(t)
		fn(t, e)
	})
}

func (e *oauthEnv) newGate(t *testing.T) *gate.Gate {
	t.Helper()
	a, err := oauth.New(e.db, oauth.Config{
		Issuer: issuer, TokenTTL: 15 * time.Minute, Algorithm: oauth.EdDSA,
		KeyRotation: 24 * time.Hour, KeyPublishAhead: time.Hour, Now: e.clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return gate.New(e.db, gate.WithClock(e.clk.now), gate.WithAuthority(a))
}

func wantUnauthorized(t *testing.T, err error, reason string) {
	t.Helper()
	if hrgate.ErrorCode(err) != hrgate.EUNAUTHORIZED {
		t.Fatalf("err = %v, want EUNAUTHORIZED", err)
	}
	if hrgate.ErrorMessage(err) != "Missing or invalid credentials." {
		t.Fatalf("message %q reveals more than the generic one", hrgate.ErrorMessage(err))
	}
	if got := gate.AuthFailureReason(err); !strings.Contains(got, reason) {
		t.Fatalf("reason %q, want it to mention %q", got, reason)
	}
}

func wantProtocol(t *testing.T, err, code error) {
	t.Helper()
	if !errors.Is(err, code) || hrgate.ErrorCode(err) != hrgate.EINVALID {
		t.Fatalf("err = %v, want %v", err, code)
	}
}

var office = netip.MustParseAddr("10.1.2.3")

func TestOAuthClients(t *testing.T) {
	forEachOAuthDB(t, func(t *testing.T, e *oauthEnv) {
		ctx := context.Background()
		if _, err := e.g.CreateConsumer(ctx, "payroll", "", []string{"employees:read:identity,employment companies:*"}); err != nil {
			t.Fatal(err)
		}
		cl, secret, err := e.g.CreateClient(ctx, gate.ClientRequest{
			Consumer: "payroll", Scopes: []string{"employees:read:identity companies:*"},
			AllowCIDRs: []string{"10.1.0.0/16", "192.0.2.7", "::ffff:10.9.0.0/112"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !hrgate.CheckClientSecret(secret) || string(cl.SecretHash) != string(hrgate.HashClientSecret(secret)) {
			t.Fatal("the record must hold the hash of the secret returned")
		}
		if got := strings.Join(cl.AllowCIDRs, " "); got != "10.1.0.0/16 192.0.2.7/32 10.9.0.0/16" {
			t.Errorf("allowlist stored as %q", got)
		}
		for name, req := range map[string]gate.ClientRequest{
			"ScopeOutsideGrant": {Consumer: "payroll", Scopes: []string{"employees:read:banking companies:*"}},
			"BadCIDR":           {Consumer: "payroll", AllowCIDRs: []string{"10.0.0.0/33"}},
			"PrivateJWK":        {Consumer: "payroll", JWK: privateJWK(t)},
		} {
			if _, _, err := e.g.CreateClient(ctx, req); hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Errorf("%s: err = %v, want EINVALID", name, err)
			}
		}
		if _, _, err := e.g.CreateClient(ctx, gate.ClientRequest{Consumer: "nobody"}); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Errorf("unknown consumer: %v", err)
		}
		jwkClient, none, err := e.g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll", JWK: publicJWK(t, newClientKey(t))})
		if err != nil || none != "" || jwkClient.AuthMethod != hrgate.AuthPrivateKeyJWT || jwkClient.SecretHash != nil {
			t.Fatalf("private_key_jwt client: %+v %q %v", jwkClient, none, err)
		}
		list, err := e.g.Clients(ctx, "payroll")
		if err != nil || len(list) != 2 {
			t.Fatalf("Clients = %d, %v", len(list), err)
		}
		if err := e.g.DeleteClient(ctx, "key_notaclient"); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Errorf("DeleteClient(bad id) = %v", err)
		}
		if err := e.g.DeleteClient(ctx, jwkClient.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOAuthTokens(t *testing.T) {
	forEachOAuthDB(t, func(t *testing.T, e *oauthEnv) {
		ctx := context.Background()
		g, g2 := e.g, e.g2
		if _, err := g.CreateConsumer(ctx, "payroll", "", []string{"employees:read:identity,employment,compensation companies:*"}); err != nil {
			t.Fatal(err)
		}
		cl, secret, err := g.CreateClient(ctx, gate.ClientRequest{
			Consumer: "payroll", Scopes: []string{"employees:read:identity,employment companies:*"}, AllowCIDRs: []string{"10.1.0.0/16"},
		})
		if err != nil {
			t.Fatal(err)
		}
		other, otherSecret, err := g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll"})
		if err != nil {
			t.Fatal(err)
		}
		auth := gate.ClientAuth{ClientID: cl.ID, Secret: secret}

		t.Run("OmittedScopeIsTheClientsGrant", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "", office)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Scope != "companies:* employees:read:identity,employment" {
				t.Fatalf("scope %q", tok.Scope)
			}
			// The other instance accepts it: one gate for keys and tokens.
			p, err := g2.Authenticate(ctx, tok.Value, office)
			if err != nil {
				t.Fatal(err)
			}
			if p.KeyID != cl.ID || p.ClientID != cl.ID || p.TokenID != tok.ID || p.ConsumerName != "payroll" ||
				p.Grant.String() != tok.Scope || p.CompanyScope().SandboxOnly {
				t.Fatalf("principal %+v grant %s", p, p.Grant)
			}
		})

		t.Run("NarrowerScope", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "employees:read:identity companies:*", office)
			if err != nil {
				t.Fatal(err)
			}
			p, err := g.Authenticate(ctx, tok.Value, office)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Grant.EmployeeGroups(); got.Has(hrgate.GroupEmployment) || !got.Has(hrgate.GroupIdentity) {
				t.Fatalf("token grant %s", p.Grant)
			}
		})

		t.Run("ErrScopeOutsideGrant", func(t *testing.T) {
			// compensation is in the consumer's grant but not the client's.
			_, err := g.IssueToken(ctx, auth, "employees:read:compensation companies:*", office)
			wantProtocol(t, err, oauth.ErrInvalidScope)
			_, err = g.IssueToken(ctx, auth, "employees:read:everything", office)
			wantProtocol(t, err, oauth.ErrInvalidScope)
		})

		t.Run("ErrClientAuthentication", func(t *testing.T) {
			wrong, _ := hrgate.GenerateClientSecret(rand.Reader)
			for _, tc := range []struct {
				name   string
				auth   gate.ClientAuth
				addr   netip.Addr
				reason string
			}{
				{"WrongSecret", gate.ClientAuth{ClientID: cl.ID, Secret: wrong}, office, "wrong client secret"},
				{"OtherClientsSecret", gate.ClientAuth{ClientID: cl.ID, Secret: otherSecret}, office, "wrong client secret"},
				{"MalformedSecret", gate.ClientAuth{ClientID: cl.ID, Secret: "hunter2"}, office, "malformed"},
				{"UnknownClient", gate.ClientAuth{ClientID: "cli_00000000000000000000000000", Secret: secret}, office, "unknown"},
				{"MalformedClientID", gate.ClientAuth{ClientID: "admin", Secret: secret}, office, "malformed client id"},
				{"NoCredential", gate.ClientAuth{ClientID: cl.ID}, office, "no client credentials"},
				{"OutsideAllowlist", auth, local, "allowlist"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := g.IssueToken(ctx, tc.auth, "", tc.addr)
					wantUnauthorized(t, err, tc.reason)
				})
			}
		})

		t.Run("AllowlistAppliesAtUse", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "", office)
			if err != nil {
				t.Fatal(err)
			}
			_, err = g.Authenticate(ctx, tok.Value, local)
			wantUnauthorized(t, err, "allowlist")
		})

		t.Run("NarrowedGrantNarrowsLiveTokens", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "", office)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.SetGrant(ctx, "payroll", []string{"employees:read:identity companies:*"}); err != nil {
				t.Fatal(err)
			}
			p, err := g2.Authenticate(ctx, tok.Value, office)
			if err != nil {
				t.Fatal(err)
			}
			if p.Grant.EmployeeGroups().Has(hrgate.GroupEmployment) {
				t.Fatalf("narrowed grant not in force: %s", p.Grant)
			}
		})

		t.Run("RevokedOnEveryInstance", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "", office)
			if err != nil {
				t.Fatal(err)
			}
			for _, inst := range []*gate.Gate{g, g2} { // warm both caches
				if _, err := inst.Authenticate(ctx, tok.Value, office); err != nil {
					t.Fatal(err)
				}
			}
			// Another client may not revoke it.
			err = g2.RevokeToken(ctx, gate.ClientAuth{ClientID: other.ID, Secret: otherSecret}, tok.Value, office)
			wantProtocol(t, err, oauth.ErrUnauthorizedClient)
			if _, err := g.Authenticate(ctx, tok.Value, office); err != nil {
				t.Fatalf("a refused revocation revoked: %v", err)
			}
			if err := g2.RevokeToken(ctx, auth, tok.Value, office); err != nil {
				t.Fatal(err)
			}
			for _, inst := range []*gate.Gate{g, g2} {
				_, err := inst.Authenticate(ctx, tok.Value, office)
				wantUnauthorized(t, err, "token revoked")
			}
			// Garbage is nothing to revoke, and not an error.
			if err := g.RevokeToken(ctx, auth, "a.b.c", office); err != nil {
				t.Fatalf("revoking garbage: %v", err)
			}
		})

		t.Run("Introspection", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "", office)
			if err != nil {
				t.Fatal(err)
			}
			in, err := g2.IntrospectToken(ctx, auth, tok.Value, office)
			if err != nil || !in.Active || in.Claims.ID != tok.ID || in.Scope == "" {
				t.Fatalf("own token: %+v, %v", in, err)
			}
			in, err = g.IntrospectToken(ctx, gate.ClientAuth{ClientID: other.ID, Secret: otherSecret}, tok.Value, office)
			if err != nil || in.Active || in.Claims != nil {
				t.Fatalf("another client's token: %+v, %v", in, err)
			}
			in, err = g.IntrospectToken(ctx, auth, "not-a-token", office)
			if err != nil || in.Active {
				t.Fatalf("garbage: %+v, %v", in, err)
			}
			_, err = g.IntrospectToken(ctx, gate.ClientAuth{ClientID: cl.ID, Secret: otherSecret}, tok.Value, office)
			wantUnauthorized(t, err, "wrong client secret")
		})

		t.Run("DeletedClientsTokensFail", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, gate.ClientAuth{ClientID: other.ID, Secret: otherSecret}, "", local)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g2.Authenticate(ctx, tok.Value, local); err != nil {
				t.Fatal(err)
			}
			if err := g.DeleteClient(ctx, other.ID); err != nil {
				t.Fatal(err)
			}
			_, err = g2.Authenticate(ctx, tok.Value, local)
			wantUnauthorized(t, err, "deleted client")
		})

		t.Run("DeletedConsumersTokensFail", func(t *testing.T) {
			tok, err := g.IssueToken(ctx, auth, "", office)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.DeleteConsumer(ctx, "payroll"); err != nil {
				t.Fatal(err)
			}
			_, err = g2.Authenticate(ctx, tok.Value, office)
			wantUnauthorized(t, err, "deleted client")
		})

		t.Run("ExpiredTokenFails", func(t *testing.T) {
			if _, err := g.CreateConsumer(ctx, "benefits", "", []string{"employees:read:identity companies:*"}); err != nil {
				t.Fatal(err)
			}
			c, s, err := g.CreateClient(ctx, gate.ClientRequest{Consumer: "benefits"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := g.IssueToken(ctx, gate.ClientAuth{ClientID: c.ID, Secret: s}, "", local)
			if err != nil {
				t.Fatal(err)
			}
			e.clk.t = e.clk.t.Add(15 * time.Minute)
			_, err = g.Authenticate(ctx, tok.Value, local)
			wantUnauthorized(t, err, "expired")
		})
	})
}

func TestPrivateKeyJWT(t *testing.T) {
	forEachOAuthDB(t, func(t *testing.T, e *oauthEnv) {
		ctx := context.Background()
		if _, err := e.g.CreateConsumer(ctx, "benefits", "", []string{"employees:read:identity companies:*"}); err != nil {
			t.Fatal(err)
		}
		key := newClientKey(t)
		cl, _, err := e.g.CreateClient(ctx, gate.ClientRequest{Consumer: "benefits", JWK: publicJWK(t, key)})
		if err != nil {
			t.Fatal(err)
		}
		assertion := clientAssertion(t, key, cl.ID, "jti-1", e.clk.t)
		// client_id is optional with an assertion: the subject names it.
		tok, err := e.g.IssueToken(ctx, gate.ClientAuth{Assertion: assertion}, "", local)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.g2.Authenticate(ctx, tok.Value, local); err != nil {
			t.Fatal(err)
		}
		// A replay fails on any instance.
		for _, g := range []*gate.Gate{e.g, e.g2} {
			_, err := g.IssueToken(ctx, gate.ClientAuth{ClientID: cl.ID, Assertion: assertion}, "", local)
			wantUnauthorized(t, err, "replayed")
		}
		_, err = e.g.IssueToken(ctx, gate.ClientAuth{ClientID: cl.ID, Assertion: clientAssertion(t, newClientKey(t), cl.ID, "jti-2", e.clk.t)}, "", local)
		wantUnauthorized(t, err, "does not verify")
		_, err = e.g.IssueToken(ctx, gate.ClientAuth{ClientID: cl.ID, Secret: "hrg_cs_x"}, "", local)
		wantUnauthorized(t, err, "private_key_jwt client")
	})
}

func newClientKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func publicJWK(t *testing.T, k ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func privateJWK(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: newClientKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func clientAssertion(t *testing.T, k ed25519.PrivateKey, clientID, jti string, now time.Time) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{
		"iss": clientID, "sub": clientID, "aud": issuer + "/oauth2/token", "jti": jti,
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	})
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/bounded"
)

// TokenType is the JWS "typ" of access tokens (RFC 9068 §2.1).
const TokenType = "at+jwt"

// ClockLeeway is how far apart the clocks of the instances that issue and
// verify tokens may be: it applies to iat and nbf, never to exp, so that no
// token lives longer than its lifetime says.
const ClockLeeway = 30 * time.Second

// Config configures an Authority.
type Config struct {
	// Issuer is the "iss" of every token and the base URL of the OAuth
	// endpoints: https://host[:port], without a path. Empty means bound
	// later with BindIssuer, once the listener's address is known.
	Issuer string
	// TokenTTL is the lifetime of access tokens.
	TokenTTL time.Duration
	// Algorithm signs new keys: EdDSA or ES256. Keys made earlier keep
	// their own algorithm, so a change takes effect at the next rotation.
	Algorithm string
	// KeyRotation is how long one key signs.
	KeyRotation time.Duration
	// KeyPublishAhead is how long before it signs a key is published.
	KeyPublishAhead time.Duration
	// Now and Random are the clock and the source of randomness; nil
	// means time.Now and crypto/rand.
	Now    func() time.Time
	Random io.Reader
}

// Authority issues and verifies access tokens. It is safe for concurrent
// use.
type Authority struct {
	ttl    time.Duration
	now    func() time.Time
	random io.Reader
	keys   *keySet
	issuer atomic.Pointer[string]
	cache  bounded.Map[string, verifiedEntry]
}

// New returns an Authority whose keys live in store.
func New(store hrgate.SigningKeyStore, cfg Config) (*Authority, error) {
	if cfg.TokenTTL < time.Minute || cfg.TokenTTL > 24*time.Hour {
		return nil, fmt.Errorf("oauth: token lifetime %v is outside 1m..24h", cfg.TokenTTL)
	}
	alg := jose.SignatureAlgorithm(cfg.Algorithm)
	if alg != jose.EdDSA && alg != jose.ES256 {
		return nil, fmt.Errorf("oauth: signing algorithm %q is neither EdDSA nor ES256", cfg.Algorithm)
	}
	if cfg.KeyPublishAhead < time.Minute || cfg.KeyRotation <= cfg.KeyPublishAhead {
		return nil, fmt.Errorf("oauth: key rotation %v must exceed publish-ahead %v, which must be at least 1m",
			cfg.KeyRotation, cfg.KeyPublishAhead)
	}
	a := &Authority{ttl: cfg.TokenTTL, now: cfg.Now, random: cfg.Random}
	a.cache.Max = verifiedCacheMax
	if a.now == nil {
		a.now = time.Now
	}
	if a.random == nil {
		a.random = rand.Reader
	}
	a.keys = &keySet{
		store: store, alg: alg, rotation: cfg.KeyRotation, publishAhead: cfg.KeyPublishAhead,
		retain:       cfg.TokenTTL + ClockLeeway,
		refreshEvery: min(time.Minute, cfg.KeyPublishAhead/4),
		now:          a.now, random: a.random,
	}
	if cfg.Issuer != "" {
		if err := checkIssuer(cfg.Issuer); err != nil {
			return nil, err
		}
		iss := cfg.Issuer
		a.issuer.Store(&iss)
	}
	return a, nil
}

// BindIssuer sets the issuer if the configuration left it empty, and
// returns the issuer in force. It lets a server that listens on port 0
// name itself once it knows its address; an issuer, once set, never
// changes.
func (a *Authority) BindIssuer(issuer string) (string, error) {
	if err := checkIssuer(issuer); err != nil {
		return "", err
	}
	a.issuer.CompareAndSwap(nil, &issuer)
	return a.Issuer(), nil
}

// checkIssuer accepts an http(s) URL with a host and no path, query or
// fragment, so that the endpoints derived from it are unambiguous.
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "/") {
		return fmt.Errorf("oauth: issuer %q must be an https://host[:port] URL without a path", s)
	}
	return nil
}

// Issuer returns the issuer, or "" while it is unbound.
func (a *Authority) Issuer() string {
	if p := a.issuer.Load(); p != nil {
		return *p
	}
	return ""
}

// Audience is the "aud" of every access token: the /v1 API, the one
// resource these tokens are for.
func (a *Authority) Audience() string { return a.Issuer() + "/v1" }

// TokenEndpoint returns the URL of the token endpoint, which is also an
// accepted audience of private_key_jwt assertions.
func (a *Authority) TokenEndpoint() string { return a.Issuer() + "/oauth2/token" }

// Claims are the claims of a verified or issued access token.
type Claims struct {
	ID        string
	Issuer    string
	Subject   string
	Audience  []string
	ClientID  string
	Scope     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	KeyID     string
}

// Token is an issued access token and its claims.
type Token struct {
	Value string
	Claims
}

// wireToken is the payload hrgate signs, in the order RFC 9068 lists it.
type wireToken struct {
	Issuer    string `json:"iss"`
	ExpiresAt int64  `json:"exp"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"`
	ClientID  string `json:"client_id"`
	IssuedAt  int64  `json:"iat"`
	ID        string `json:"jti"`
	Scope     string `json:"scope"`
}

// Issue signs an access token for clientID with the given scope. The
// caller has authenticated the client and checked the scope.
func (a *Authority) Issue(ctx context.Context, clientID, scope string) (*Token, error) {
	iss := a.Issuer()
	if iss == "" {
		return nil, errors.New("oauth: the issuer is not bound yet")
	}
	now := a.now()
	k, err := a.keys.signer(ctx, now)
	if err != nil {
		return nil, err
	}
	jti, err := hrgate.NewID(hrgate.PrefixToken, a.random)
	if err != nil {
		return nil, fmt.Errorf("oauth: token id: %w", err)
	}
	iat := now.Truncate(time.Second)
	exp := iat.Add(a.ttl)
	payload, err := json.Marshal(wireToken{
		Issuer: iss, ExpiresAt: exp.Unix(), Audience: a.Audience(), Subject: clientID, ClientID: clientID,
		IssuedAt: iat.Unix(), ID: jti, Scope: scope,
	})
	if err != nil {
		return nil, fmt.Errorf("oauth: encode claims: %w", err)
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("oauth: sign token: %w", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("oauth: serialize token: %w", err)
	}
	return &Token{Value: s, Claims: Claims{
		ID: jti, Issuer: iss, Subject: clientID, Audience: []string{a.Audience()}, ClientID: clientID,
		Scope: scope, IssuedAt: iat, ExpiresAt: exp, KeyID: k.id,
	}}, nil
}

// JWKS returns the JSON Web Key Set of the keys published now: the one
// signing, its announced successor, and retired ones whose tokens may
// still be alive.
func (a *Authority) JWKS(ctx context.Context) ([]byte, error) {
	st, err := a.keys.current(ctx, a.now())
	if err != nil {
		return nil, err
	}
	return st.jwks, nil
}

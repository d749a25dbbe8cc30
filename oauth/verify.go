package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signingAlgorithms are the only algorithms a token may name; each key
// further pins the one it was made for.
var signingAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// maxTokenLen bounds the work an oversized credential can cause.
const maxTokenLen = 4096

// InvalidTokenError says why a token was refused. Its text is for the
// server log; it never contains the token.
type InvalidTokenError struct{ Reason string }

func (e *InvalidTokenError) Error() string { return "invalid token: " + e.Reason }

func invalidToken(reason string) error { return &InvalidTokenError{Reason: reason} }

// wireClaims is what verification reads from a token's payload.
type wireClaims struct {
	jwt.Claims
	ClientID string  `json:"client_id"`
	Scope    *string `json:"scope"`
}

// Verify checks an access token and returns its claims: the signature,
// with the algorithm its key was made for; typ at+jwt and no other header
// but alg and kid; the issuer, the audience, a lifetime no longer than the
// configured one, issued while its key was signing, not expired, not
// issued in the future. Whether the token was revoked, or its client
// deleted, is the caller's question.
//
// Verified tokens are cached by their exact text until the key set is
// reloaded; expiry is checked on every call. The returned claims are
// shared and must not be modified.
func (a *Authority) Verify(ctx context.Context, token string) (*Claims, error) {
	now := a.now()
	st, err := a.keys.current(ctx, now)
	if err != nil {
		return nil, err
	}
	c := a.cachedClaims(token, st)
	if c == nil {
		var k *signingKey
		if c, k, err = a.verify(ctx, now, token); err != nil {
			return nil, err
		}
		// Cache under the snapshot that holds the very key that verified
		// the token; a snapshot loaded meanwhile may have withdrawn it.
		if st2 := a.keys.state.Load(); st2 != nil && st2.byID[k.id] == k {
			a.cache.Put(token, verifiedEntry{claims: c, version: st2.version})
		}
	}
	if !now.Before(c.ExpiresAt) {
		return nil, invalidToken("expired")
	}
	if c.IssuedAt.After(now.Add(ClockLeeway)) {
		return nil, invalidToken("issued in the future")
	}
	return c, nil
}

func (a *Authority) verify(ctx context.Context, now time.Time, token string) (*Claims, *signingKey, error) {
	iss := a.Issuer()
	if iss == "" {
		return nil, nil, errors.New("oauth: the issuer is not bound yet")
	}
	if len(token) > maxTokenLen {
		return nil, nil, invalidToken("longer than 4096 bytes")
	}
	tok, err := jwt.ParseSigned(token, signingAlgorithms)
	if err != nil {
		return nil, nil, invalidToken("malformed or disallowed algorithm")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, TokenType) &&
		!strings.EqualFold(typ, "application/"+TokenType) {
		return nil, nil, invalidToken("typ is not at+jwt")
	}
	if !onlyHeaders(token, "alg", "kid", "typ") {
		return nil, nil, invalidToken("unexpected header parameters")
	}
	k, err := a.keys.verifier(ctx, now, h.KeyID)
	if err != nil {
		return nil, nil, err
	}
	if k == nil {
		return nil, nil, invalidToken("unknown or unpublished key id")
	}
	if jose.SignatureAlgorithm(h.Algorithm) != k.alg {
		return nil, nil, invalidToken("algorithm does not match the key")
	}
	var wc wireClaims
	if err := tok.Claims(k.public, &wc); err != nil {
		return nil, nil, invalidToken("bad signature or payload")
	}
	switch {
	case wc.Issuer != iss:
		return nil, nil, invalidToken("wrong issuer")
	case !wc.Audience.Contains(a.Audience()):
		return nil, nil, invalidToken("wrong audience")
	case wc.Expiry == nil || wc.IssuedAt == nil:
		return nil, nil, invalidToken("no exp or iat")
	case wc.ID == "" || wc.ClientID == "" || wc.Subject != wc.ClientID || wc.Scope == nil:
		return nil, nil, invalidToken("missing jti, client_id, sub or scope")
	}
	iat, exp := wc.IssuedAt.Time(), wc.Expiry.Time()
	switch {
	case !exp.After(iat) || exp.Sub(iat) > a.ttl:
		return nil, nil, invalidToken("lifetime longer than the configured token lifetime")
	case iat.Before(k.activates.Add(-ClockLeeway)) || iat.After(k.retires.Add(ClockLeeway)):
		return nil, nil, invalidToken("issued outside its key's signing period")
	case wc.NotBefore != nil && wc.NotBefore.Time().After(now.Add(ClockLeeway)):
		return nil, nil, invalidToken("not valid yet")
	}
	return &Claims{
		ID: wc.ID, Issuer: wc.Issuer, Subject: wc.Subject, Audience: wc.Audience, ClientID: wc.ClientID,
		Scope: *wc.Scope, IssuedAt: iat, ExpiresAt: exp, KeyID: k.id,
	}, k, nil
}

// onlyHeaders reports whether the protected header of a compact JWS
// names no parameter but the allowed ones. It reads the header itself:
// go-jose lifts jwk, x5c and nonce out of ExtraHeaders into fields of
// their own (x5c behind a method), so counting ExtraHeaders misses them.
func onlyHeaders(token string, allowed ...string) bool {
	enc, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return false
	}
	for name := range hdr {
		if !slices.Contains(allowed, name) {
			return false
		}
	}
	return true
}

// verifiedEntry is a verified token's claims in the cache that maps token
// text to claims (Authority.cache). An entry is good only
// while the key set it was verified under is current: a change of the set,
// which may withdraw a key, empties the cache in effect, and the signature
// check then runs once more per token. It is bounded and starts over when
// full.
type verifiedEntry struct {
	claims  *Claims
	version uint64
}

const verifiedCacheMax = 20_000

// cachedClaims returns the claims cached for token when they were
// verified under the current key set.
func (a *Authority) cachedClaims(token string, st *keyState) *Claims {
	e, ok := a.cache.Get(token)
	if !ok || e.version != st.version {
		return nil
	}
	return e.claims
}

package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AssertionType is the client_assertion_type of private_key_jwt (RFC 7523
// §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime bounds how far in the future a client assertion may
// expire. Replay protection remembers each assertion id until its expiry,
// so the bound also bounds that memory.
const MaxAssertionLifetime = 10 * time.Minute

// ClientKey is the parsed public key of a private_key_jwt client and the
// one algorithm its assertions may use.
type ClientKey struct {
	key jose.JSONWebKey
	alg jose.SignatureAlgorithm
}

// Algorithm returns the JWS algorithm the key verifies.
func (k *ClientKey) Algorithm() string { return string(k.alg) }

// AssertionAlgorithms are the algorithms accepted for client assertions,
// each tied to a key type: EdDSA (Ed25519), ES256/ES384/ES512 (P-256,
// P-384, P-521), RS256/PS256 (RSA of at least 2048 bits).
var AssertionAlgorithms = []string{"EdDSA", "ES256", "ES384", "ES512", "RS256", "PS256"}

// ParseClientJWK parses the public JWK a client registers and returns it
// with its canonical JSON, the form to store. It refuses private keys (a
// client must never hand over its private key), symmetric keys, keys
// marked for encryption, RSA keys under 2048 bits, and an "alg" that does
// not fit the key type.
func ParseClientJWK(data []byte) (*ClientKey, []byte, error) {
	if len(data) > 16<<10 {
		return nil, nil, errors.New("the JWK is larger than 16 KiB")
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, nil, fmt.Errorf("not a valid JWK: %w", err)
	}
	if !k.Valid() {
		return nil, nil, errors.New("not a valid JWK")
	}
	if !k.IsPublic() {
		return nil, nil, errors.New("the JWK holds a private key; register only the public key")
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, nil, fmt.Errorf("the JWK's use is %q; it must be sig", k.Use)
	}
	var allowed []jose.SignatureAlgorithm
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
		allowed = []jose.SignatureAlgorithm{jose.EdDSA}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			allowed = []jose.SignatureAlgorithm{jose.ES256}
		case elliptic.P384():
			allowed = []jose.SignatureAlgorithm{jose.ES384}
		case elliptic.P521():
			allowed = []jose.SignatureAlgorithm{jose.ES512}
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, nil, errors.New("the RSA key is shorter than 2048 bits")
		}
		allowed = []jose.SignatureAlgorithm{jose.RS256, jose.PS256}
	}
	if len(allowed) == 0 {
		return nil, nil, errors.New("unsupported key type; use Ed25519, P-256, P-384, P-521 or RSA")
	}
	alg := allowed[0]
	if k.Algorithm != "" {
		alg = ""
		for _, a := range allowed {
			if string(a) == k.Algorithm {
				alg = a
			}
		}
		if alg == "" {
			return nil, nil, fmt.Errorf("the JWK's alg %q does not fit its key type", k.Algorithm)
		}
	}
	canon := jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: string(alg), Use: "sig"}
	b, err := json.Marshal(canon)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the JWK: %w", err)
	}
	return &ClientKey{key: canon, alg: alg}, b, nil
}

// Assertion is a verified client assertion: its id, for replay
// protection, and its expiry.
type Assertion struct {
	ID        string
	ExpiresAt time.Time
}

// VerifyAssertion checks a private_key_jwt client assertion (RFC 7523
// §3): signed by key with its algorithm; iss and sub the client id; aud
// naming this server (its issuer or its token endpoint); an expiry at
// most MaxAssertionLifetime away; a jti. The caller records the jti to
// refuse replays.
func (a *Authority) VerifyAssertion(assertion, clientID string, key *ClientKey) (*Assertion, error) {
	iss := a.Issuer()
	if iss == "" {
		return nil, errors.New("oauth: the issuer is not bound yet")
	}
	if len(assertion) > 8192 {
		return nil, invalidToken("assertion longer than 8192 bytes")
	}
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{key.alg})
	if err != nil {
		return nil, invalidToken("assertion malformed or signed with another algorithm")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); strings.Contains(strings.ToLower(typ), TokenType) {
		return nil, invalidToken("an access token is not a client assertion")
	}
	var c jwt.Claims
	if err := tok.Claims(key.key.Key, &c); err != nil {
		return nil, invalidToken("assertion signature does not verify with the registered key")
	}
	now := a.now()
	switch {
	case c.Issuer != clientID || c.Subject != clientID:
		return nil, invalidToken("assertion iss or sub is not the client id")
	case !c.Audience.Contains(iss) && !c.Audience.Contains(a.TokenEndpoint()):
		return nil, invalidToken("assertion audience is not this server")
	case c.Expiry == nil:
		return nil, invalidToken("assertion has no exp")
	case !now.Before(c.Expiry.Time()):
		return nil, invalidToken("assertion expired")
	case c.Expiry.Time().After(now.Add(MaxAssertionLifetime + ClockLeeway)):
		return nil, invalidToken("assertion expires too far in the future")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(ClockLeeway)):
		return nil, invalidToken("assertion issued in the future")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(ClockLeeway)):
		return nil, invalidToken("assertion not valid yet")
	case c.ID == "" || len(c.ID) > 256:
		return nil, invalidToken("assertion has no jti, or one over 256 bytes")
	}
	return &Assertion{ID: c.ID, ExpiresAt: c.Expiry.Time()}, nil
}

// AssertionSubject returns the unverified subject of a client assertion,
// or "". It only tells which client's key to verify the assertion with,
// when the request names no client_id; nothing else may rely on it.
func AssertionSubject(assertion string) string {
	if len(assertion) > 8192 {
		return ""
	}
	algs := make([]jose.SignatureAlgorithm, len(AssertionAlgorithms))
	for i, a := range AssertionAlgorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	tok, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return ""
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return ""
	}
	return c.Subject
}

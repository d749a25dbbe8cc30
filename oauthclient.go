package hrgate

import (
	"io"
	"regexp"
	"time"
)

// ClientAuthMethod is how an OAuth client proves its identity at the token,
// introspection and revocation endpoints.
type ClientAuthMethod string

// Client authentication methods. A client with a secret may present it in
// the Authorization header (RFC 6749 client_secret_basic) or in the form
// body (client_secret_post): both carry the same secret over the same TLS
// connection, so telling them apart would add configuration, not security.
// A private_key_jwt client (RFC 7523) has no secret at all: it signs a
// short-lived assertion with a key whose public half it registered.
const (
	AuthClientSecret  ClientAuthMethod = "client_secret"
	AuthPrivateKeyJWT ClientAuthMethod = "private_key_jwt"
)

// OAuthClient is an OAuth 2.0 client of a consumer, using the client
// credentials grant. Like an API key, it is a credential of the consumer:
// its tokens never reach further than the consumer's grant.
type OAuthClient struct {
	ID          string
	ConsumerID  string
	Description string
	AuthMethod  ClientAuthMethod
	// SecretHash is SHA-256 of the client secret (AuthClientSecret only).
	SecretHash []byte
	// PublicJWK is the registered public key, a JSON Web Key
	// (AuthPrivateKeyJWT only).
	PublicJWK []byte
	// Scopes is a subset of the consumer's grant at creation time; at use
	// it is intersected with the consumer's current grant.
	Scopes []string
	// AllowCIDRs restricts the addresses the client may request tokens
	// from and use them from; empty means any address.
	AllowCIDRs []string
	// RateLimit is the client's own allowance (its token requests and
	// the requests made with its tokens); zero fields use the defaults.
	RateLimit RateLimit
	CreatedAt time.Time
}

// The client secret format mirrors the API key format: "hrg_cs_" + 43
// base62 characters holding 256 random bits + a 6-character CRC-32
// checksum, so that secret scanners find leaked secrets and discard
// look-alikes without asking the server.
const clientSecretPrefix = "hrg_cs_"

// ClientSecretPattern matches strings shaped like client secrets. A match
// still needs CheckClientSecret to be one.
var ClientSecretPattern = regexp.MustCompile(`hrg_cs_[0-9A-Za-z]{49}`)

// GenerateClientSecret returns a new client secret, reading 256 bits from
// random, which must be a cryptographically secure source.
func GenerateClientSecret(random io.Reader) (string, error) {
	return generateSecret(clientSecretPrefix, random)
}

// CheckClientSecret reports whether s is a well-formed client secret with a
// valid checksum.
func CheckClientSecret(s string) bool { return checkSecret(clientSecretPrefix, s) }

// HashClientSecret returns the stored form of a client secret: SHA-256, for
// the reasons HashAPIKey gives.
func HashClientSecret(secret string) []byte { return HashAPIKey(secret) }

// SigningKey is a key the server signs access tokens with. It is published
// in the JWKS from CreatedAt, signs from ActivatesAt until RetiresAt, and
// stays published until every token it signed has expired.
type SigningKey struct {
	// ID is the key id ("kid"): the RFC 7638 thumbprint of the public key.
	ID string
	// Generation numbers keys 1, 2, 3, ... in rotation order. It is unique,
	// so two instances that rotate at once cannot both add a key.
	Generation int64
	// Algorithm is the JWS algorithm, "EdDSA" or "ES256".
	Algorithm string
	// PrivateKey is the PKCS #8 DER private key, in the clear here; the
	// store seals it under its data key, bound to ID, in the one column
	// that holds it (docs/security.md).
	PrivateKey  []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time
}

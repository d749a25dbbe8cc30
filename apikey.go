package hrgate

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// KeyEnv tells whether an API key is a live key or a test key. Test keys see
// only sandbox companies, so an integration under development can never read
// real people's data.
type KeyEnv string

// Key environments.
const (
	KeyLive KeyEnv = "live"
	KeyTest KeyEnv = "test"
)

// APIKey is the stored record of an API key. The record never holds the
// secret: Hash is SHA-256 of the whole key string. (A key made by
// automatic rotation has its secret wait, sealed under the keyring, in a
// KeyDelivery until an operator fetches it.)
type APIKey struct {
	ID          string
	ConsumerID  string
	Env         KeyEnv
	Hash        []byte
	Description string
	// Scopes is a subset of the consumer's grant at creation time. At use,
	// the effective grant is the intersection with the consumer's current
	// grant, so narrowing a grant narrows every key at once.
	Scopes []string
	// AllowCIDRs restricts the client addresses the key works from; empty
	// means any address.
	AllowCIDRs []string
	CreatedAt  time.Time
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt time.Time
	// RevokedAt is zero for a key that has not been revoked.
	RevokedAt    time.Time
	LastUsedAt   time.Time
	LastUsedAddr string
	// ReplacedByID names the key that replaced this one in a rotation;
	// the key keeps working until ExpiresAt, the end of the grace period.
	ReplacedByID string
	// RateLimit is the key's own allowance; zero fields use the defaults.
	RateLimit RateLimit
}

// KeyDelivery is the secret of a key that hrgate created on its own, by
// automatic rotation, waiting until an operator fetches it. It is stored
// sealed, handed out once and then deleted; it is never logged.
type KeyDelivery struct {
	KeyID      string
	ConsumerID string
	// ReplacesID is the key the delivered one replaces.
	ReplacesID string
	Secret     string
	CreatedAt  time.Time
}

// Rotated reports whether the key has been replaced by another; it then
// works only until its ExpiresAt, the end of the grace period.
func (k *APIKey) Rotated() bool { return k.ReplacedByID != "" }

// Usable reports whether the key may authenticate at time now, and if not,
// why (a reason for the log and the audit trail, never for the client).
func (k *APIKey) Usable(now time.Time) (ok bool, reason string) {
	switch {
	case !k.RevokedAt.IsZero():
		// Any revocation counts at once, whatever the revoking clock said:
		// a CLI whose clock runs ahead must not leave the key working.
		return false, "key revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return false, "key expired"
	}
	return true, ""
}

// The API key format: "hrg_" + env + "_" + 43 base62 characters holding 256
// random bits + 6 base62 characters of a CRC-32 over everything before them.
// The prefix lets secret scanners find leaked keys; the checksum lets them
// (and hrgate) discard look-alike strings without a database look-up.
const (
	apiKeyBodyLen     = 43
	apiKeyChecksumLen = 6
	base62Alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// AdminTokenPrefix starts the admin tokens hrgate generates (followed by
// 256 random bits in 43 base64url characters), and AdminTokenPattern
// finds them, so that a leaked admin token is as easy to find as a key.
const AdminTokenPrefix = "hrg_admin_"

// AdminTokenPattern matches generated admin tokens.
var AdminTokenPattern = regexp.MustCompile(`hrg_admin_[0-9A-Za-z_-]{43}`)

// APIKeyPattern matches strings shaped like hrgate API keys. A match still
// needs CheckAPIKey to be a key.
var APIKeyPattern = regexp.MustCompile(`hrg_(?:live|test)_[0-9A-Za-z]{49}`)

// GenerateAPIKey returns a new API key for env, reading 256 bits from random,
// which must be a cryptographically secure source.
func GenerateAPIKey(env KeyEnv, random io.Reader) (string, error) {
	if env != KeyLive && env != KeyTest {
		return "", fmt.Errorf("unknown key environment %q", env)
	}
	return generateSecret("hrg_"+string(env)+"_", random)
}

// generateSecret returns prefix + 256 bits from random in base62 + a
// checksum of both: the format of API keys, client secrets and source
// tokens, which secret scanners find by prefix and verify without a
// look-up.
func generateSecret(prefix string, random io.Reader) (string, error) {
	var secret [32]byte
	if _, err := io.ReadFull(random, secret[:]); err != nil {
		return "", fmt.Errorf("read random secret bytes: %w", err)
	}
	body := prefix + base62(secret[:], apiKeyBodyLen)
	sum := apiKeyChecksum(body)
	return body + string(sum[:]), nil
}

// checkSecret reports whether s is a secret of generateSecret's format
// with prefix and a valid checksum.
func checkSecret(prefix, s string) bool {
	if len(s) != len(prefix)+apiKeyBodyLen+apiKeyChecksumLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if strings.IndexByte(base62Alphabet, s[i]) < 0 {
			return false
		}
	}
	return checksumOK(s)
}

// CheckAPIKey reports whether s is a well-formed API key with a valid
// checksum, and its environment.
func CheckAPIKey(s string) (KeyEnv, bool) {
	for _, env := range []KeyEnv{KeyLive, KeyTest} {
		if checkSecret("hrg_"+string(env)+"_", s) {
			return env, true
		}
	}
	return "", false
}

// HashAPIKey returns the stored form of a key. A single SHA-256 suffices
// because the key holds 256 random bits: there is nothing to brute-force
// (see docs/security.md).
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// apiKeyChecksum returns the checksum that ends a key or client secret
// whose other characters are s: the CRC-32 of s in six base62 digits. It
// is on the path of every authenticated request, so it works on a uint32
// rather than through base62's big integers (62^6 > 2^32, so the digits are
// the same).
func apiKeyChecksum(s string) [apiKeyChecksumLen]byte {
	v := crc32.ChecksumIEEE([]byte(s))
	var d [apiKeyChecksumLen]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = base62Alphabet[v%62]
		v /= 62
	}
	return d
}

// checksumOK reports whether the last six characters of s are the
// checksum of the rest, comparing in constant time.
func checksumOK(s string) bool {
	split := len(s) - apiKeyChecksumLen
	want := apiKeyChecksum(s[:split])
	return subtle.ConstantTimeCompare(want[:], []byte(s[split:])) == 1
}

// base62 encodes b as a big-endian number in exactly n base62 digits.
func base62(b []byte, n int) string {
	v := new(big.Int).SetBytes(b)
	out := make([]byte, n)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := n - 1; i >= 0; i-- {
		v.DivMod(v, base, mod)
		out[i] = base62Alphabet[mod.Int64()]
	}
	return string(out)
}

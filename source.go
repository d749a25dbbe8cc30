package hrgate

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"time"
)

// SourceType says how a source brings data in.
type SourceType string

// Source types.
const (
	SourceSCIM    SourceType = "scim"    // pushes over SCIM 2.0 with a bearer token
	SourceCSV     SourceType = "csv"     // CSV files imported by an operator; no credential
	SourceWebhook SourceType = "webhook" // signed inbound webhooks (Standard Webhooks)
)

// Valid reports whether t is a known source type.
func (t SourceType) Valid() bool {
	return t == SourceSCIM || t == SourceCSV || t == SourceWebhook
}

// Source is a system that brings the HR data of one company in: an HR
// system pushing over SCIM, a payroll export imported as CSV, or an HR
// system sending webhooks. Its credential is its own, separate from any
// consumer's: a source writes, a consumer reads.
type Source struct {
	ID        string
	CompanyID string
	Name      string
	Type      SourceType
	// TokenHash is SHA-256 of a SCIM source's bearer token (the token is
	// shown once, at creation, and never stored); nil for other types.
	TokenHash []byte
	// HasSecret tells whether the source has a webhook signing secret,
	// which the store keeps sealed under the keyring and hands out only
	// through SourceStore.SourceSecret.
	HasSecret bool
	CreatedAt time.Time
}

var sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidSourceName reports whether name is a valid source name: 1 to 63
// lower-case letters, digits, '-' or '_', starting with a letter or digit,
// and not shaped like a source id (sources are looked up by either).
func ValidSourceName(name string) bool {
	return sourceNameRE.MatchString(name) && !ValidID(PrefixSource, name)
}

// The SCIM source token format follows the API key format (apikey.go):
// "hrg_scim_" + 43 base62 characters holding 256 random bits + 6 base62
// characters of a CRC-32 over everything before them, so that secret
// scanners find leaked tokens and discard look-alikes without a look-up.
const sourceTokenPrefix = "hrg_scim_" // #nosec G101 -- the public prefix of the format, not a credential.

// SourceTokenPattern matches strings shaped like SCIM source tokens. A
// match still needs CheckSourceToken to be a token.
var SourceTokenPattern = regexp.MustCompile(`hrg_scim_[0-9A-Za-z]{49}`)

// GenerateSourceToken returns a new SCIM source token, reading 256 bits
// from random, which must be a cryptographically secure source.
func GenerateSourceToken(random io.Reader) (string, error) {
	return generateSecret(sourceTokenPrefix, random)
}

// CheckSourceToken reports whether s is a well-formed SCIM source token
// with a valid checksum.
func CheckSourceToken(s string) bool { return checkSecret(sourceTokenPrefix, s) }

// HashSourceToken returns the stored form of a SCIM source token: SHA-256,
// which suffices for 256 random bits (as for API keys).
func HashSourceToken(token string) []byte { return HashAPIKey(token) }

// WebhookSecretPrefix starts a webhook source's signing secret, as the
// Standard Webhooks specification writes secrets: "whsec_" and the
// base64 of the key bytes.
const WebhookSecretPrefix = "whsec_"

// WebhookSecretPattern matches the text form of the webhook secrets
// hrgate generates (32 bytes: 43 base64 characters and a '=' of padding,
// which a copy may drop). It has no checksum to tell look-alikes apart,
// so a match is only a string shaped like a secret.
var WebhookSecretPattern = regexp.MustCompile(`whsec_[0-9A-Za-z+/]{43}=?`)

// webhookSecretBytes is the size of a webhook signing key: 256 bits, the
// size of the HMAC-SHA256 output, within the 24 to 64 bytes the
// Standard Webhooks specification allows.
const webhookSecretBytes = 32

// GenerateWebhookSecret returns a new webhook signing key and its
// "whsec_…" text form, reading from random, which must be a
// cryptographically secure source.
func GenerateWebhookSecret(random io.Reader) (key []byte, text string, err error) {
	key = make([]byte, webhookSecretBytes)
	if _, err := io.ReadFull(random, key); err != nil {
		return nil, "", fmt.Errorf("read random secret bytes: %w", err)
	}
	return key, WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// SourceStore persists sources.
type SourceStore interface {
	// CreateSource inserts s, and, for a webhook source, its signing key
	// sealed under the keyring, in one transaction. A taken name is
	// ECONFLICT; a company that does not exist is EINVALID.
	CreateSource(ctx context.Context, s *Source, secret []byte) error
	// FindSource returns the source with the given id or name, or
	// ENOTFOUND.
	FindSource(ctx context.Context, idOrName string) (*Source, error)
	// FindSourceByTokenHash returns the SCIM source whose token has the
	// given hash, or ENOTFOUND.
	FindSourceByTokenHash(ctx context.Context, hash []byte) (*Source, error)
	// ListSources returns the sources of a company ("" for every
	// company) ordered by name.
	ListSources(ctx context.Context, companyID string) ([]*Source, error)
	// SourceSecret returns a webhook source's signing key, opened, or
	// ENOTFOUND when the source has none.
	SourceSecret(ctx context.Context, id string) ([]byte, error)
	// RotateSourceCredential replaces the credential of the source with
	// the given id: a SCIM source's token hash (tokenHash) or a webhook
	// source's signing key (secret, sealed under the keyring), whichever
	// its type has; the old one no longer authenticates once it returns.
	// ENOTFOUND when there is no such source; EINVALID for a credential
	// of another type than the source's (a CSV source has none). at is
	// when the new secret was made.
	RotateSourceCredential(ctx context.Context, id string, tokenHash, secret []byte, at time.Time) error
	// DeleteSource deletes the source with its credential, its runs and
	// its record of remote ids, or ENOTFOUND. Employees it brought in
	// stay, with their source id as a historical reference.
	DeleteSource(ctx context.Context, id string) error
}

package hrgate

import (
	"regexp"
	"time"
)

// Consumer is an application that reads HR data through hrgate: payroll,
// benefits, an IT tool. Its Scopes are its grant, in canonical scope syntax
// (see package grant); every credential of the consumer carries a subset.
type Consumer struct {
	ID          string
	Name        string
	Description string
	Scopes      []string
	// KeyRotation, when set, makes the server rotate the consumer's keys
	// automatically.
	KeyRotation KeyRotation
	// RateLimit is the consumer's allowance over all its credentials;
	// zero fields use the defaults.
	RateLimit  RateLimit
	CreatedAt  time.Time
	ModifiedAt time.Time
}

// KeyRotation is a consumer's automatic key rotation policy: a key that
// reaches MaxAge is replaced by a new one with the same scopes and rules,
// and keeps working for Grace so that the integration can switch over. The
// new key waits in a delivery box until an operator fetches it.
type KeyRotation struct {
	// MaxAge is zero when keys are not rotated automatically.
	MaxAge time.Duration
	Grace  time.Duration
}

// Enabled reports whether keys rotate automatically.
func (r KeyRotation) Enabled() bool { return r.MaxAge > 0 }

var consumerNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidConsumerName reports whether name is a valid consumer name: 1 to 63
// lower-case letters, digits, '-' or '_', starting with a letter or digit.
// A name shaped like a consumer id (con_…) is not valid: consumers are
// looked up by id or name.
func ValidConsumerName(name string) bool {
	return consumerNameRE.MatchString(name) && !ValidID(PrefixConsumer, name)
}

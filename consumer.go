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
	CreatedAt   time.Time
	ModifiedAt  time.Time
}

var consumerNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidConsumerName reports whether name is a valid consumer name: 1 to 63
// lower-case letters, digits, '-' or '_', starting with a letter or digit.
func ValidConsumerName(name string) bool { return consumerNameRE.MatchString(name) }

package hrgate

import (
	"encoding/base32"
	"fmt"
	"io"
	"strings"
)

// Prefixes of the opaque identifiers hrgate issues. The prefix tells a human
// what kind of object an id names; the rest is 128 random bits.
const (
	PrefixCompany  = "com"
	PrefixEmployee = "emp"
	PrefixTimeOff  = "tor"
	PrefixBalance  = "tob"
	PrefixTeam     = "tea"
	PrefixLocation = "loc"
	PrefixConsumer = "con"
	PrefixAPIKey   = "key"
	PrefixSource   = "src"
	PrefixClient   = "cli"
	PrefixToken    = "tok"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// idRandomBytes is the amount of randomness in an id: 128 bits, so ids cannot
// be guessed or enumerated.
const idRandomBytes = 16

// NewID returns prefix + "_" + 26 characters encoding 128 bits read from
// random. random must be a cryptographically secure source (crypto/rand in
// production); tests inject a deterministic one.
func NewID(prefix string, random io.Reader) (string, error) {
	var b [idRandomBytes]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("read random id bytes: %w", err)
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether s has the shape of an id with the given prefix. It
// lets transports reject garbage before it reaches storage.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", rune(rest[i])) {
			return false
		}
	}
	return true
}

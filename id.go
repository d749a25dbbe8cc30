package hrgate

import (
	"encoding/base32"
	"fmt"
	"io"
	"strings"
	"time"
)

// Prefixes of the opaque identifiers hrgate issues. The prefix tells a human
// what kind of object an id names; the rest is 128 random bits, or, for the
// records written in bulk (NewOrderedID), a millisecond and 80 random bits.
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

// idAlphabet is the base32 alphabet of ids: digits and lower-case letters
// but i, l, o and u, in ASCII order, so that ids sort as their bits do.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

var idEncoding = base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding)

// idRandomBytes is the amount of randomness in an id: 128 bits, so ids cannot
// be guessed or enumerated.
const idRandomBytes = 16

// NewID returns prefix + "_" + 26 characters encoding 128 bits read from
// random. random must be a cryptographically secure source (crypto/rand in
// production); tests inject a deterministic one.
func NewID(prefix string, random io.Reader) (string, error) {
	var b [idRandomBytes]byte
	return encodeID(prefix, b, 0, random)
}

// encodeID returns prefix + "_" + b encoded, b[from:] read from random.
func encodeID(prefix string, b [idRandomBytes]byte, from int, random io.Reader) (string, error) {
	if _, err := io.ReadFull(random, b[from:]); err != nil {
		return "", fmt.Errorf("read random id bytes: %w", err)
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:]), nil
}

// NewOrderedID is NewID for records written in bulk (employees, their
// change events, sync runs): the first 48 of the 128 bits are the
// milliseconds since 1970 at now, the caller's clock, the other 80 read
// from random. Ids
// made one after another then sort one after another, so that the
// indexes keyed by them grow at their end: an import of 100,000
// employees no longer touches a page of every such index per row. 80
// random bits still cannot be guessed, even knowing the millisecond; and
// the time they reveal is about the record's created_at (an import stamps
// each row's id as it goes, its created_at at its start), which every
// read shows anyway. A clock set back only costs that locality.
func NewOrderedID(prefix string, now time.Time, random io.Reader) (string, error) {
	var b [idRandomBytes]byte
	ms := uint64(max(now.UnixMilli(), 0))
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	return encodeID(prefix, b, 6, random)
}

// ValidID reports whether s has the shape of an id with the given prefix. It
// lets transports reject garbage before it reaches storage.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune(idAlphabet, rune(rest[i])) {
			return false
		}
	}
	return true
}

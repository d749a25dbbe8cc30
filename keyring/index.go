package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"unicode"
)

// Blind index kinds: the values hrgate can find an employee by without
// decrypting anything.
const (
	IndexNationalID    = "national_id"
	IndexPersonalEmail = "personal_email"
)

// indexSize is the length of a stored blind index: 128 bits of an
// HMAC-SHA256, which keeps collisions out of reach for any workforce.
const indexSize = 16

type indexKey struct {
	version int
	key     []byte
	active  bool
}

// normalize returns the form of value that is indexed, so that the same
// identifier written differently finds the same employee: national ids
// lose spaces, dots, dashes and slashes and are upper-cased; e-mail
// addresses are trimmed and lower-cased. An unknown kind yields "".
func normalize(kind, value string) string {
	switch kind {
	case IndexNationalID:
		return strings.Map(func(r rune) rune {
			switch {
			case r == '-' || r == '.' || r == '/' || unicode.IsSpace(r):
				return -1
			}
			return unicode.ToUpper(r)
		}, value)
	case IndexPersonalEmail:
		return strings.ToLower(strings.TrimSpace(value))
	}
	return ""
}

// BlindIndex implements hrgate.Cipher. An empty normalised value has no
// index: it would match every employee without one.
func (k *Keyring) BlindIndex(kind, value string) [][]byte {
	norm := normalize(kind, value)
	if norm == "" {
		return nil
	}
	k.mu.RLock()
	keys := k.index
	k.mu.RUnlock()
	out := make([][]byte, 0, len(keys))
	for _, ik := range keys {
		out = append(out, blindIndex(ik.key, kind, norm))
	}
	return out
}

// ActiveBlindIndex returns the blind index of value under the active
// index key alone (BlindIndex's first hash): what a write stores. The keys
// of earlier versions serve searches during a rotation, never writes.
func (k *Keyring) ActiveBlindIndex(kind, value string) []byte {
	norm := normalize(kind, value)
	if norm == "" {
		return nil
	}
	k.mu.RLock()
	key := k.index[0].key
	k.mu.RUnlock()
	return blindIndex(key, kind, norm)
}

// IndexVersion returns the version of the index key BlindIndex uses first,
// which stores record with each index they write.
func (k *Keyring) IndexVersion() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.index[0].version
}

func blindIndex(key []byte, kind, norm string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(appendParts(nil, "hrgate/index/v1", kind, norm))
	return mac.Sum(nil)[:indexSize]
}

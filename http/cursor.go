package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"slices"

	"github.com/hrgate/hrgate"
)

// Cursors are opaque to clients and tamper-proof: the payload (a version,
// a hash of the query and credential they belong to, and the last id seen)
// is authenticated with HMAC-SHA256 under a server secret shared by every
// instance through the store. A cursor replayed with other filters or by
// another credential is refused.
const (
	cursorVersion = 1
	cursorMACLen  = 16
)

type cursorCodec struct {
	key []byte
}

// queryHash identifies a list query: route, credential and every filter
// parameter, but not the page position or size. It reads the parsed query
// itself, so a filter added to a route is covered without being listed
// here.
func queryHash(route, keyID string, q query) uint64 {
	keys := make([]string, 0, len(q.values))
	for k := range q.values {
		if k != "cursor" && k != "limit" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := fnv.New64a()
	_, _ = h.Write([]byte(route))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(keyID))
	for _, k := range keys {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(k + "=" + q.get(k)))
	}
	return h.Sum64()
}

func (c cursorCodec) encode(qh uint64, afterID string) string {
	payload := make([]byte, 9, 9+len(afterID)+cursorMACLen)
	payload[0] = cursorVersion
	binary.BigEndian.PutUint64(payload[1:9], qh)
	payload = append(payload, afterID...)
	payload = append(payload, c.mac(payload)...)
	return base64.RawURLEncoding.EncodeToString(payload)
}

var errBadCursor = hrgate.Errorf(hrgate.EINVALID, "cursor is invalid: pass back the next_cursor of the previous page unchanged, with the same filters.")

func (c cursorCodec) decode(s string, qh uint64) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > 256 {
		return "", errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 9+cursorMACLen {
		return "", errBadCursor
	}
	payload, mac := raw[:len(raw)-cursorMACLen], raw[len(raw)-cursorMACLen:]
	if !hmac.Equal(mac, c.mac(payload)) {
		return "", errBadCursor
	}
	if payload[0] != cursorVersion || binary.BigEndian.Uint64(payload[1:9]) != qh {
		return "", errBadCursor
	}
	return string(payload[9:]), nil
}

func (c cursorCodec) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	_, _ = m.Write(payload)
	return m.Sum(nil)[:cursorMACLen]
}

// Package stdwebhook signs and verifies webhook messages per the Standard
// Webhooks specification (https://www.standardwebhooks.com): the headers
// webhook-id, webhook-timestamp and webhook-signature, where a signature is
// "v1," and the base64 of HMAC-SHA256 over "id.timestamp.body". hrgate
// verifies with it what sources send in, and signs with it what it
// delivers to consumers, so both directions read the scheme the same way.
package stdwebhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Tolerance is how far a message's timestamp may lie from the receiver's
// clock, before or after, for the message to be accepted: five minutes, as
// the specification recommends. It bounds how long a captured message can
// be replayed, and so how long a receiver must remember message ids.
const Tolerance = 5 * time.Minute

// SecretPrefix starts the text form of a signing secret: the prefix of
// the secrets hrgate generates (hrgate.GenerateWebhookSecret).
const SecretPrefix = hrgate.WebhookSecretPrefix

// MaxIDLength bounds a message id. The specification sets no bound; ids
// are remembered to drop replays, so an unbounded one would be a way to
// fill the receiver's store.
const MaxIDLength = 128

// maxSignatures bounds the signatures one header may carry: a sender in
// a rotation sends two, so a handful is generous, and the bound keeps a
// forged header from costing a receiver many HMACs.
const maxSignatures = 8

// Errors of Verify. None of them repeats a header's value.
var (
	ErrMissingHeaders = errors.New("the webhook-id, webhook-timestamp and webhook-signature headers are required")
	ErrBadID          = errors.New("the webhook-id header must be 1 to 128 printable ASCII characters")
	ErrBadTimestamp   = errors.New("the webhook-timestamp header must be Unix seconds")
	ErrStale          = errors.New("the webhook-timestamp is more than 5 minutes from the receiver's clock")
	ErrSignature      = errors.New("no signature in webhook-signature matches the message")
)

// ParseSecret returns the key of a secret in its text form: "whsec_" and
// base64, or base64 alone, as the specification's libraries accept.
func ParseSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("a webhook secret is whsec_ followed by base64")
	}
	return key, nil
}

// Sign returns the v1 signature of a message: "v1," and the base64 of
// HMAC-SHA256 under key over "id.timestamp.body".
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, timestamp, body))
}

// SignatureHeader returns the webhook-signature value for a message
// signed under every key, space-separated: during a secret rotation the
// sender signs with the old and the new key so that a receiver holding
// either accepts it.
func SignatureHeader(keys [][]byte, id string, timestamp int64, body []byte) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Sign(k, id, timestamp, body))
	}
	return b.String()
}

// SetHeaders sets the three Standard Webhooks headers of a message on h.
func SetHeaders(h http.Header, keys [][]byte, id string, timestamp time.Time, body []byte) {
	ts := timestamp.Unix()
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, SignatureHeader(keys, id, ts, body))
}

// Verify checks a received message: the three headers are present and
// well formed, the timestamp lies within Tolerance of now, and at least
// one v1 signature in webhook-signature matches body under one of keys.
// Signatures are compared in constant time. It returns the message id,
// which the caller must remember for Tolerance to drop replays.
func Verify(keys [][]byte, h http.Header, body []byte, now time.Time) (string, error) {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return "", ErrMissingHeaders
	}
	if !validID(id) {
		return "", ErrBadID
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts < 0 {
		return "", ErrBadTimestamp
	}
	// Compare in seconds: a timestamp far outside time.Time's range must
	// not overflow into the window.
	if d := now.Unix() - ts; d > int64(Tolerance/time.Second) || d < -int64(Tolerance/time.Second) {
		return "", ErrStale
	}
	macs := make([][]byte, len(keys))
	for i, k := range keys {
		macs[i] = mac(k, id, ts, body)
	}
	for n, sig := range strings.Fields(sigs) {
		if n == maxSignatures {
			break
		}
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			continue
		}
		for _, want := range macs {
			if hmac.Equal(got, want) {
				return id, nil
			}
		}
	}
	return "", ErrSignature
}

func mac(key []byte, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

func validID(id string) bool {
	if len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

package stdwebhook_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/stdwebhook"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// The official library accepts what this package signs, and this package
// accepts what the official library signs: the two read the scheme alike,
// and the secret text hrgate shows (GenerateWebhookSecret) alike too.
func TestInteropWithOfficialLibrary(t *testing.T) {
	key, secret, err := hrgate.GenerateWebhookSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	official, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"employee.created","data":{"id":"emp_1"}}`)
	now := time.Now()

	h := http.Header{}
	stdwebhook.SetHeaders(h, [][]byte{key}, "msg_1", now, body)
	if err := official.Verify(body, h); err != nil {
		t.Fatalf("the official library refused our signature: %v", err)
	}

	sig, err := official.Sign("msg_2", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h2 := http.Header{}
	h2.Set(stdwebhook.HeaderID, "msg_2")
	h2.Set(stdwebhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h2.Set(stdwebhook.HeaderSignature, sig)
	id, err := stdwebhook.Verify([][]byte{key}, h2, body, now)
	if err != nil || id != "msg_2" {
		t.Fatalf("Verify of the official signature = %q, %v", id, err)
	}

	parsed, err := stdwebhook.ParseSecret(secret)
	if err != nil || !bytes.Equal(parsed, key) {
		t.Fatalf("ParseSecret of GenerateWebhookSecret's text = %x, %v; want its key", parsed, err)
	}
}

// During a rotation both signatures travel; a receiver holding either key
// accepts the message, one holding neither refuses it.
func TestRotationSignsWithBothKeys(t *testing.T) {
	oldKey, newKey2, other := newKey(t), newKey(t), newKey(t)
	body := []byte("{}")
	now := time.Now()
	h := http.Header{}
	stdwebhook.SetHeaders(h, [][]byte{newKey2, oldKey}, "msg_r", now, body)
	for _, k := range [][]byte{oldKey, newKey2} {
		official, err := standardwebhooks.NewWebhookRaw(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := official.Verify(body, h); err != nil {
			t.Errorf("a receiver holding one of the two keys refused: %v", err)
		}
	}
	if _, err := stdwebhook.Verify([][]byte{other}, h, body, now); !errors.Is(err, stdwebhook.ErrSignature) {
		t.Errorf("Verify with an unrelated key = %v, want ErrSignature", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	key := newKey(t)
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	good := func() http.Header {
		h := http.Header{}
		stdwebhook.SetHeaders(h, [][]byte{key}, "msg_ok", now, body)
		return h
	}
	cases := []struct {
		name string
		edit func(h http.Header) []byte
		want error
	}{
		{"no id", func(h http.Header) []byte { h.Del(stdwebhook.HeaderID); return body }, stdwebhook.ErrMissingHeaders},
		{"no signature", func(h http.Header) []byte { h.Del(stdwebhook.HeaderSignature); return body }, stdwebhook.ErrMissingHeaders},
		{"id with a space", func(h http.Header) []byte { h.Set(stdwebhook.HeaderID, "a b"); return body }, stdwebhook.ErrBadID},
		{"id too long", func(h http.Header) []byte {
			h.Set(stdwebhook.HeaderID, string(bytes.Repeat([]byte("x"), stdwebhook.MaxIDLength+1)))
			return body
		}, stdwebhook.ErrBadID},
		{"timestamp not a number", func(h http.Header) []byte { h.Set(stdwebhook.HeaderTimestamp, "yesterday"); return body }, stdwebhook.ErrBadTimestamp},
		{"timestamp huge", func(h http.Header) []byte {
			h.Set(stdwebhook.HeaderTimestamp, "9223372036854775807")
			return body
		}, stdwebhook.ErrStale},
		{"timestamp 6 minutes old", func(h http.Header) []byte {
			stdwebhook.SetHeaders(h, [][]byte{key}, "msg_ok", now.Add(-6*time.Minute), body)
			return body
		}, stdwebhook.ErrStale},
		{"timestamp 6 minutes ahead", func(h http.Header) []byte {
			stdwebhook.SetHeaders(h, [][]byte{key}, "msg_ok", now.Add(6*time.Minute), body)
			return body
		}, stdwebhook.ErrStale},
		{"body changed", func(h http.Header) []byte { return []byte(`{"a":2}`) }, stdwebhook.ErrSignature},
		{"id changed", func(h http.Header) []byte { h.Set(stdwebhook.HeaderID, "msg_other"); return body }, stdwebhook.ErrSignature},
		{"timestamp changed", func(h http.Header) []byte {
			h.Set(stdwebhook.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return body
		}, stdwebhook.ErrSignature},
		{"unknown version only", func(h http.Header) []byte {
			h.Set(stdwebhook.HeaderSignature, "v1a,"+h.Get(stdwebhook.HeaderSignature)[3:])
			return body
		}, stdwebhook.ErrSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := good()
			b := c.edit(h)
			if _, err := stdwebhook.Verify([][]byte{key}, h, b, now); !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	// Within the window on either side, it is accepted.
	for _, skew := range []time.Duration{-4 * time.Minute, 4 * time.Minute} {
		h := http.Header{}
		stdwebhook.SetHeaders(h, [][]byte{key}, "msg_ok", now.Add(skew), body)
		if _, err := stdwebhook.Verify([][]byte{key}, h, body, now); err != nil {
			t.Errorf("skew %v: %v", skew, err)
		}
	}
}

func TestParseSecretRefusesGarbage(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_!!!", "not base64 at all"} {
		if _, err := stdwebhook.ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) succeeded", s)
		}
	}
}

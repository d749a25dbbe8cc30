package audit_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
)

func TestEncodeRoundTrip(t *testing.T) {
	full := event(7)
	full.Time = time.Date(2026, 11, 21, 12, 0, 0, 123456000, time.UTC)
	full.Instance, full.Reason, full.Target = "node-1", "unknown key", "consumer:con_x"
	full.Before = json.RawMessage(`{"scopes":["teams:read"]}`)
	full.After = json.RawMessage(`{"scopes":["teams:read","locations:read"],"name":"Zoë ✓"}`)
	for _, tc := range []struct {
		name string
		ev   *hrgate.AuditEvent
	}{
		{"Full", full},
		{"Empty", &hrgate.AuditEvent{Type: "server.start", Time: time.Unix(0, 0).UTC()}},
		{"BeforeEpoch", &hrgate.AuditEvent{Type: "x", Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := audit.Encode(nil, tc.ev)
			got, err := audit.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.ev) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, tc.ev)
			}
			if again := audit.Encode(nil, got); !bytes.Equal(again, body) {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

// Two events that differ in any field have different encodings, including
// when text moves from one field to the next: the length prefixes keep
// fields apart.
func TestEncodeIsInjective(t *testing.T) {
	a := &hrgate.AuditEvent{Type: "t", Actor: "ab", CredentialID: "c"}
	b := &hrgate.AuditEvent{Type: "t", Actor: "a", CredentialID: "bc"}
	c := &hrgate.AuditEvent{Type: "t", RecordIDs: []string{"ab"}}
	d := &hrgate.AuditEvent{Type: "t", RecordIDs: []string{"a", "b"}}
	if bytes.Equal(audit.Encode(nil, a), audit.Encode(nil, b)) || bytes.Equal(audit.Encode(nil, c), audit.Encode(nil, d)) {
		t.Fatal("distinct events share an encoding")
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	good := audit.Encode(nil, event(1))
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"Empty", nil},
		{"UnknownVersion", append([]byte{2}, good[1:]...)},
		{"Truncated", good[:len(good)-1]},
		{"TrailingByte", append(bytes.Clone(good), 0)},
		{"HugeLength", append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := audit.Decode(tc.body); err == nil {
				t.Fatal("decoded a malformed body")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(ev *hrgate.AuditEvent)
		ok     bool
	}{
		{"OK", func(*hrgate.AuditEvent) {}, true},
		{"ErrNoType", func(ev *hrgate.AuditEvent) { ev.Type = "" }, false},
		{"ErrUpperCaseType", func(ev *hrgate.AuditEvent) { ev.Type = "API.request" }, false},
		{"ErrNewlineInReason", func(ev *hrgate.AuditEvent) { ev.Reason = "bad\nforged line" }, false},
		{"ErrInvalidUTF8", func(ev *hrgate.AuditEvent) { ev.Actor = "\xff" }, false},
		{"ErrLongField", func(ev *hrgate.AuditEvent) { ev.Route = strings.Repeat("r", 1025) }, false},
		{"ErrEmptyRecordID", func(ev *hrgate.AuditEvent) { ev.RecordIDs = []string{""} }, false},
		{"ErrTooManyRecordIDs", func(ev *hrgate.AuditEvent) { ev.RecordIDs = make([]string, 10_001) }, false},
		{"ErrBeforeNotObject", func(ev *hrgate.AuditEvent) { ev.Before = json.RawMessage(`[1]`) }, false},
		{"ErrAfterNotJSON", func(ev *hrgate.AuditEvent) { ev.After = json.RawMessage(`{`) }, false},
		{"ErrNegativeLatency", func(ev *hrgate.AuditEvent) { ev.LatencyUS = -1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := event(1)
			tc.mutate(ev)
			err := audit.Check(ev)
			if tc.ok != (err == nil) {
				t.Fatalf("Check = %v, want ok %v", err, tc.ok)
			}
			if err != nil && hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Fatalf("code %q, want invalid", hrgate.ErrorCode(err))
			}
		})
	}
}

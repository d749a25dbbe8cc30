package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
)

// Bounds of an event. They keep one event, and so one group commit,
// small, and a malformed caller from filling the trail.
const (
	maxField     = 1024
	maxRecordIDs = 10_000
	maxRecordID  = 128
	maxGroups    = 64
	maxJSON      = 64 << 10
)

// prepare checks ev and fills in what the log decides: time, instance.
func (l *Log) prepare(ev *hrgate.AuditEvent) error {
	if ev == nil {
		return hrgate.Errorf(hrgate.EINVALID, "An audit event is required.")
	}
	if ev.Type == hrgate.AuditCheckpoint {
		return hrgate.Errorf(hrgate.EINVALID, "Checkpoints are appended by the log itself.")
	}
	if err := Check(ev); err != nil {
		return err
	}
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	if ev.Instance == "" {
		ev.Instance = l.instance
	}
	ev.Seq, ev.PrevHash, ev.Hash, ev.MAC = 0, nil, nil, nil
	return nil
}

// Check reports, as EINVALID, what makes ev unfit for the trail: an
// invalid type, text that is too long, not UTF-8 or holds control
// characters (which could forge lines in a SIEM), too many record ids or
// groups, or Before/After that are not JSON objects.
func Check(ev *hrgate.AuditEvent) error {
	if !ValidType(ev.Type) {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid audit event type %s: 1 to 64 of a-z, 0-9, '.', '_' and '-'.", hrgate.EchoQuoted(ev.Type))
	}
	for _, f := range []struct{ name, v string }{
		{"instance", ev.Instance}, {"request_id", ev.RequestID}, {"actor_kind", ev.ActorKind}, {"actor", ev.Actor},
		{"credential_id", ev.CredentialID}, {"consumer_id", ev.ConsumerID}, {"client_addr", ev.ClientAddr},
		{"method", ev.Method}, {"route", ev.Route}, {"object", ev.Object}, {"reason", ev.Reason}, {"target", ev.Target},
	} {
		if err := checkText(f.name, f.v, maxField); err != nil {
			return err
		}
	}
	if ev.Status < 0 || ev.Status > 999 || ev.LatencyUS < 0 {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid audit event status or latency.")
	}
	if len(ev.RecordIDs) > maxRecordIDs {
		return hrgate.Errorf(hrgate.EINVALID, "An audit event holds at most %d record ids.", maxRecordIDs)
	}
	for _, id := range ev.RecordIDs {
		if id == "" {
			return hrgate.Errorf(hrgate.EINVALID, "Invalid audit event: empty record id.")
		}
		if err := checkText("record_ids", id, maxRecordID); err != nil {
			return err
		}
	}
	if len(ev.Groups) > maxGroups {
		return hrgate.Errorf(hrgate.EINVALID, "An audit event holds at most %d field groups.", maxGroups)
	}
	for _, g := range ev.Groups {
		if err := checkText("groups", g, maxField); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"before", ev.Before}, {"after", ev.After}} {
		if len(f.v) == 0 {
			continue
		}
		if len(f.v) > maxJSON || !json.Valid(f.v) || !bytes.HasPrefix(bytes.TrimSpace(f.v), []byte("{")) {
			return hrgate.Errorf(hrgate.EINVALID, "Invalid audit event %s: a JSON object of at most %d bytes.", f.name, maxJSON)
		}
	}
	return nil
}

// ValidType reports whether t is a well-formed event type: 1 to 64 of
// a-z, 0-9, '.', '_' and '-'. The search filters check theirs with it, so
// that what they accept is what an event may hold.
func ValidType(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkText(name, v string, limit int) error {
	if len(v) > limit || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid audit event %s: at most %d bytes of UTF-8 text without control characters.", name, limit)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

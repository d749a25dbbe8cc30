package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/hrgate/hrgate"
)

// The canonical encoding of an event (version 1) is what the chain hashes
// and what the store keeps as the event's body. It is length-prefixed
// binary, not JSON: every byte string has exactly one encoding and every
// encoding exactly one meaning, with no rules about escapes, number forms
// or key order to get right in each verifier, and it decodes and
// re-encodes byte for byte. The JSON form of an event is made from the
// decoded body, for people and SIEMs.
//
//	body    = version time type instance request_id actor_kind actor
//	          credential_id consumer_id client_addr method route status
//	          latency_us object record_ids groups reason target before after
//	version = 0x01
//	time    = int64, microseconds since the Unix epoch
//	status, latency_us = int64
//	record_ids, groups = uint32 count, then that many strings
//	before, after = string (the bytes of a JSON object, or empty)
//	every other field = string
//	string  = uint32 length, then that many bytes
//
// Integers are big-endian, int64 in two's complement. The sequence number
// and the chain fields are not part of the body: the chain hash binds
// them (chain.go).
const encodingVersion = 1

// Encode appends the canonical encoding of ev to dst.
func Encode(dst []byte, ev *hrgate.AuditEvent) []byte {
	dst = append(dst, encodingVersion)
	dst = appendInt(dst, ev.Time.UnixMicro())
	for _, s := range [...]string{ev.Type, ev.Instance, ev.RequestID, ev.ActorKind, ev.Actor,
		ev.CredentialID, ev.ConsumerID, ev.ClientAddr, ev.Method, ev.Route} {
		dst = appendString(dst, s)
	}
	dst = appendInt(dst, int64(ev.Status))
	dst = appendInt(dst, ev.LatencyUS)
	dst = appendString(dst, ev.Object)
	dst = appendList(dst, ev.RecordIDs)
	dst = appendList(dst, ev.Groups)
	dst = appendString(dst, ev.Reason)
	dst = appendString(dst, ev.Target)
	dst = appendString(dst, string(ev.Before))
	dst = appendString(dst, string(ev.After))
	return dst
}

func appendInt(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s))) // #nosec G115 -- check bounds every field far below 4 GiB.
	return append(dst, s...)
}

func appendList(dst []byte, l []string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l))) // #nosec G115 -- check bounds the count.
	for _, s := range l {
		dst = appendString(dst, s)
	}
	return dst
}

var errBody = errors.New("malformed event body")

// reader walks a body without copying it.
type reader struct {
	b   []byte
	err error
}

func (r *reader) int() int64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errBody
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b)) // #nosec G115 -- two's complement by definition.
	r.b = r.b[8:]
	return v
}

func (r *reader) count() int {
	if r.err != nil || len(r.b) < 4 {
		r.err = errBody
		return 0
	}
	n := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	// Every element takes at least four bytes: a count larger than that
	// allows is malformed, and must not size an allocation.
	if uint64(n) > uint64(len(r.b)) {
		r.err = errBody
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// fields are the parts of a body that the verifier compares with the
// store's search columns, as slices of the body.
type fields struct {
	time                int64
	typ, consumer, cred []byte
	records             [][]byte
	after               []byte
}

// scan reads the fields the verifier needs from body into f, reusing
// f.records, and checks that the body is well-formed from end to end.
func (f *fields) scan(body []byte) error {
	r := reader{b: body}
	if len(body) == 0 || body[0] != encodingVersion {
		return errBody
	}
	r.b = r.b[1:]
	f.time = r.int()
	f.typ = r.bytes()
	r.bytes() // instance
	r.bytes() // request id
	r.bytes() // actor kind
	r.bytes() // actor
	f.cred = r.bytes()
	f.consumer = r.bytes()
	r.bytes() // client address
	r.bytes() // method
	r.bytes() // route
	r.int()   // status
	r.int()   // latency
	r.bytes() // object
	f.records = f.records[:0]
	for n := r.count(); n > 0 && r.err == nil; n-- {
		f.records = append(f.records, r.bytes())
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		r.bytes() // group
	}
	r.bytes() // reason
	r.bytes() // target
	r.bytes() // before
	f.after = r.bytes()
	if r.err == nil && len(r.b) != 0 {
		return errBody
	}
	return r.err
}

// Decode returns the event body encodes. The sequence number and chain
// fields are left for the caller to set.
func Decode(body []byte) (*hrgate.AuditEvent, error) {
	if len(body) == 0 || body[0] != encodingVersion {
		return nil, errBody
	}
	r := reader{b: body[1:]}
	str := func() string { return string(r.bytes()) }
	list := func() []string {
		n := r.count()
		if n == 0 {
			return nil
		}
		out := make([]string, 0, min(n, len(r.b)/4))
		for ; n > 0 && r.err == nil; n-- {
			out = append(out, str())
		}
		return out
	}
	raw := func() json.RawMessage {
		b := r.bytes()
		if len(b) == 0 {
			return nil
		}
		return append(json.RawMessage(nil), b...)
	}
	ev := &hrgate.AuditEvent{}
	ev.Time = time.UnixMicro(r.int()).UTC()
	ev.Type, ev.Instance, ev.RequestID, ev.ActorKind, ev.Actor = str(), str(), str(), str(), str()
	ev.CredentialID, ev.ConsumerID, ev.ClientAddr, ev.Method, ev.Route = str(), str(), str(), str(), str()
	ev.Status = int(r.int())
	ev.LatencyUS = r.int()
	ev.Object = str()
	ev.RecordIDs = list()
	ev.Groups = list()
	ev.Reason, ev.Target = str(), str()
	ev.Before, ev.After = raw(), raw()
	if r.err == nil && len(r.b) != 0 {
		return nil, errBody
	}
	if r.err != nil {
		return nil, r.err
	}
	return ev, nil
}

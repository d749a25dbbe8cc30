package sink

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
)

// Syslog severities (RFC 5424 §6.2.1) the sink uses.
const (
	severityWarning = 4
	severityNotice  = 5
	severityInfo    = 6
)

// appName is the APP-NAME of every message.
const appName = "hrgate"

// syslogFormat writes audit events as RFC 5424 messages:
//
//	<PRI>1 TIMESTAMP HOSTNAME hrgate PROCID MSGID [SD-ID k="v" ...] MSG
//
// MSGID is the event type, the structured data element holds the fields a
// SIEM filters on, and MSG is the whole event as JSON with every non-ASCII
// character written as a \u escape. The MSG is thereby plain ASCII, which
// RFC 5424 allows without the byte order mark it asks of UTF-8; receivers
// that do not expect a BOM parse it as JSON unchanged.
type syslogFormat struct {
	facility int
	hostname string
	procID   string
	sdID     string
	maxSize  int
}

func newSyslogFormat(sc config.AuditSink) *syslogFormat {
	host := sc.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	return &syslogFormat{
		facility: config.SyslogFacilities[sc.Facility],
		hostname: headerField(host, 255),
		procID:   strconv.Itoa(os.Getpid()),
		sdID:     sc.SDID,
		maxSize:  sc.MaxMessageSize,
	}
}

// severity maps an event to a syslog severity: warning for failures and
// refusals, notice for other requests answered with an error status, info
// for the rest.
func severity(e *hrgate.AuditEvent) int {
	for _, s := range []string{".failure", ".failed", ".denied", ".refused", ".rejected", ".error"} {
		if strings.HasSuffix(e.Type, s) {
			return severityWarning
		}
	}
	if e.Status >= 400 {
		return severityNotice
	}
	return severityInfo
}

// sdParam is one SD-PARAM of the structured data element.
type sdParam struct{ name, value string }

// sdParams returns the event's fields for the structured data element,
// leaving out empty ones. The names are the event's JSON names, all of
// them valid SD-NAMEs.
func sdParams(e *hrgate.AuditEvent) []sdParam {
	ps := []sdParam{
		{"seq", strconv.FormatInt(e.Seq, 10)},
		{"type", e.Type},
		{"instance", e.Instance},
		{"actor_kind", e.ActorKind},
		{"credential_id", e.CredentialID},
		{"consumer_id", e.ConsumerID},
		{"client_addr", e.ClientAddr},
		{"method", e.Method},
		{"route", e.Route},
		{"status", ""},
		{"object", e.Object},
		{"record_count", ""},
		{"target", e.Target},
		{"request_id", e.RequestID},
		{"hash", ""},
	}
	for i := range ps {
		switch ps[i].name {
		case "status":
			if e.Status != 0 {
				ps[i].value = strconv.Itoa(e.Status)
			}
		case "record_count":
			if e.Object != "" || len(e.RecordIDs) > 0 {
				ps[i].value = strconv.Itoa(len(e.RecordIDs))
			}
		case "hash":
			if len(e.Hash) > 0 {
				// The encoding of the JSON in MSG, so that the two compare.
				ps[i].value = base64.StdEncoding.EncodeToString(e.Hash)
			}
		}
	}
	out := ps[:0]
	for _, p := range ps {
		if p.value != "" {
			out = append(out, p)
		}
	}
	return out
}

// message returns the event as one RFC 5424 message of at most maxSize
// bytes. A longer one has its MSG cut, and the parameter truncated="true"
// added; should the structured data alone not fit, only seq and type
// remain of it.
func (f *syslogFormat) message(e *hrgate.AuditEvent) ([]byte, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", e.Seq, err)
	}
	msg := asciiJSON(body)
	header := f.header(e)
	params := sdParams(e)

	var b bytes.Buffer
	b.Grow(len(header) + len(msg) + 256)
	b.WriteString(header)
	writeSD(&b, f.sdID, params)
	b.WriteByte(' ')
	if b.Len()+len(msg) <= f.maxSize {
		b.Write(msg)
		return b.Bytes(), nil
	}

	truncated := sdParam{"truncated", "true"}
	for _, ps := range [][]sdParam{
		append(params, truncated),
		{params[0], {"type", truncateBytes(e.Type, 64)}, truncated},
	} {
		b.Reset()
		b.WriteString(header)
		writeSD(&b, f.sdID, ps)
		if b.Len() < f.maxSize {
			b.WriteByte(' ')
			b.Write(msg[:min(len(msg), f.maxSize-b.Len())])
			return b.Bytes(), nil
		}
	}
	// The header alone is at most 341 bytes, less than the smallest
	// max_message_size allowed.
	b.Reset()
	b.WriteString(header)
	b.WriteByte('-')
	return b.Bytes(), nil
}

// header returns "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID ".
func (f *syslogFormat) header(e *hrgate.AuditEvent) string {
	ts := "-"
	if !e.Time.IsZero() {
		ts = e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	}
	return fmt.Sprintf("<%d>1 %s %s %s %s %s ",
		f.facility*8+severity(e), ts, f.hostname, appName, f.procID, headerField(e.Type, 32))
}

// headerField makes s a header field of at most n printable ASCII
// characters (RFC 5424 §6.2): others become '_', and an empty value the
// NILVALUE "-".
func headerField(s string, n int) string {
	if s == "" {
		return "-"
	}
	b := []byte(s)
	if len(b) > n {
		b = b[:n]
	}
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	return string(b)
}

// writeSD writes one SD-ELEMENT holding params.
func writeSD(b *bytes.Buffer, id string, params []sdParam) {
	b.WriteByte('[')
	b.WriteString(id)
	for _, p := range params {
		b.WriteByte(' ')
		b.WriteString(p.name)
		b.WriteString(`="`)
		writeParamValue(b, p.value)
		b.WriteByte('"')
	}
	b.WriteByte(']')
}

// writeParamValue writes an SD-PARAM value (RFC 5424 §6.3.3): valid UTF-8
// with '"', '\' and ']' escaped by a backslash. Invalid UTF-8 and control
// characters, which would be mangled or rejected downstream, become
// U+FFFD.
func writeParamValue(b *bytes.Buffer, v string) {
	for len(v) > 0 {
		r, size := utf8.DecodeRuneInString(v)
		switch {
		case r == '"' || r == '\\' || r == ']':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(v[:size])
		}
		v = v[size:]
	}
}

// asciiJSON rewrites JSON text so that every character outside ASCII is a
// \u escape (a surrogate pair beyond the BMP). Outside strings JSON is
// ASCII already, so the result is the same JSON value.
func asciiJSON(in []byte) []byte {
	out := make([]byte, 0, len(in))
	const hex = "0123456789abcdef"
	esc := func(r rune) {
		out = append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	for len(in) > 0 {
		if in[0] < utf8.RuneSelf {
			out = append(out, in[0])
			in = in[1:]
			continue
		}
		r, size := utf8.DecodeRune(in)
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			esc(r1)
			esc(r2)
		} else {
			esc(r)
		}
		in = in[size:]
	}
	return out
}

// truncateBytes cuts s to at most n bytes without splitting a character.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

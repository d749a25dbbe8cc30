package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/hrgate/hrgate"
)

// Export formats.
const (
	FormatJSONL = "jsonl"
	FormatCEF   = "cef"
)

// exportPage is how many events Export reads at a time.
const exportPage = 1000

// Export writes the events that match f (its Limit and AfterSeq ignored:
// all of them, in order) to w in format, one per line, and returns how
// many it wrote. Every event is verified as it is read (Reader), so an
// export never carries a tampered event without failing. version is the
// hrgate version CEF headers name.
func Export(ctx context.Context, r *Reader, f hrgate.AuditFilter, format, version string, w io.Writer) (int, error) {
	if format != FormatJSONL && format != FormatCEF {
		return 0, hrgate.Errorf(hrgate.EINVALID, "Unknown export format %s: use jsonl or cef.", hrgate.EchoQuoted(format))
	}
	bw := bufio.NewWriter(w)
	f.AfterSeq, f.Limit = 0, exportPage
	n := 0
	for {
		evs, err := r.FindAuditEvents(ctx, f)
		if err != nil {
			return n, err
		}
		for _, ev := range evs {
			var line []byte
			if format == FormatJSONL {
				if line, err = json.Marshal(ev); err != nil {
					return n, err
				}
			} else {
				line = AppendCEF(nil, ev, version)
			}
			if _, err := bw.Write(append(line, '\n')); err != nil {
				return n, err
			}
			n++
		}
		// A page may come back short when an event failed the filter on
		// its body (Reader), so only an empty page ends the export.
		if len(evs) == 0 {
			return n, bw.Flush()
		}
		f.AfterSeq = evs[len(evs)-1].Seq
	}
}

// AppendCEF appends ev as one ArcSight Common Event Format (CEF) line,
// without the newline:
//
//	CEF:0|hrgate|hrgate|version|type|name|severity|extension
//
// Header fields escape "\" and "|", extension values "\", "=" and line
// breaks, as the CEF specification requires. Extension keys are CEF's
// own (rt, src, suser, requestMethod, outcome, ...); hrgate's fields
// without a CEF key travel in labelled custom fields (cs1-cs6, cn1-cn2).
func AppendCEF(dst []byte, ev *hrgate.AuditEvent, version string) []byte {
	dst = append(dst, "CEF:0|hrgate|hrgate|"...)
	dst = appendCEFHeader(dst, version)
	dst = append(dst, '|')
	dst = appendCEFHeader(dst, ev.Type)
	dst = append(dst, '|')
	dst = appendCEFHeader(dst, cefName(ev))
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(cefSeverity(ev)), 10)
	dst = append(dst, '|')

	dst = append(dst, "rt="...)
	dst = strconv.AppendInt(dst, ev.Time.UnixMilli(), 10)
	dst = append(dst, " externalId="...)
	dst = strconv.AppendInt(dst, ev.Seq, 10)
	ext := func(key, v string) {
		if v != "" {
			dst = append(dst, ' ')
			dst = append(dst, key...)
			dst = append(dst, '=')
			dst = appendCEFValue(dst, v)
		}
	}
	ext("dvchost", ev.Instance)
	ext("src", ev.ClientAddr)
	ext("suser", ev.Actor)
	ext("suid", ev.CredentialID)
	ext("requestMethod", ev.Method)
	ext("request", ev.Route)
	if ev.Status != 0 {
		ext("outcome", cefOutcome(ev))
		ext("cn1", strconv.Itoa(ev.Status))
		ext("cn1Label", "status")
	}
	if ev.LatencyUS != 0 {
		ext("cn2", strconv.FormatInt(ev.LatencyUS, 10))
		ext("cn2Label", "latencyMicros")
	}
	ext("reason", ev.Reason)
	for _, c := range []struct{ key, label, v string }{
		{"cs1", "consumerId", ev.ConsumerID},
		{"cs2", "recordIds", strings.Join(ev.RecordIDs, ",")},
		{"cs3", "fieldGroups", strings.Join(ev.Groups, ",")},
		{"cs4", "requestId", ev.RequestID},
		{"cs5", "object", ev.Object},
		{"cs6", "target", ev.Target},
	} {
		if c.v != "" {
			ext(c.key, c.v)
			ext(c.key+"Label", c.label)
		}
	}
	var msg []string
	if len(ev.Before) > 0 {
		msg = append(msg, "before="+string(ev.Before))
	}
	if len(ev.After) > 0 {
		msg = append(msg, "after="+string(ev.After))
	}
	ext("msg", strings.Join(msg, " "))
	ext("cat", ev.ActorKind)
	if len(ev.Hash) > 0 {
		ext("flexString1", hex.EncodeToString(ev.Hash))
		ext("flexString1Label", "chainHash")
	}
	return dst
}

func appendCEFHeader(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '|':
			dst = append(dst, '\\', c)
		case '\n', '\r':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendCEFValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '=':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// cefName is the human-readable name of an event.
func cefName(ev *hrgate.AuditEvent) string {
	switch ev.Type {
	case hrgate.AuditAPIRequest, hrgate.AuditAdminRequest:
		if ev.Object != "" {
			return ev.Object + " read"
		}
		return "request"
	case hrgate.AuditAuthFailure:
		return "authentication failed"
	case hrgate.AuditTokenIssued:
		return "access token issued"
	case hrgate.AuditServerStart:
		return "server started"
	case hrgate.AuditServerStop:
		return "server stopped"
	case hrgate.AuditCheckpoint:
		return "audit checkpoint"
	}
	return strings.ReplaceAll(ev.Type, ".", " ")
}

// cefSeverity rates an event from 0 to 10.
func cefSeverity(ev *hrgate.AuditEvent) int {
	switch {
	case ev.Status >= 500:
		return 7
	case ev.Type == hrgate.AuditAuthFailure:
		return 5
	case ev.Status >= 400:
		return 4
	case ev.Type == hrgate.AuditAPIRequest || ev.Type == hrgate.AuditCheckpoint:
		return 1
	}
	return 3
}

func cefOutcome(ev *hrgate.AuditEvent) string {
	if ev.Status >= 400 {
		return "failure"
	}
	return "success"
}

package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
)

func TestAppendCEF(t *testing.T) {
	ev := &hrgate.AuditEvent{
		Seq: 42, Time: time.UnixMilli(1_700_000_000_123).UTC(), Type: hrgate.AuditAuthFailure, Instance: "node|1",
		ActorKind: hrgate.ActorConsumer, CredentialID: "key_x", ClientAddr: "192.0.2.1", Method: "GET",
		Route: "GET /v1/employees", Status: 401, Reason: `revoked (key a=b\c)`,
		After: json.RawMessage(`{"a":"b"}`),
	}
	got := string(audit.AppendCEF(nil, ev, "v1|2"))
	want := `CEF:0|hrgate|hrgate|v1\|2|auth.failure|authentication failed|5|rt=1700000000123 externalId=42 dvchost=node|1 ` +
		`src=192.0.2.1 suid=key_x requestMethod=GET request=GET /v1/employees outcome=failure cn1=401 cn1Label=status ` +
		`reason=revoked (key a\=b\\c) msg=after\={"a":"b"} cat=consumer`
	if got != want {
		t.Fatalf("CEF\n got %s\nwant %s", got, want)
	}
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	st := MustOpenStore(t, storeSQLite(t))
	l := MustOpenLog(t, st, testKeys(t), audit.Options{})
	fill(t, l, 0, 2500)
	for _, format := range []string{audit.FormatJSONL, audit.FormatCEF} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := audit.Export(ctx, l.Reader, hrgate.AuditFilter{CredentialID: "key_1"}, format, "dev", &buf)
			if err != nil || n != 833 {
				t.Fatalf("exported %d (%v), want 833", n, err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != n {
				t.Fatalf("%d lines for %d events", len(lines), n)
			}
			if format == audit.FormatJSONL {
				var ev hrgate.AuditEvent
				if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.CredentialID != "key_1" || ev.Seq != 2 {
					t.Fatalf("first line %s: %v", lines[0], err)
				}
			}
		})
	}
	if _, err := audit.Export(ctx, l.Reader, hrgate.AuditFilter{}, "xml", "dev", &bytes.Buffer{}); hrgate.ErrorCode(err) != hrgate.EINVALID {
		t.Fatalf("unknown format: %v", err)
	}
}

// An unknown format is refused, and a secret pasted as one is named, not
// repeated.
func TestExportUnknownFormat(t *testing.T) {
	const key = "hrg_live_0123456789abcdef0123456789abcdef01234567"
	st := MustOpenStore(t, storeSQLite(t))
	l := MustOpenLog(t, st, testKeys(t), audit.Options{})
	_, err := audit.Export(context.Background(), l.Reader, hrgate.AuditFilter{}, key, "dev", &bytes.Buffer{})
	if hrgate.ErrorCode(err) != hrgate.EINVALID || strings.Contains(err.Error(), key[:12]) {
		t.Fatalf("export in format %q: %v; want EINVALID without the key", key, err)
	}
}

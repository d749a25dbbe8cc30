package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
)

// TestAuditSinks loads sink sections from YAML and checks that every bad
// one is refused with a message naming the key, and every good one passes.
func TestAuditSinks(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pem, []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name  string
		sinks string // YAML list items under audit.sinks
		want  string // "" means valid
	}{
		{"OKFile", "- {name: f, type: file, path: " + filepath.Join(dir, "audit.jsonl") + ", max_size: 4096, max_files: 3}", ""},
		{"OKSyslogTLS", "- {name: s, type: syslog, address: 'siem.example.com:6514', ca_file: " + pem + ", cert_file: " + pem + ", key_file: " + pem + "}", ""},
		{"OKSyslogUDP", "- {name: s, type: syslog, transport: udp, address: '10.0.0.5:514', facility: local3, max_message_size: 1200}", ""},
		{"OKSyslogTCP", "- {name: s, type: syslog, transport: tcp, address: '127.0.0.1:514', sd_id: 'audit@99999.1'}", ""},
		{"OKHEC", "- {name: h, type: http, url: 'https://splunk.example.com:8088/services/collector/event', token_env: HEC_TOKEN, index: hr}", ""},
		{"OKHECLoopbackHTTP", "- {name: h, type: http, url: 'http://127.0.0.1:8088/services/collector/event', token_file: " + pem + ", allow_http: true}", ""},
		{"OKTwoSinks", "- {name: a, type: file, path: a.jsonl}\n    - {name: b, type: file, path: b.jsonl}", ""},

		{"NoName", "- {type: file, path: x}", "audit.sinks[0].name"},
		{"BadName", "- {name: 'a b', type: file, path: x}", "audit.sinks[0].name"},
		{"DuplicateNames", "- {name: a, type: file, path: a.jsonl}\n    - {name: a, type: file, path: b.jsonl}", `audit.sinks[1].name: "a" is already the name of audit.sinks[0]`},
		{"NoType", "- {name: a}", "audit.sinks[0].type: must be set"},
		{"UnknownType", "- {name: a, type: kafka}", `audit.sinks[0].type: "kafka" is not a sink type`},
		{"UnknownKey", "- {name: a, type: file, path: x, rotate: yes}", `unknown key "rotate"`},
		{"KeyOfOtherType", "- {name: a, type: file, path: x, address: 'h:1'}", "audit.sinks[0].address: applies only to syslog sinks"},
		{"FileNoPath", "- {name: a, type: file}", "audit.sinks[0].path"},
		{"FilePathIsDir", "- {name: a, type: file, path: " + dir + "}", "audit.sinks[0].path: exists and is not a regular file"},
		{"FileTinyMaxSize", "- {name: a, type: file, path: x, max_size: 10}", "audit.sinks[0].max_size"},
		{"FileTooManyFiles", "- {name: a, type: file, path: x, max_files: 5000}", "audit.sinks[0].max_files"},
		{"BatchTooBig", "- {name: a, type: file, path: x, batch_size: 100000}", "audit.sinks[0].batch_size"},
		{"RetryMaxBelowMin", "- {name: a, type: file, path: x, retry_min: 10s, retry_max: 1s}", "audit.sinks[0].retry_max"},
		{"SyslogNoAddress", "- {name: a, type: syslog}", "audit.sinks[0].address: must be the collector's HOST:PORT"},
		{"SyslogBadAddress", "- {name: a, type: syslog, address: siem.example.com}", "audit.sinks[0].address: must be HOST:PORT"},
		{"SyslogPortZero", "- {name: a, type: syslog, address: 'siem:0'}", "audit.sinks[0].address: port"},
		{"SyslogSecondSinkBad", "- {name: a, type: file, path: x}\n    - {name: b, type: syslog, transport: udp}", "audit.sinks[1].address"},
		{"SyslogBadTransport", "- {name: a, type: syslog, transport: sctp, address: 'h:1'}", "audit.sinks[0].transport"},
		{"SyslogBadFacility", "- {name: a, type: syslog, address: 'h:1', facility: wizard}", "audit.sinks[0].facility"},
		{"SyslogSDIDWithoutNumber", "- {name: a, type: syslog, address: 'h:1', sd_id: hrgate}", "audit.sinks[0].sd_id"},
		{"SyslogSDIDBadChar", "- {name: a, type: syslog, address: 'h:1', sd_id: 'hr]gate@1'}", "audit.sinks[0].sd_id"},
		{"SyslogSDIDTooLong", "- {name: a, type: syslog, address: 'h:1', sd_id: 'abcdefghijabcdefghijabcdefghij@12345'}", "audit.sinks[0].sd_id"},
		{"SyslogUDPTooBig", "- {name: a, type: syslog, transport: udp, address: 'h:1', max_message_size: 70000}", "audit.sinks[0].max_message_size"},
		{"SyslogBadHostname", "- {name: a, type: syslog, address: 'h:1', hostname: 'my host'}", "audit.sinks[0].hostname"},
		{"SyslogMissingCA", "- {name: a, type: syslog, address: 'h:1', ca_file: " + missing + "}", "audit.sinks[0].ca_file: " + missing + " does not exist"},
		{"SyslogCADir", "- {name: a, type: syslog, address: 'h:1', ca_file: " + dir + "}", "audit.sinks[0].ca_file"},
		{"SyslogCertWithoutKey", "- {name: a, type: syslog, address: 'h:1', cert_file: " + pem + "}", "audit.sinks[0].cert_file: cert_file and key_file"},
		{"SyslogMissingKey", "- {name: a, type: syslog, address: 'h:1', cert_file: " + pem + ", key_file: " + missing + "}", "audit.sinks[0].key_file"},
		{"SyslogCAOnPlainTCP", "- {name: a, type: syslog, transport: tcp, address: 'h:1', ca_file: " + pem + "}", "audit.sinks[0].ca_file: applies only to TLS"},
		{"HTTPNoURL", "- {name: a, type: http, token_env: T}", "audit.sinks[0].url"},
		{"HTTPPlain", "- {name: a, type: http, url: 'http://127.0.0.1:8088/x', token_env: T}", "audit.sinks[0].url: must be https://"},
		{"HTTPPlainRemote", "- {name: a, type: http, url: 'http://splunk.example.com:8088/x', token_env: T, allow_http: true}", "audit.sinks[0].allow_http: permits http:// only to a loopback host"},
		{"HTTPOtherScheme", "- {name: a, type: http, url: 'ftp://x/y', token_env: T}", "audit.sinks[0].url"},
		{"HTTPNoToken", "- {name: a, type: http, url: 'https://x/y'}", "audit.sinks[0].token_file"},
		{"HTTPTwoTokens", "- {name: a, type: http, url: 'https://x/y', token_env: T, token_file: " + pem + "}", "audit.sinks[0].token_env"},
		{"HTTPBadTokenEnv", "- {name: a, type: http, url: 'https://x/y', token_env: 'A-B'}", "audit.sinks[0].token_env"},
		{"HTTPMissingTokenFile", "- {name: a, type: http, url: 'https://x/y', token_file: " + missing + "}", "audit.sinks[0].token_file"},
		{"HTTPUserInURL", "- {name: a, type: http, url: 'https://u:hunter2@x/y', token_env: T}", "audit.sinks[0].url: must not hold a user name or password"},
		{"HTTPQueryInURL", "- {name: a, type: http, url: 'https://x/y?token=hunter2', token_env: T}", "audit.sinks[0].url: must not have a query"},
		{"HTTPCAWithPlainURL", "- {name: a, type: http, url: 'http://127.0.0.1/y', allow_http: true, token_env: T, ca_file: " + pem + "}", "audit.sinks[0].ca_file: applies only to TLS"},
		{"HTTPBadTimeout", "- {name: a, type: http, url: 'https://x/y', token_env: T, timeout: 1h}", "audit.sinks[0].timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "audit:\n  sinks:\n    "+tc.sinks+"\n")
			c, _, err := config.Load(path, nil)
			if err == nil {
				err = c.Validate()
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error repeats a secret: %v", err)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestAuditSinkDefaults(t *testing.T) {
	s := config.AuditSink{Name: "s", Type: config.SinkSyslog, Address: "h:6514"}.WithDefaults()
	if s.Transport != config.SyslogTLS || s.Facility != "authpriv" || s.SDID != "hrgate@32473" ||
		s.MaxMessageSize != 8192 || time.Duration(s.Timeout) != 10*time.Second || s.BatchSize != 500 {
		t.Fatalf("syslog defaults %+v", s)
	}
	if !s.UsesTLS() {
		t.Error("syslog must default to TLS")
	}
	u := config.AuditSink{Name: "u", Type: config.SinkSyslog, Transport: config.SyslogUDP}.WithDefaults()
	if u.MaxMessageSize != 2048 || u.UsesTLS() {
		t.Fatalf("udp defaults %+v", u)
	}
	f := config.AuditSink{Name: "f", Type: config.SinkFile, Path: "x"}.WithDefaults()
	if f.MaxSize != 100<<20 || f.MaxFiles != 10 || f.Timeout != 0 {
		t.Fatalf("file defaults %+v", f)
	}
}

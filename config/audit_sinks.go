package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Audit sink types.
const (
	SinkFile   = "file"
	SinkSyslog = "syslog"
	SinkHTTP   = "http"
)

// Syslog transports.
const (
	SyslogTLS = "tcp+tls"
	SyslogTCP = "tcp"
	SyslogUDP = "udp"
)

// AuditSink configures one destination the audit trail is streamed to.
// Keys apply to every type unless their comment names one; a key set on a
// sink of another type is an error, so that a typo does not go unnoticed.
// Zero values mean the defaults that WithDefaults fills in.
type AuditSink struct {
	// Name identifies the sink in logs and names its delivery cursor; it
	// must be unique. Renaming a sink starts it again from the first event.
	Name string `yaml:"name"`
	// Type is file, syslog or http.
	Type string `yaml:"type"`

	// BatchSize is the largest number of events delivered at once.
	BatchSize int `yaml:"batch_size"`
	// PollInterval is how often the sink looks for new events when it has
	// not been told of one.
	PollInterval Duration `yaml:"poll_interval"`
	// RetryMin and RetryMax bound the exponential back-off between failed
	// deliveries.
	RetryMin Duration `yaml:"retry_min"`
	RetryMax Duration `yaml:"retry_max"`
	// Timeout bounds one connection attempt, write or request (syslog and
	// http).
	Timeout Duration `yaml:"timeout"`

	// Path is the JSON lines file (file).
	Path string `yaml:"path"`
	// MaxSize is the size in bytes at which the file is rotated (file).
	MaxSize int64 `yaml:"max_size"`
	// MaxFiles is how many rotated files, PATH.1 to PATH.N, are kept
	// (file).
	MaxFiles int `yaml:"max_files"`

	// Transport is tcp+tls (RFC 5425), tcp (RFC 6587 octet counting) or udp
	// (RFC 5426) (syslog).
	Transport string `yaml:"transport"`
	// Address is the collector's HOST:PORT (syslog).
	Address string `yaml:"address"`
	// Facility is the syslog facility name, such as authpriv or local0
	// (syslog).
	Facility string `yaml:"facility"`
	// SDID is the SD-ID of the structured data element, NAME@ENTERPRISE
	// (syslog).
	SDID string `yaml:"sd_id"`
	// MaxMessageSize bounds one syslog message in bytes; a longer event
	// has its MSG part cut and says so (syslog).
	MaxMessageSize int `yaml:"max_message_size"`

	// Hostname is sent as the syslog HOSTNAME or the HEC "host"; empty
	// means the machine's host name (syslog, http).
	Hostname string `yaml:"hostname"`

	// CAFile holds the PEM certificates that may sign the collector's
	// certificate; empty means the system roots (syslog over tcp+tls,
	// http).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key, for
	// collectors that authenticate their senders (syslog over tcp+tls,
	// http).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the collector's certificate must hold; empty
	// means the host of address or url (syslog over tcp+tls, http).
	ServerName string `yaml:"server_name"`

	// URL is the HEC endpoint, e.g.
	// https://splunk.example.com:8088/services/collector/event (http).
	URL string `yaml:"url"`
	// TokenFile holds the HEC token; the file must not be readable by
	// group or others (http).
	TokenFile string `yaml:"token_file"`
	// TokenEnv names an environment variable that holds the HEC token
	// (http). Exactly one of token_file and token_env is required: the
	// token is never written in the configuration itself.
	TokenEnv string `yaml:"token_env"`
	// Index is the Splunk index events are sent to; empty means the
	// token's default index (http).
	Index string `yaml:"index"`
	// AllowHTTP permits an http:// URL, and only to a loopback host, for a
	// collector agent on the same machine (http).
	AllowHTTP bool `yaml:"allow_http"`
}

// Defaults and bounds of the audit sink keys.
const (
	defaultSinkBatchSize    = 500
	defaultSinkPollInterval = time.Second
	defaultSinkRetryMin     = time.Second
	defaultSinkRetryMax     = time.Minute
	defaultSinkTimeout      = 10 * time.Second
	defaultSinkMaxSize      = 100 << 20
	defaultSinkMaxFiles     = 10
	defaultSyslogTransport  = SyslogTLS
	// authpriv keeps the trail out of the general log of a stock rsyslog
	// (Debian's /var/log/syslog excludes it), as it names who read whose
	// records.
	defaultSyslogFacility = "authpriv"
	// 32473 is the enterprise number RFC 5612 reserves for documentation;
	// operators with a number of their own set sd_id.
	defaultSyslogSDID = "hrgate@32473"
	// 2048 is what RFC 5426 says every receiver should accept over UDP;
	// 8192 is rsyslog's default maxMessageSize, beyond which it would cut
	// the message itself, structured data and all.
	defaultSyslogMaxUDPSize = 2048
	defaultSyslogMaxTCPSize = 8192
	maxSyslogUDPMessageSize = 65507
	maxSyslogTCPMessageSize = 16 << 20
	minSyslogMessageSize    = 480
	maxSinkBatchSize        = 10_000
	minSinkFileMaxSize      = 1024
	maxSinkFileMaxFiles     = 1000
	maxSinkInterval         = time.Hour
)

// SyslogFacilities maps the facility names accepted in
// audit.sinks[].facility to their RFC 5424 codes.
var SyslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"ntp": 12, "audit": 13,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// WithDefaults returns the sink with every unset key given its default.
func (s AuditSink) WithDefaults() AuditSink {
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDur := func(p *Duration, v time.Duration) {
		if *p == 0 {
			*p = Duration(v)
		}
	}
	setInt(&s.BatchSize, defaultSinkBatchSize)
	setDur(&s.PollInterval, defaultSinkPollInterval)
	setDur(&s.RetryMin, defaultSinkRetryMin)
	setDur(&s.RetryMax, defaultSinkRetryMax)
	switch s.Type {
	case SinkFile:
		if s.MaxSize == 0 {
			s.MaxSize = defaultSinkMaxSize
		}
		setInt(&s.MaxFiles, defaultSinkMaxFiles)
	case SinkSyslog:
		setDur(&s.Timeout, defaultSinkTimeout)
		if s.Transport == "" {
			s.Transport = defaultSyslogTransport
		}
		if s.Facility == "" {
			s.Facility = defaultSyslogFacility
		}
		if s.SDID == "" {
			s.SDID = defaultSyslogSDID
		}
		if s.Transport == SyslogUDP {
			setInt(&s.MaxMessageSize, defaultSyslogMaxUDPSize)
		} else {
			setInt(&s.MaxMessageSize, defaultSyslogMaxTCPSize)
		}
	case SinkHTTP:
		setDur(&s.Timeout, defaultSinkTimeout)
	}
	return s
}

// UsesTLS reports whether the sink connects with TLS: syslog over tcp+tls,
// and http to an https:// URL.
func (s AuditSink) UsesTLS() bool {
	switch s.Type {
	case SinkSyslog:
		return s.Transport == "" || s.Transport == SyslogTLS
	case SinkHTTP:
		return !strings.HasPrefix(strings.ToLower(s.URL), "http://")
	}
	return false
}

var (
	sinkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// An SD-ID of our own is NAME@PEN (RFC 5424 §7.2.2): SD-NAME
	// characters, at most 32 in all.
	sdIDRE = regexp.MustCompile(`^[!#-<>?A-\\^-~]+@[0-9]+(\.[0-9]+)*$`)
)

// validate checks the sink at index i, with its defaults applied, and names
// the key at fault.
func (s *AuditSink) validate(i int) error {
	key := func(k string) string { return fmt.Sprintf("audit.sinks[%d].%s", i, k) }
	if s.Name == "" {
		return keyError(key("name"), "must not be empty")
	}
	if !sinkNameRE.MatchString(s.Name) {
		return keyError(key("name"), "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch s.Type {
	case SinkFile, SinkSyslog, SinkHTTP:
	case "":
		return keyError(key("type"), "must be set to file, syslog or http")
	default:
		return keyError(key("type"), fmt.Sprintf("%q is not a sink type; use file, syslog or http", s.Type))
	}
	if err := s.checkKeysApply(key); err != nil {
		return err
	}
	d := s.WithDefaults()
	tmin := time.Millisecond
	if s.Type == SinkFile {
		tmin = 0 // unused
	}
	if d.BatchSize < 1 || d.BatchSize > maxSinkBatchSize {
		return keyError(key("batch_size"), fmt.Sprintf("must be between 1 and %d", maxSinkBatchSize))
	}
	for _, c := range []struct {
		name     string
		v        Duration
		min, max time.Duration
	}{
		{"poll_interval", d.PollInterval, time.Millisecond, maxSinkInterval},
		{"retry_min", d.RetryMin, time.Millisecond, maxSinkInterval},
		{"retry_max", d.RetryMax, time.Millisecond, maxSinkInterval},
		{"timeout", d.Timeout, tmin, 5 * time.Minute},
	} {
		if time.Duration(c.v) < c.min || time.Duration(c.v) > c.max {
			return keyError(key(c.name), fmt.Sprintf("must be a duration between %s and %s",
				Duration(c.min), Duration(c.max)))
		}
	}
	if d.RetryMax < d.RetryMin {
		return keyError(key("retry_max"), "must not be shorter than retry_min")
	}
	switch s.Type {
	case SinkFile:
		return d.validateFile(key)
	case SinkSyslog:
		return d.validateSyslog(key)
	default:
		return d.validateHTTP(key)
	}
}

// checkKeysApply refuses keys that the sink's type does not read.
func (s *AuditSink) checkKeysApply(key func(string) string) error {
	tls := s.UsesTLS()
	for _, k := range []struct {
		name  string
		set   bool
		types []string
		tls   bool // the key needs a TLS transport as well
	}{
		{"path", s.Path != "", []string{SinkFile}, false},
		{"max_size", s.MaxSize != 0, []string{SinkFile}, false},
		{"max_files", s.MaxFiles != 0, []string{SinkFile}, false},
		{"timeout", s.Timeout != 0, []string{SinkSyslog, SinkHTTP}, false},
		{"transport", s.Transport != "", []string{SinkSyslog}, false},
		{"address", s.Address != "", []string{SinkSyslog}, false},
		{"facility", s.Facility != "", []string{SinkSyslog}, false},
		{"sd_id", s.SDID != "", []string{SinkSyslog}, false},
		{"max_message_size", s.MaxMessageSize != 0, []string{SinkSyslog}, false},
		{"hostname", s.Hostname != "", []string{SinkSyslog, SinkHTTP}, false},
		{"ca_file", s.CAFile != "", []string{SinkSyslog, SinkHTTP}, true},
		{"cert_file", s.CertFile != "", []string{SinkSyslog, SinkHTTP}, true},
		{"key_file", s.KeyFile != "", []string{SinkSyslog, SinkHTTP}, true},
		{"server_name", s.ServerName != "", []string{SinkSyslog, SinkHTTP}, true},
		{"url", s.URL != "", []string{SinkHTTP}, false},
		{"token_file", s.TokenFile != "", []string{SinkHTTP}, false},
		{"token_env", s.TokenEnv != "", []string{SinkHTTP}, false},
		{"index", s.Index != "", []string{SinkHTTP}, false},
		{"allow_http", s.AllowHTTP, []string{SinkHTTP}, false},
	} {
		if !k.set {
			continue
		}
		ok := false
		for _, t := range k.types {
			ok = ok || t == s.Type
		}
		if !ok {
			return keyError(key(k.name), fmt.Sprintf("applies only to %s sinks, not to %s", strings.Join(k.types, " and "), s.Type))
		}
		if k.tls && !tls {
			return keyError(key(k.name), "applies only to TLS connections (syslog transport tcp+tls, or an https:// url)")
		}
	}
	return nil
}

func (s *AuditSink) validateFile(key func(string) string) error {
	if strings.TrimSpace(s.Path) == "" {
		return keyError(key("path"), "must name the JSON lines file of a file sink")
	}
	if st, err := os.Stat(s.Path); err == nil && !st.Mode().IsRegular() {
		return keyError(key("path"), "exists and is not a regular file")
	}
	if s.MaxSize < minSinkFileMaxSize {
		return keyError(key("max_size"), fmt.Sprintf("must be at least %d bytes", minSinkFileMaxSize))
	}
	if s.MaxFiles < 1 || s.MaxFiles > maxSinkFileMaxFiles {
		return keyError(key("max_files"), fmt.Sprintf("must be between 1 and %d", maxSinkFileMaxFiles))
	}
	return nil
}

func (s *AuditSink) validateSyslog(key func(string) string) error {
	switch s.Transport {
	case SyslogTLS, SyslogTCP, SyslogUDP:
	default:
		return keyError(key("transport"), fmt.Sprintf("%q is not a syslog transport; use tcp+tls, tcp or udp", s.Transport))
	}
	if s.Address == "" {
		return keyError(key("address"), "must be the collector's HOST:PORT, e.g. siem.example.com:6514")
	}
	host, port, err := net.SplitHostPort(s.Address)
	if err != nil || host == "" {
		return keyError(key("address"), "must be HOST:PORT, e.g. siem.example.com:6514")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return keyError(key("address"), "port must be a number from 1 to 65535")
	}
	if _, ok := SyslogFacilities[s.Facility]; !ok {
		return keyError(key("facility"), fmt.Sprintf("%q is not a facility; use e.g. authpriv, auth, audit or local0 to local7", s.Facility))
	}
	if len(s.SDID) > 32 || !sdIDRE.MatchString(s.SDID) {
		return keyError(key("sd_id"), "must be NAME@ENTERPRISE-NUMBER, at most 32 printable ASCII characters without '=', ']', '\"' or spaces, e.g. hrgate@32473")
	}
	limit := maxSyslogTCPMessageSize
	if s.Transport == SyslogUDP {
		limit = maxSyslogUDPMessageSize
	}
	if s.MaxMessageSize < minSyslogMessageSize || s.MaxMessageSize > limit {
		return keyError(key("max_message_size"), fmt.Sprintf("must be between %d and %d bytes for %s", minSyslogMessageSize, limit, s.Transport))
	}
	if err := checkSyslogHostname(s.Hostname); err != nil {
		return keyError(key("hostname"), err.Error())
	}
	if s.Transport == SyslogTLS {
		return s.validateTLSFiles(key)
	}
	return nil
}

// checkSyslogHostname checks a configured HOSTNAME: printable ASCII, no
// spaces, at most 255 characters (RFC 5424 §6.2.4).
func checkSyslogHostname(h string) error {
	if len(h) > 255 {
		return errors.New("must be at most 255 characters")
	}
	for i := 0; i < len(h); i++ {
		if h[i] < 33 || h[i] > 126 {
			return errors.New("must be printable ASCII without spaces")
		}
	}
	return nil
}

func (s *AuditSink) validateHTTP(key func(string) string) error {
	if s.URL == "" {
		return keyError(key("url"), "must be the collector's URL, e.g. https://splunk.example.com:8088/services/collector/event")
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return keyError(key("url"), "must be an absolute URL such as https://splunk.example.com:8088/services/collector/event")
	}
	if u.User != nil {
		// Do not repeat the URL: it holds a password.
		return keyError(key("url"), "must not hold a user name or password; use token_file or token_env")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return keyError(key("url"), "must not have a query or fragment; the token goes in token_file or token_env")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.AllowHTTP {
			return keyError(key("url"), "must be https://; plain http:// needs allow_http and a loopback host")
		}
		if !isLoopbackURL(u) {
			return keyError(key("allow_http"), "permits http:// only to a loopback host such as 127.0.0.1; audit events must not cross a network in clear text")
		}
	default:
		return keyError(key("url"), "must be an https:// URL")
	}
	switch {
	case s.TokenFile == "" && s.TokenEnv == "":
		return keyError(key("token_file"), "or token_env must name where the HEC token is kept")
	case s.TokenFile != "" && s.TokenEnv != "":
		return keyError(key("token_env"), "cannot be combined with token_file; choose one")
	case s.TokenEnv != "" && !envNameRE.MatchString(s.TokenEnv):
		return keyError(key("token_env"), "must be the name of an environment variable, e.g. HEC_TOKEN")
	case s.TokenFile != "":
		if err := checkFile(s.TokenFile); err != nil {
			return keyError(key("token_file"), err.Error())
		}
	}
	if err := checkSyslogHostname(s.Hostname); err != nil {
		return keyError(key("hostname"), err.Error())
	}
	for i := 0; i < len(s.Index); i++ {
		if s.Index[i] < 33 || s.Index[i] > 126 {
			return keyError(key("index"), "must be printable ASCII without spaces")
		}
	}
	if s.UsesTLS() {
		return s.validateTLSFiles(key)
	}
	return nil
}

func (s *AuditSink) validateTLSFiles(key func(string) string) error {
	if (s.CertFile == "") != (s.KeyFile == "") {
		return keyError(key("cert_file"), "cert_file and key_file must be set together")
	}
	for _, f := range []struct{ name, path string }{
		{"ca_file", s.CAFile}, {"cert_file", s.CertFile}, {"key_file", s.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if err := checkFile(f.path); err != nil {
			return keyError(key(f.name), err.Error())
		}
	}
	return nil
}

// checkFile checks that path names a regular file hrgate can open; its
// contents are checked when the sink starts.
func checkFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// checkSinkNames refuses two sinks with one name: they would share, and
// fight over, one delivery cursor.
func checkSinkNames(sinks []AuditSink) error {
	seen := make(map[string]int, len(sinks))
	for i, s := range sinks {
		if j, ok := seen[s.Name]; ok {
			return keyError(fmt.Sprintf("audit.sinks[%d].name", i), fmt.Sprintf("%q is already the name of audit.sinks[%d]; names must be unique", s.Name, j))
		}
		seen[s.Name] = i
	}
	return nil
}

// ValidateAuditSinks checks a list of sinks as Validate does, for callers
// that build the list themselves.
func ValidateAuditSinks(sinks []AuditSink) error {
	for i := range sinks {
		if err := sinks[i].validate(i); err != nil {
			return err
		}
	}
	return checkSinkNames(sinks)
}

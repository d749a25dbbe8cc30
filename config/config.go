// Package config holds hrgate's one configuration tree. Values come from
// defaults in code, then a YAML file, then HRGATE_SECTION__KEY environment
// variables, then command-line flags; each later source overrides the
// earlier ones. Every section validates itself, and a bad value is reported
// with the dotted name of its key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/yamlerr"
)

// Config is the whole configuration of an hrgate process.
type Config struct {
	// DataDir holds the SQLite database, the generated TLS certificate and
	// other local state. It is created with mode 0700.
	DataDir string `yaml:"data_dir"`
	// Database is a postgres:// URL, or a SQLite file path. Empty means
	// hrgate.db in DataDir.
	Database string   `yaml:"database" secret:"url"`
	Log      Log      `yaml:"log"`
	HTTP     HTTP     `yaml:"http"`
	API      API      `yaml:"api"`
	Keys     Keys     `yaml:"keys"`
	Admin    Admin    `yaml:"admin"`
	OAuth    OAuth    `yaml:"oauth"`
	Auth     Auth     `yaml:"auth"`
	Keyring  Keyring  `yaml:"keyring"`
	Audit    Audit    `yaml:"audit"`
	Limits   Limits   `yaml:"limits"`
	Webhooks Webhooks `yaml:"webhooks"`
	Sources  Sources  `yaml:"sources"`
}

// Keys configures the API key lifecycle.
type Keys struct {
	// MaxLifetime bounds the expiry of every new key; a key created
	// without an expiry gets this one.
	MaxLifetime Duration `yaml:"max_lifetime"`
	// RotationGrace is how long a rotated key keeps working when the
	// operator names no grace period.
	RotationGrace Duration `yaml:"rotation_grace"`
	// RotationCheckInterval is how often `serve` looks for keys due for
	// automatic rotation.
	RotationCheckInterval Duration `yaml:"rotation_check_interval"`
}

// Admin configures the admin API listener, which manages consumers, keys
// and clients. It is separate from the public API so that it can stay on
// a management network.
type Admin struct {
	// Addr is the admin listener; empty disables the admin API.
	Addr string `yaml:"addr"`
	// TokenFile names a file the operator wrote with the admin bearer
	// token (mode 0600); hrgate only reads it. Empty means the token is
	// issued by `hrgate admin token` and kept as a sealed hash.
	TokenFile string `yaml:"token_file"`
}

// Log configures the process log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json, text, or auto (text on a terminal, JSON otherwise).
	Format string `yaml:"format"`
}

// HTTP configures the public API listener.
type HTTP struct {
	Addr string `yaml:"addr"`
	// TLSCert and TLSKey are PEM files; when both are empty a self-signed
	// certificate is generated into the data directory.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// InsecureHTTP serves plain HTTP. It exists for TLS-terminating
	// proxies on the same host and logs a warning at start.
	InsecureHTTP      bool     `yaml:"insecure_http"`
	MaxBodyBytes      int64    `yaml:"max_body_bytes"`
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header.
	HSTSMaxAge Duration `yaml:"hsts_max_age"`
	// TrustedProxies lists the CIDRs of reverse proxies whose
	// forwarding header is believed. A request from any other peer is
	// attributed to the peer itself, whatever the header says.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ForwardedHeader names the one header the trusted proxies set:
	// X-Forwarded-For or Forwarded (RFC 7239). Only one is read, so that
	// a client cannot slip in the other one past a proxy that only
	// appends to its own.
	ForwardedHeader string `yaml:"forwarded_header"`
}

// The headers http.forwarded_header may name.
const (
	ForwardedXFF     = "X-Forwarded-For"
	ForwardedRFC7239 = "Forwarded"
)

// API configures the behaviour of the /v1 API.
type API struct {
	DefaultPageSize int `yaml:"default_page_size"`
	MaxPageSize     int `yaml:"max_page_size"`
}

// OAuth configures the OAuth 2.0 authorization server (client
// credentials, JWT access tokens).
type OAuth struct {
	// Issuer is the public base URL of this hrgate, https://host[:port]
	// without a path: the "iss" of every token, and "/v1" appended, their
	// "aud". Empty means derived from the listener's address, which suits
	// one instance on a fixed address; several instances behind a load
	// balancer must all set the balancer's URL.
	Issuer string `yaml:"issuer"`
	// TokenTTL is the lifetime of access tokens.
	TokenTTL Duration `yaml:"token_ttl"`
	// SigningAlg is EdDSA (Ed25519) or ES256 (P-256). A change applies
	// from the next key rotation.
	SigningAlg string `yaml:"signing_alg"`
	// KeyRotation is how long one signing key signs.
	KeyRotation Duration `yaml:"key_rotation"`
	// KeyPublishAhead is how long the next key is published in the JWKS
	// before it signs, so that every instance and every client holding a
	// cached JWKS knows it before its first token arrives.
	KeyPublishAhead Duration `yaml:"key_publish_ahead"`
}

// Auth configures authentication.
type Auth struct {
	// CredentialRefresh bounds how late a credential change committed by
	// another process (the CLI, another instance on the same database) takes
	// effect: for that long the server trusts its in-memory credential
	// epoch. Changes made by the server itself take effect at once. Zero
	// reads the epoch from the database on every request.
	CredentialRefresh Duration `yaml:"credential_refresh"`
}

// MaxCredentialRefresh is the largest auth.credential_refresh accepted: a
// revoked key must stop working within seconds, not minutes.
const MaxCredentialRefresh = 10 * time.Second

// Default returns the built-in configuration: the safe one.
func Default() *Config {
	return &Config{
		DataDir: "./hrgate-data",
		Log:     Log{Level: "info", Format: "auto"},
		HTTP: HTTP{
			Addr:              "127.0.0.1:8443",
			MaxBodyBytes:      1 << 20,
			MaxHeaderBytes:    32 << 10,
			ReadHeaderTimeout: Duration(5 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(30 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(15 * time.Second),
			HSTSMaxAge:        Duration(365 * 24 * time.Hour),
			ForwardedHeader:   ForwardedXFF,
		},
		API: API{DefaultPageSize: 50, MaxPageSize: 200},
		Keys: Keys{
			MaxLifetime:           Duration(365 * 24 * time.Hour),
			RotationGrace:         Duration(24 * time.Hour),
			RotationCheckInterval: Duration(time.Minute),
		},
		Admin: Admin{Addr: "127.0.0.1:8444"},
		OAuth: OAuth{
			TokenTTL:        Duration(15 * time.Minute),
			SigningAlg:      "EdDSA",
			KeyRotation:     Duration(7 * 24 * time.Hour),
			KeyPublishAhead: Duration(24 * time.Hour),
		},
		Auth:     Auth{CredentialRefresh: Duration(250 * time.Millisecond)},
		Keyring:  defaultKeyring(),
		Audit:    defaultAudit(),
		Limits:   defaultLimits(),
		Webhooks: defaultWebhooks(),
		Sources:  defaultSources(),
	}
}

// Load builds a configuration from the defaults, the YAML file at path
// (skipped when path is empty) and the environment (a list of KEY=VALUE
// pairs, as os.Environ returns). It returns the names of HRGATE_ variables
// it did not recognise as warnings; they are not errors so that variables
// of other tools and tests can share the prefix.
func Load(path string, environ []string) (cfg *Config, warnings []string, err error) {
	cfg = Default()
	if path != "" {
		if err := cfg.loadFile(path); err != nil {
			return nil, nil, err
		}
	}
	warnings, err = cfg.applyEnv(environ)
	if err != nil {
		return nil, nil, err
	}
	return cfg, warnings, nil
}

func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path) // #nosec G304 -- the operator names the config file.
	if err != nil {
		return fmt.Errorf("config: cannot read %s: %w", path, errors.Unwrap(err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %s", path, yamlerr.Message(err))
	}
	return nil
}

// SQLiteDefault is the file name of the embedded database in the data dir.
const SQLiteDefault = "hrgate.db"

// DatabaseDSN returns the database to open: the configured one, or the
// SQLite file in the data directory.
func (c *Config) DatabaseDSN() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.DataDir, SQLiteDefault)
}

// Validate checks every section and returns the first problem, naming the
// key in dotted form.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.DataDir) == "" {
		return keyError("data_dir", "must not be empty")
	}
	if err := checkDSN("database", c.Database); err != nil {
		return err
	}
	if err := c.Log.validate(); err != nil {
		return err
	}
	if err := c.HTTP.validate(); err != nil {
		return err
	}
	if err := c.API.validate(); err != nil {
		return err
	}
	if err := c.Keys.validate(); err != nil {
		return err
	}
	if err := c.Admin.validate(); err != nil {
		return err
	}
	if err := c.OAuth.validate(c.HTTP.InsecureHTTP); err != nil {
		return err
	}
	if err := c.Auth.validate(); err != nil {
		return err
	}
	if err := c.Keyring.validate(); err != nil {
		return err
	}
	if err := c.Audit.validate(); err != nil {
		return err
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	if err := c.Sources.validate(); err != nil {
		return err
	}
	// Keys, tokens, the admin token and HR data must never cross a network
	// in clear text: plain HTTP is for a proxy on the same host only.
	if c.HTTP.InsecureHTTP && !IsLoopback(c.HTTP.Addr) {
		return keyError("http.addr", "must be a loopback address while http.insecure_http is set: plain HTTP is only for a TLS-terminating proxy on the same host")
	}
	if c.Admin.Addr != "" && c.HTTP.InsecureHTTP && !IsLoopback(c.Admin.Addr) {
		return keyError("admin.addr", "must be a loopback address while http.insecure_http is set, since the admin API would serve plain HTTP")
	}
	return nil
}

// checkDSN checks a database setting: empty, a postgres:// URL or a SQLite
// file path.
func checkDSN(key, dsn string) error {
	if dsn != "" && !hrgate.IsPostgresDSN(dsn) {
		if strings.Contains(dsn, "://") {
			return keyError(key, "must be a postgres:// URL or a SQLite file path")
		}
		// "host=db password=…" would be taken for a file name and echoed
		// in errors; refuse it without repeating it.
		if strings.Contains(dsn, "=") {
			return keyError(key, "looks like a key=value connection string; write it as a postgres:// URL")
		}
	}
	if hrgate.IsPostgresDSN(dsn) {
		if _, err := url.Parse(dsn); err != nil {
			return keyError(key, "is not a valid URL")
		}
	}
	return nil
}

// IsLoopback reports whether a HOST:PORT listen address accepts only
// connections from the same host.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackURL reports whether a URL's host is this host, whatever its
// port.
func isLoopbackURL(u *url.URL) bool {
	return IsLoopback(net.JoinHostPort(u.Hostname(), "0"))
}

func (k *Keys) validate() error {
	if k.MaxLifetime < Duration(time.Hour) || k.MaxLifetime > Duration(10*366*24*time.Hour) {
		return keyError("keys.max_lifetime", "must be between 1h and 3660d, e.g. 90d")
	}
	if k.RotationGrace < 0 || k.RotationGrace > Duration(30*24*time.Hour) {
		return keyError("keys.rotation_grace", "must be between 0s and 30d")
	}
	if k.RotationCheckInterval < Duration(time.Second) || k.RotationCheckInterval > Duration(24*time.Hour) {
		return keyError("keys.rotation_check_interval", "must be between 1s and 24h")
	}
	return nil
}

func (a *Admin) validate() error {
	if a.Addr == "" {
		return nil
	}
	if err := checkListenAddr("admin.addr", a.Addr, "must be HOST:PORT, e.g. 127.0.0.1:8444, or empty to disable the admin API"); err != nil {
		return err
	}
	return nil
}

func (a *Auth) validate() error {
	if a.CredentialRefresh < 0 || time.Duration(a.CredentialRefresh) > MaxCredentialRefresh {
		return keyError("auth.credential_refresh", "must be a duration between 0 and 10s, e.g. 250ms")
	}
	return nil
}

func (l *Log) validate() error {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		return keyError("log.level", "must be one of debug, info, warn, error")
	}
	switch l.Format {
	case "auto", "json", "text":
	default:
		return keyError("log.format", "must be one of auto, json, text")
	}
	return nil
}

func (h *HTTP) validate() error {
	if err := checkListenAddr("http.addr", h.Addr, "must be HOST:PORT, e.g. 127.0.0.1:8443"); err != nil {
		return err
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		return keyError("http.tls_cert", "tls_cert and tls_key must be set together")
	}
	if h.InsecureHTTP && h.TLSCert != "" {
		return keyError("http.insecure_http", "cannot be combined with tls_cert and tls_key")
	}
	if h.MaxBodyBytes < 1<<10 || h.MaxBodyBytes > 1<<30 {
		return keyError("http.max_body_bytes", "must be between 1024 and 1073741824")
	}
	if h.MaxHeaderBytes < 4<<10 || h.MaxHeaderBytes > 1<<20 {
		return keyError("http.max_header_bytes", "must be between 4096 and 1048576")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"http.read_header_timeout", h.ReadHeaderTimeout},
		{"http.read_timeout", h.ReadTimeout},
		{"http.write_timeout", h.WriteTimeout},
		{"http.idle_timeout", h.IdleTimeout},
		{"http.shutdown_timeout", h.ShutdownTimeout},
	} {
		if d.v <= 0 || time.Duration(d.v) > time.Hour {
			return keyError(d.key, "must be a duration between 1ns and 1h, e.g. 30s")
		}
	}
	if h.HSTSMaxAge < 0 {
		return keyError("http.hsts_max_age", "must not be negative")
	}
	if h.ForwardedHeader != ForwardedXFF && h.ForwardedHeader != ForwardedRFC7239 {
		return keyError("http.forwarded_header", "must be X-Forwarded-For or Forwarded")
	}
	for _, p := range h.TrustedProxies {
		prefix, err := hrgate.ParseCIDR(p)
		if err != nil {
			return keyError("http.trusted_proxies", err.Error())
		}
		if prefix.Bits() == 0 {
			return keyError("http.trusted_proxies", fmt.Sprintf("%q would let every client choose its own address; list your proxies", p))
		}
	}
	return nil
}

func (a *API) validate() error {
	if a.MaxPageSize < 1 || a.MaxPageSize > 1000 {
		return keyError("api.max_page_size", "must be between 1 and 1000")
	}
	if a.DefaultPageSize < 1 || a.DefaultPageSize > a.MaxPageSize {
		return keyError("api.default_page_size", "must be between 1 and api.max_page_size")
	}
	return nil
}

func (o *OAuth) validate(insecureHTTP bool) error {
	if o.Issuer != "" {
		u, err := url.Parse(o.Issuer)
		switch {
		case err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o.Issuer, "/"):
			return keyError("oauth.issuer", "must be a URL such as https://hrgate.example.com, without a path")
		case u.Scheme == "http" && !insecureHTTP:
			return keyError("oauth.issuer", "must be https:// unless http.insecure_http is set")
		case u.Scheme != "https" && u.Scheme != "http":
			return keyError("oauth.issuer", "must be an https:// URL")
		}
	}
	ttl := time.Duration(o.TokenTTL)
	if ttl < time.Minute || ttl > time.Hour {
		return keyError("oauth.token_ttl", "must be between 1m and 1h: access tokens are short-lived")
	}
	if o.SigningAlg != "EdDSA" && o.SigningAlg != "ES256" {
		return keyError("oauth.signing_alg", "must be EdDSA or ES256")
	}
	ahead := time.Duration(o.KeyPublishAhead)
	if ahead < 5*time.Minute {
		// Instances reload keys every minute; five leave room for a slow one.
		return keyError("oauth.key_publish_ahead", "must be at least 5m")
	}
	if rot := time.Duration(o.KeyRotation); rot < time.Hour || rot <= ahead {
		return keyError("oauth.key_rotation", "must be at least 1h and longer than oauth.key_publish_ahead")
	}
	return nil
}

func keyError(key, msg string) error {
	return fmt.Errorf("config: %s: %s", key, msg)
}

// Redacted returns the configuration as YAML with secrets replaced, for
// `hrgate serve --print-config` and logs. Every string field tagged
// secret:"url", in any section, goes through hrgate.RedactDSN, so that a
// section that adds a URL with a password only needs the tag.
func (c *Config) Redacted() ([]byte, error) {
	cp := *c
	redactURLs(reflect.ValueOf(&cp).Elem())
	return yaml.Marshal(&cp)
}

// redactURLs redacts the secret:"url" fields of the struct v and of the
// sections it holds by value. It does not descend into slices or maps,
// which the shallow copy in Redacted shares with the caller's
// configuration; no secret lives in one.
func redactURLs(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		switch {
		case t.Field(i).Tag.Get("secret") == "url" && f.Kind() == reflect.String:
			f.SetString(hrgate.RedactDSN(f.String()))
		case f.Kind() == reflect.Struct:
			redactURLs(f)
		}
	}
}

// checkListenAddr checks a HOST:PORT listen address for key; shape is the
// message for an address that is not one.
func checkListenAddr(key, addr, shape string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return keyError(key, shape)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return keyError(key, "port must be a number from 0 to 65535")
	}
	return nil
}

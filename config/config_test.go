package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
)

func writeFile(tb testing.TB, body string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "hrgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestDefaultIsValidAndSafe(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.HTTP.InsecureHTTP {
		t.Error("default must serve TLS")
	}
	if !strings.HasPrefix(c.HTTP.Addr, "127.0.0.1:") {
		t.Errorf("default listener %q is not loopback", c.HTTP.Addr)
	}
	if !config.IsLoopback(c.Admin.Addr) {
		t.Errorf("default admin listener %q is not loopback", c.Admin.Addr)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, "http:\n  addr: 127.0.0.1:9000\n  read_timeout: 10s\napi:\n  max_page_size: 300\n")
	env := []string{
		"HRGATE_HTTP__ADDR=127.0.0.1:9100",
		"HRGATE_DATA_DIR=/tmp/x",
		"PATH=/usr/bin",
	}
	c, warnings, err := config.Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %v", warnings)
	}
	if c.HTTP.Addr != "127.0.0.1:9100" {
		t.Errorf("env must override file: addr = %q", c.HTTP.Addr)
	}
	if time.Duration(c.HTTP.ReadTimeout) != 10*time.Second {
		t.Errorf("file must override default: read_timeout = %v", c.HTTP.ReadTimeout)
	}
	if c.API.MaxPageSize != 300 || c.DataDir != "/tmp/x" {
		t.Errorf("got max_page_size %d data_dir %q", c.API.MaxPageSize, c.DataDir)
	}
	if err := c.Set("http.addr", "127.0.0.1:9200"); err != nil || c.HTTP.Addr != "127.0.0.1:9200" {
		t.Errorf("flag must override env: %v %q", err, c.HTTP.Addr)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"UnknownFileKey", "http:\n  adr: x\n", nil, `unknown key "adr"`},
		{"BadDurationInFile", "http:\n  read_timeout: soon\n", nil, `"soon" is not a duration`},
		// A long value is cut, not the message: its hint stays.
		{"LongBadDurationInFile", "http:\n  read_timeout: " + strings.Repeat("x", 100) + "\n", nil, `line 2: "` + strings.Repeat("x", 64) + `"… is not a duration (use e.g. 30s`},
		{"SecretDurationInFile", "http:\n  read_timeout: hrg_live_0123456789abcdef0123456789abcdef01234567\n", nil, `line 2: "(an API key, not repeated)" is not a duration`},
		{"BadEnvBool", "", []string{"HRGATE_HTTP__INSECURE_HTTP=maybe"}, "HRGATE_HTTP__INSECURE_HTTP"},
		{"BadEnvInt", "", []string{"HRGATE_API__MAX_PAGE_SIZE=lots"}, "api.max_page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, _, err := config.Load(path, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{"http.addr", "nonsense", "http.addr"},
		{"http.addr", "127.0.0.1:99999", "http.addr"},
		{"http.tls_cert", "/x.pem", "http.tls_cert"},
		{"log.level", "loud", "log.level"},
		{"log.format", "xml", "log.format"},
		{"api.max_page_size", "0", "api.max_page_size"},
		{"api.default_page_size", "500", "api.default_page_size"},
		{"http.read_timeout", "0s", "http.read_timeout"},
		{"http.max_body_bytes", "10", "http.max_body_bytes"},
		{"database", "mysql://x", "database"},
		{"auth.credential_refresh", "11s", "auth.credential_refresh"},
		{"auth.credential_refresh", "1m", "auth.credential_refresh"},
		{"audit.checkpoint_interval", "0s", "audit.checkpoint_interval"},
		{"audit.checkpoint_interval", "2d", "audit.checkpoint_interval"},
		{"audit.instance", "node\n1", "audit.instance"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			c := config.Default()
			if err := c.Set(tc.key, tc.value); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want error naming %q", err, tc.want)
			}
		})
	}
}

func TestUnknownEnvIsWarning(t *testing.T) {
	_, warnings, err := config.Load("", []string{"HRGATE_HTTP__ADRR=x", "HRGATE_TEST_POSTGRES=postgres://x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "HRGATE_HTTP__ADRR") {
		t.Fatalf("warnings = %v", warnings)
	}
}

func TestRedactedHidesDatabasePassword(t *testing.T) {
	c := config.Default()
	c.Database = "postgres://hr:s3cret-pw@db.internal:5432/hr?sslmode=verify-full&password=other-secret"
	// Every other section that holds a URL with a password.
	c.Audit.Database = "postgres://audit:audit-pw@audit.internal:5432/audit"
	c.Keyring.Database = "postgres://keys:keys-pw@keys.internal:5432/keys"
	c.Limits.RedisURL = "rediss://:redis-pw@cache.internal:6380/0"
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-pw", "other-secret", "audit-pw", "keys-pw", "redis-pw"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config contains %q:\n%s", secret, out)
		}
	}
	for _, host := range []string{"db.internal", "audit.internal", "keys.internal", "cache.internal"} {
		if !strings.Contains(string(out), host) {
			t.Errorf("redacted config lost the host %s:\n%s", host, out)
		}
	}
	if c.Limits.RedisURL != "rediss://:redis-pw@cache.internal:6380/0" || !strings.Contains(c.Database, "s3cret-pw") {
		t.Error("Redacted changed the configuration it was called on")
	}
}

func TestAdminAndProxyChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"PlainAdminOffLoopback", map[string]string{"http.insecure_http": "true", "admin.addr": "0.0.0.0:8444"}, "admin.addr"},
		{"PlainAPIOffLoopback", map[string]string{"http.insecure_http": "true", "http.addr": "0.0.0.0:8443"}, "http.addr"},
		{"KeyValueDSN", map[string]string{"database": "host=db password=hunter2"}, "key=value connection string"},
		{"PlainAdminEverywhere", map[string]string{"http.insecure_http": "true", "admin.addr": ":8444"}, "admin.addr"},
		{"ProxyEverywhere", map[string]string{"http.trusted_proxies": "10.0.0.5,0.0.0.0/0"}, "http.trusted_proxies"},
		{"ProxyEverywhere6", map[string]string{"http.trusted_proxies": "::/0"}, "http.trusted_proxies"},
		{"AdminBadAddr", map[string]string{"admin.addr": "8444"}, "admin.addr"},
		{"ShortLifetime", map[string]string{"keys.max_lifetime": "30m"}, "keys.max_lifetime"},
		{"GraceTooLong", map[string]string{"keys.rotation_grace": "31d"}, "keys.rotation_grace"},
		{"Fine", map[string]string{"http.insecure_http": "true", "admin.addr": "127.0.0.1:8444", "http.trusted_proxies": "10.0.0.0/8", "keys.max_lifetime": "90d"}, ""},
		{"AdminOff", map[string]string{"http.insecure_http": "true", "admin.addr": ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			for k, v := range tc.set {
				if err := cfg.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			err := cfg.Validate()
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error repeats the password: %v", err)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestOAuthSection(t *testing.T) {
	c := config.Default()
	if time.Duration(c.OAuth.TokenTTL) != 15*time.Minute || c.OAuth.SigningAlg != "EdDSA" || c.OAuth.Issuer != "" {
		t.Fatalf("defaults %+v", c.OAuth)
	}
	c, _, err := config.Load(writeFile(t, "oauth:\n  issuer: https://hrgate.example.com\n  token_ttl: 5m\n"),
		[]string{"HRGATE_OAUTH__SIGNING_ALG=ES256"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.OAuth.Issuer != "https://hrgate.example.com" || time.Duration(c.OAuth.TokenTTL) != 5*time.Minute || c.OAuth.SigningAlg != "ES256" {
		t.Fatalf("loaded %+v", c.OAuth)
	}
	for _, tc := range []struct {
		name, key, value, want string
	}{
		{"IssuerWithPath", "oauth.issuer", "https://hrgate.example.com/auth", "oauth.issuer"},
		{"IssuerPlainHTTP", "oauth.issuer", "http://hrgate.example.com", "https:// unless"},
		{"IssuerNotURL", "oauth.issuer", "hrgate.example.com", "oauth.issuer"},
		{"TTLTooLong", "oauth.token_ttl", "24h", "oauth.token_ttl"},
		{"TTLTooShort", "oauth.token_ttl", "10s", "oauth.token_ttl"},
		{"HS256", "oauth.signing_alg", "HS256", "EdDSA or ES256"},
		{"NoneAlg", "oauth.signing_alg", "none", "EdDSA or ES256"},
		{"PublishAheadTooShort", "oauth.key_publish_ahead", "1m", "oauth.key_publish_ahead"},
		{"RotationShorterThanPublishAhead", "oauth.key_rotation", "12h", "oauth.key_rotation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			if err := c.Set(tc.key, tc.value); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("PlainHTTPIssuerBehindProxy", func(t *testing.T) {
		c := config.Default()
		c.HTTP.InsecureHTTP = true
		c.OAuth.Issuer = "http://127.0.0.1:8080"
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLimitsValidation(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"BadRate", "limits.credential.rate", "50", "limits.credential"},
		{"NegativeBurst", "limits.consumer.burst", "-1", "limits.consumer"},
		{"BadQuota", "limits.global.quota", "5/h", "limits.global"},
		{"PlainRedisRemote", "limits.redis_url", "redis://cache.internal:6379/0", "rediss://"},
		{"NotRedis", "limits.redis_url", "http://cache:6379", "redis://"},
		{"ZeroInstances", "limits.instances", "0", "limits.instances"},
		{"BadBlock", "limits.block", "10.0.0.1/8", "limits.block"},
		{"CountriesWithoutDB", "limits.block_countries", "KP", "limits.geo_db"},
		{"SlowRedis", "limits.redis_timeout", "1m", "limits.redis_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			if err := c.Set(tt.key, tt.value); err != nil {
				t.Fatalf("Set: %v", err)
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v; want an error naming %q", err, tt.want)
			}
		})
	}
	t.Run("TokenQuota", func(t *testing.T) {
		c := config.Default()
		c.Limits.Routes = map[string]config.RateLimit{"token": {Rate: "5/s", Burst: 10, Quota: "100/day"}}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "limits.routes.token") || !strings.Contains(err.Error(), "not a quota") {
			t.Fatalf("Validate = %v; want an error naming limits.routes.token", err)
		}
		// ParseRoute is the one check, which http.NewLimits makes too.
		for _, tc := range []struct {
			class string
			r     config.RateLimit
			ok    bool
		}{
			{"token", config.RateLimit{Quota: "100/day"}, false},
			{"token", config.RateLimit{Rate: "5/s", Burst: 10}, true},
			{"list", config.RateLimit{Rate: "5/s", Burst: 10, Quota: "100/day"}, true},
		} {
			if _, err := tc.r.ParseRoute(tc.class); (err == nil) != tc.ok {
				t.Errorf("ParseRoute(%s, %+v) = %v", tc.class, tc.r, err)
			}
		}
	})
	c := config.Default()
	for _, kv := range [][2]string{{"limits.redis_url", "redis://127.0.0.1:6379/0"}, {"limits.credential.quota", "20000/day"}} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid limits refused: %v", err)
	}
	// A country that is not an ISO code is refused at start, naming the
	// key, not later when the rules are built.
	bad := config.Default()
	bad.Limits.GeoDB, bad.Limits.BlockCountries = "/var/lib/hrgate/country.mmdb", []string{"North Korea"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "limits.block_countries") {
		t.Errorf("Validate with a country name = %v; want an error naming limits.block_countries", err)
	}
	// Plain redis:// is fine to this host, however it is written.
	for _, u := range []string{"redis://localhost/0", "redis://[::1]:6379/0", "redis://127.0.0.2"} {
		c := config.Default()
		if err := c.Set("limits.redis_url", u); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

package http_test

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hrhttp "github.com/hrgate/hrgate/http"
)

// TestTLSConfig asserts the settings themselves, since a handshake test
// alone can pass for reasons unrelated to them (an ECDSA certificate
// refuses RSA key exchange anyway; Go refuses TLS 1.0 by default).
func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, certFile, err := hrhttp.TLSConfig("", "", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	if len(cfg.CipherSuites) == 0 {
		t.Fatal("no explicit TLS 1.2 suite list: Go's defaults would apply")
	}
	for _, id := range cfg.CipherSuites {
		var suite *tls.CipherSuite
		for _, s := range tls.CipherSuites() {
			if s.ID == id {
				suite = s
			}
		}
		if suite == nil {
			t.Errorf("suite %x is not in Go's secure list", id)
			continue
		}
		name := suite.Name
		if !(strings.Contains(name, "ECDHE")) || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("suite %s lacks forward secrecy or an AEAD cipher", name)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("generated key mode %v (%v), want 0600", st.Mode(), err)
	}
	if certFile != filepath.Join(dir, "tls", "cert.pem") {
		t.Errorf("cert file %s", certFile)
	}
}

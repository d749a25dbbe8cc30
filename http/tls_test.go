package http_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
)

// TestTLSConfig asserts the settings themselves, since a handshake test
// alone can pass for reasons unrelated to them (an ECDSA certificate
// refuses RSA key exchange anyway; Go refuses TLS 1.0 by default).
func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	db := storetest.Open(t, storetest.SQLite(t))
	// A key file an older hrgate wrote is deleted: the key now lives in
	// the vault.
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls", "key.pem"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, certFile, err := hrhttp.SelfSignedTLS(context.Background(), db, dir, slog.New(slog.DiscardHandler))
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
	if _, err := os.Stat(filepath.Join(dir, "tls", "key.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a TLS key file is on disk (%v); the key belongs in the vault", err)
	}
	if certFile != filepath.Join(dir, "tls", "cert.pem") {
		t.Errorf("cert file %s", certFile)
	}
	// A second start, or another instance on the same database, serves
	// the same key and keeps the certificate.
	before, _ := os.ReadFile(certFile)
	again, _, err := hrhttp.SelfSignedTLS(context.Background(), db, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(certFile)
	if string(before) != string(after) || !again.Certificates[0].PrivateKey.(*ecdsa.PrivateKey).Equal(cfg.Certificates[0].PrivateKey) {
		t.Error("a second start made a new certificate or key")
	}
	// Another data directory on the same database gets a certificate
	// for the same key.
	other := t.TempDir()
	third, _, err := hrhttp.SelfSignedTLS(context.Background(), db, other, slog.New(slog.DiscardHandler))
	if err != nil || !third.Certificates[0].PrivateKey.(*ecdsa.PrivateKey).Equal(cfg.Certificates[0].PrivateKey) {
		t.Errorf("another instance got another key (%v)", err)
	}
}

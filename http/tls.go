package http

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hrgate/hrgate"
)

// cipherSuites are the TLS 1.2 suites hrgate offers: ECDHE key exchange
// (forward secrecy) with AEAD ciphers only. TLS 1.3 suites are all of that
// kind and are not configurable in Go.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns the server's TLS configuration for a configured
// certificate and key (PEM files).
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s: %w", certFile, err)
	}
	return serverTLS(cert), nil
}

func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// selfSignedKeySecret names the vault secret that holds the private key of
// the self-signed certificate.
const selfSignedKeySecret = "tls_self_signed_key" // #nosec G101 -- the name of a vault entry, not a credential.

// SelfSignedTLS returns a TLS configuration with a self-signed certificate
// for local use, and the certificate's file (dataDir/tls/cert.pem) for
// clients to trust. The private key lives in the vault, sealed like every
// other secret, shared by the instances on the same database; only the
// public certificate is written to disk, and it is made again from the
// key when it is missing, expires within a week, or does not match the
// key. A key.pem left by an older hrgate is deleted.
func SelfSignedTLS(ctx context.Context, secrets hrgate.SecretStore, dataDir string, log *slog.Logger) (*tls.Config, string, error) {
	keyDER, err := secrets.Secret(ctx, selfSignedKeySecret, func() ([]byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(key)
	})
	if err != nil {
		return nil, "", fmt.Errorf("self-signed TLS key: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, "", fmt.Errorf("self-signed TLS key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, "", errors.New("self-signed TLS key: not an ECDSA key")
	}
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create TLS directory: %w", err)
	}
	legacy := filepath.Join(dir, "key.pem")
	if err := os.Remove(legacy); err == nil {
		log.Info("deleted the TLS key file of an older hrgate; the key of the self-signed certificate is now kept in the vault", "path", legacy)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("delete old TLS key file: %w", err)
	}

	certFile := filepath.Join(dir, "cert.pem")
	der, ok := currentCert(certFile, &key.PublicKey, 7*24*time.Hour)
	if !ok {
		if der, err = newSelfSigned(key); err != nil {
			return nil, "", err
		}
		if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			return nil, "", err
		}
		log.Warn("generated a self-signed TLS certificate for local use; configure http.tls_cert and http.tls_key for production", "cert", certFile)
	}
	return serverTLS(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}), certFile, nil
}

func newSelfSigned(key *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "hrgate local"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// currentCert returns the certificate in certFile when it is valid for at
// least d more and certifies pub.
func currentCert(certFile string, pub *ecdsa.PublicKey, d time.Duration) ([]byte, bool) {
	data, err := os.ReadFile(certFile) // #nosec G304 -- path inside the data directory.
	if err != nil {
		return nil, false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, false
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !time.Now().Add(d).Before(c.NotAfter) {
		return nil, false
	}
	if cp, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || !cp.Equal(pub) {
		return nil, false
	}
	return block.Bytes, true
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// crash never leaves half a certificate for clients to trust.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errors.Join(fmt.Errorf("install %s", filepath.Base(path)), err)
	}
	return nil
}

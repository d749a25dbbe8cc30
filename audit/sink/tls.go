package sink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/hrgate/hrgate/config"
)

// tlsConfig builds the client TLS configuration of a sink: the collector's
// certificate is always verified, against ca_file or the system roots, for
// serverName unless server_name overrides it; TLS 1.2 at least; a client
// certificate when cert_file and key_file are set. There is deliberately
// no switch to skip verification: a collector with a self-signed
// certificate is trusted by naming that certificate in ca_file.
func tlsConfig(sc config.AuditSink, serverName string, key func(string) string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if sc.ServerName != "" {
		c.ServerName = sc.ServerName
	}
	if sc.CAFile != "" {
		pem, err := os.ReadFile(sc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", key("ca_file"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: %s: %s holds no PEM certificate", key("ca_file"), sc.CAFile)
		}
		c.RootCAs = pool
	}
	if sc.CertFile != "" {
		// The error names the files and what is wrong, never key material.
		cert, err := tls.LoadX509KeyPair(sc.CertFile, sc.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: %s: cannot load the client certificate and key_file: %w", key("cert_file"), err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

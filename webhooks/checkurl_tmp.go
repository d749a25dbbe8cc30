package webhooks

// This file stands in for the URL check and the error classes of the
// SSRF-safe transport (transport.go), written separately; it goes when
// that lands, which provides both functions with these signatures.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
)

// CheckURL checks the shape of an endpoint URL: absolute, https (http
// only with allowHTTP), a host, no user information. Addresses are
// checked by the transport when it connects.
func CheckURL(raw string, allowHTTP bool) error {
	if len(raw) > 2048 {
		return errors.New("the URL is longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse")
	}
	switch {
	case u.Scheme == "http" && !allowHTTP:
		return errors.New("the URL must be https:// (plain http:// needs --allow-http)")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("the URL must be https://")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("the URL has no host")
	case u.User != nil:
		return errors.New("the URL must not carry a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("the URL must not have a fragment")
	}
	return nil
}

// ErrorClass names the kind of a failed attempt's error, for the record
// of attempts: "timeout", "dns", "tls", "connect" or "other".
func ErrorClass(err error) string {
	var (
		dnsErr  *net.DNSError
		netErr  net.Error
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		header  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &header), errors.As(err, &alert):
		return "tls"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connect"
	}
	return "other"
}

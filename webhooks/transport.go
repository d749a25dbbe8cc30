package webhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hrgate/hrgate"
)

// The transport in this file is the SSRF guard of outbound webhooks. A
// webhook URL is chosen by a consumer, so without a guard hrgate would
// send requests wherever a consumer points it: the cloud metadata service,
// an admin port on the loopback, a database in the private network. The
// guard is a check of the address actually being dialled, made by the
// dialer after name resolution, so neither a host name that resolves to a
// private address nor a DNS answer that changes between registration and
// delivery (rebinding) gets past it. Redirects are not followed and no
// proxy is used, since either would let a request reach an address the
// check never saw.

// ErrBlockedAddress is the cause of every delivery error refused by the
// SSRF guard; test for it with errors.Is.
var ErrBlockedAddress = errors.New("webhooks: destination address is not allowed")

// DefaultTimeout bounds a whole delivery attempt (connect, TLS, request
// and response headers and body) when TransportConfig.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// maxResponseHeaderBytes caps the response headers a receiver may send:
// deliveries read a status code, so a receiver has no reason to send
// more, and a hostile one must not make hrgate buffer megabytes.
const maxResponseHeaderBytes = 64 << 10

// TransportConfig configures the HTTP client of webhook deliveries.
type TransportConfig struct {
	// AllowedNetworks are exempt from the guard: an address inside one of
	// them may be dialled although it is loopback, private or otherwise
	// refused. It is the webhooks.allowed_networks setting, for receivers
	// inside the company network and for tests on the loopback.
	AllowedNetworks []netip.Prefix
	// Timeout bounds a whole attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// Resolver resolves host names; nil means net.DefaultResolver. The
	// guard checks what it answers, so a custom resolver cannot weaken it.
	Resolver *net.Resolver
	// RootCAs verifies receivers' certificates; nil means the system's
	// roots. Receivers behind a private CA, and tests, set it.
	RootCAs *x509.CertPool
	// Log receives a warning for every refused address; nil discards.
	Log *slog.Logger
}

// NewClient returns the client that delivers webhooks under cfg. It
// refuses, at connection time, every address that AddressClass classes as
// not public unless cfg.AllowedNetworks holds it; it follows no redirect
// (a 3xx is returned to the caller as an answer like any other non-2xx),
// uses no proxy, requires TLS 1.2 or later with the usual certificate
// checks, and keeps connections alive, since the same receivers are
// called again and again.
func NewClient(cfg TransportConfig) *http.Client {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &guard{allowed: append([]netip.Prefix(nil), cfg.AllowedNetworks...), log: log}
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Resolver:  cfg.Resolver,
		// Control runs once per address the dialer tries, after name
		// resolution and before connect(2): the one place where the
		// address checked is certainly the address used.
		Control: g.control,
	}
	tr := &http.Transport{
		// No proxy, not even one from the environment: a proxy would
		// make the dialled address the proxy's, and the receiver's
		// would never be checked.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    cfg.RootCAs,
		},
		// A custom DialContext turns HTTP/2 off unless asked for.
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Many endpoints, each called repeatedly: keep a few warm
		// connections to each and a generous number in all.
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// guard is the dial-time check of one client.
type guard struct {
	allowed []netip.Prefix
	log     *slog.Logger
}

// control refuses the connection unless the address is allowed. An
// address it cannot read is refused too, so the guard fails closed.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %s", ErrBlockedAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unreadable address", ErrBlockedAddress)
	}
	if reason := Blocked(ap.Addr(), g.allowed); reason != "" {
		g.log.Warn("webhooks: the SSRF guard refused a connection",
			"address", ap.String(), "reason", reason)
		return fmt.Errorf("%w: %s is %s and not in webhooks.allowed_networks", ErrBlockedAddress, ap.Addr(), reason)
	}
	return nil
}

// Blocked reports why the guard refuses a connection to addr under the
// allowlist allowed, or "" when it lets it through. IPv4-mapped addresses
// and IPv6 zones are removed first, so "::ffff:10.0.0.1" is 10.0.0.1 and
// "fe80::1%eth0" is fe80::1 to both the classes and the allowlist.
func Blocked(addr netip.Addr, allowed []netip.Prefix) string {
	if !addr.IsValid() {
		return "invalid"
	}
	addr = addr.WithZone("").Unmap()
	for _, p := range allowed {
		if p.Contains(addr) {
			return ""
		}
	}
	return AddressClass(addr)
}

// Address classes that AddressClass reports.
const (
	ClassUnspecified   = "unspecified"
	ClassLoopback      = "loopback"
	ClassPrivate       = "private"
	ClassSharedCGNAT   = "shared_cgnat"
	ClassLinkLocal     = "link_local"
	ClassMulticast     = "multicast"
	ClassBroadcast     = "broadcast"
	ClassDocumentation = "documentation"
	ClassBenchmarking  = "benchmarking"
	ClassReserved      = "reserved"
)

// special is one special-purpose range and its class.
type special struct {
	prefix netip.Prefix
	class  string
}

// specialV4 are the IPv4 ranges that are not public unicast (IANA's
// special-purpose registry, RFC 6890 and successors), in the order they
// are checked: the broadcast address comes before the reserved 240/4 that
// holds it.
var specialV4 = []special{
	{netip.MustParsePrefix("0.0.0.0/8"), ClassUnspecified},
	{netip.MustParsePrefix("10.0.0.0/8"), ClassPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ClassSharedCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ClassLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ClassLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ClassPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassReserved},
	{netip.MustParsePrefix("192.0.2.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("192.88.99.0/24"), ClassReserved},
	{netip.MustParsePrefix("192.168.0.0/16"), ClassPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ClassBenchmarking},
	{netip.MustParsePrefix("198.51.100.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("224.0.0.0/4"), ClassMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), ClassBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), ClassReserved},
}

// specialV6 are the IPv6 ranges refused outright. Ranges that embed an
// IPv4 address (IPv4-compatible, NAT64, 6to4) are handled in AddressClass,
// and anything outside 2000::/3, the only block allocated for global
// unicast, is reserved.
var specialV6 = []special{
	{netip.MustParsePrefix("64:ff9b:1::/48"), ClassPrivate}, // local-use NAT64 (RFC 8215)
	{netip.MustParsePrefix("2001:db8::/32"), ClassDocumentation},
	{netip.MustParsePrefix("3fff::/20"), ClassDocumentation},
	{netip.MustParsePrefix("2001:2::/48"), ClassBenchmarking},
	{netip.MustParsePrefix("2001::/23"), ClassReserved}, // IETF protocol assignments, Teredo included
	{netip.MustParsePrefix("fc00::/7"), ClassPrivate},
	{netip.MustParsePrefix("fec0::/10"), ClassPrivate}, // deprecated site-local
	{netip.MustParsePrefix("fe80::/10"), ClassLinkLocal},
	{netip.MustParsePrefix("ff00::/8"), ClassMulticast},
}

var (
	v4Compatible = netip.MustParsePrefix("::/96")
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	globalV6     = netip.MustParsePrefix("2000::/3")
)

// AddressClass returns the class of a non-public address (ClassLoopback,
// ClassPrivate, ...) or "" for a public unicast one. IPv6 forms that embed
// an IPv4 address (IPv4-mapped and -compatible, NAT64 64:ff9b::/96, 6to4
// 2002::/16) take the class of the IPv4 address they carry, so a private
// address cannot be reached through its IPv6 spelling.
func AddressClass(addr netip.Addr) string {
	if !addr.IsValid() {
		return "invalid"
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is4() {
		for _, s := range specialV4 {
			if s.prefix.Contains(addr) {
				return s.class
			}
		}
		return ""
	}
	switch {
	case addr == netip.IPv6Unspecified():
		return ClassUnspecified
	case addr == netip.IPv6Loopback():
		return ClassLoopback
	case v4Compatible.Contains(addr):
		// Deprecated and unroutable even when the IPv4 address is public.
		if c := AddressClass(embeddedV4(addr, 12)); c != "" {
			return c
		}
		return ClassReserved
	case nat64.Contains(addr):
		return AddressClass(embeddedV4(addr, 12))
	case sixToFour.Contains(addr):
		return AddressClass(embeddedV4(addr, 2))
	}
	for _, s := range specialV6 {
		if s.prefix.Contains(addr) {
			return s.class
		}
	}
	if !globalV6.Contains(addr) {
		return ClassReserved
	}
	return ""
}

// embeddedV4 returns the IPv4 address held in bytes at..at+3 of addr.
func embeddedV4(addr netip.Addr, at int) netip.Addr {
	b := addr.As16()
	return netip.AddrFrom4([4]byte{b[at], b[at+1], b[at+2], b[at+3]})
}

// MaxURLLength is the longest endpoint URL CheckURL accepts.
const MaxURLLength = 2048

// CheckURL validates an endpoint URL when it is registered: an absolute
// https URL (http only when allowHTTP), with a host and a valid port if
// any, without user name, password or fragment, at most MaxURLLength
// bytes. Errors are of kind invalid and do not repeat the URL, whose
// query may hold a receiver's token.
//
// CheckURL does not refuse private or loopback addresses, not even
// literal ones: whether they are allowed depends on
// webhooks.allowed_networks, and the guard in NewClient checks the address
// actually dialled on every delivery. CheckURLAddress adds the early check
// for literal addresses.
func CheckURL(raw string, allowHTTP bool) error {
	if raw == "" {
		return hrgate.Errorf(hrgate.EINVALID, "url: is required")
	}
	if len(raw) > MaxURLLength {
		return hrgate.Errorf(hrgate.EINVALID, "url: is longer than %d bytes", MaxURLLength)
	}
	if strings.TrimSpace(raw) != raw {
		return hrgate.Errorf(hrgate.EINVALID, "url: must not begin or end with spaces")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return hrgate.Errorf(hrgate.EINVALID, "url: is not a valid URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return hrgate.Errorf(hrgate.EINVALID, "url: must use https://; plain http:// needs the endpoint registered with HTTP allowed (--allow-http, or allow_http in the admin API)")
		}
	case "":
		return hrgate.Errorf(hrgate.EINVALID, "url: must be an absolute URL such as https://example.com/webhooks")
	default:
		return hrgate.Errorf(hrgate.EINVALID, "url: scheme %q is not supported; use https", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return hrgate.Errorf(hrgate.EINVALID, "url: must name a host, as in https://example.com/webhooks")
	}
	if u.User != nil {
		return hrgate.Errorf(hrgate.EINVALID, "url: must not contain a user name or password; receivers authenticate deliveries by their signature")
	}
	if strings.Contains(raw, "#") {
		return hrgate.Errorf(hrgate.EINVALID, "url: must not contain a fragment (#...)")
	}
	if strings.Contains(u.Host, "%") {
		return hrgate.Errorf(hrgate.EINVALID, "url: must not name an IPv6 zone")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return hrgate.Errorf(hrgate.EINVALID, "url: port must be between 1 and 65535")
		}
	}
	return nil
}

// CheckURLAddress refuses, at registration, a URL whose host is a literal
// IP address that the guard would refuse under allowed, so that an
// endpoint that can never be delivered to is not created. Host names are
// not resolved here: what they resolve to at delivery time is what counts,
// and the guard checks that. raw must have passed CheckURL.
func CheckURLAddress(raw string, allowed []netip.Prefix) error {
	u, err := url.Parse(raw)
	if err != nil {
		return hrgate.Errorf(hrgate.EINVALID, "url: is not a valid URL")
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil // a host name
	}
	if reason := Blocked(addr, allowed); reason != "" {
		return hrgate.Errorf(hrgate.EINVALID, "url: %s is a %s address, which webhooks may not reach unless webhooks.allowed_networks lists it", addr.WithZone("").Unmap(), reason)
	}
	return nil
}

// Error classes that ErrorClass returns, stable for delivery records.
const (
	ErrClassBlocked = "blocked_address"
	ErrClassDNS     = "dns"
	ErrClassConnect = "connect"
	ErrClassTLS     = "tls"
	ErrClassTimeout = "timeout"
	ErrClassOther   = "other"
)

// ErrorClass sorts an error from a delivery client's Do into one of the
// ErrClass constants, for delivery records that must not hold the error
// text (it may quote a receiver's answer or URL). A nil error has no
// class, "".
func ErrorClass(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrBlockedAddress) {
		return ErrClassBlocked
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ErrClassDNS
	}
	if isTimeout(err) {
		return ErrClassTimeout
	}
	if isTLS(err) {
		return ErrClassTLS
	}
	var opErr *net.OpError
	var errno syscall.Errno
	if errors.As(err, &opErr) || errors.As(err, &errno) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrClassConnect
	}
	return ErrClassOther
}

// isTimeout reports a deadline that ran out anywhere in err's chain.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// isTLS reports a failed handshake or certificate check. crypto/tls
// returns most of its errors as plain errors whose text starts with
// "tls: ", and alerts wrapped in a *net.OpError whose Op is "remote
// error" or "local error"; the exported types cover certificates.
func isTLS(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	if errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		// net/http replaces the RecordHeaderError of a plain HTTP
		// answer to a TLS handshake by an error of its own.
		if strings.Contains(e.Error(), "server gave HTTP response to HTTPS client") {
			return true
		}
		if op, ok := e.(*net.OpError); ok && (op.Op == "remote error" || op.Op == "local error") {
			return true
		}
		if strings.HasPrefix(e.Error(), "tls: ") {
			return true
		}
	}
	return false
}

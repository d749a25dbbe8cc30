package webhooks_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/webhooks"
)

// testTimeout bounds every request in these tests. It is a safety net
// only: a refused address fails in the dialer before connect(2), so no
// test passes or fails by how fast the machine is.
const testTimeout = 10 * time.Second

func TestAddressClass(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		// Public addresses pass.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.167.255.255", ""},
		{"192.169.0.0", ""},
		{"223.255.255.255", ""},
		{"2606:4700:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of a public address
		{"2002:808:808::1", ""},  // 6to4 of a public address
		{"2a00:1450:4001::200e", ""},

		// IPv4 special ranges.
		{"0.0.0.0", webhooks.ClassUnspecified},
		{"0.1.2.3", webhooks.ClassUnspecified},
		{"127.0.0.1", webhooks.ClassLoopback},
		{"127.255.255.254", webhooks.ClassLoopback},
		{"10.0.0.1", webhooks.ClassPrivate},
		{"10.255.255.255", webhooks.ClassPrivate},
		{"172.16.0.1", webhooks.ClassPrivate},
		{"172.31.255.255", webhooks.ClassPrivate},
		{"192.168.1.1", webhooks.ClassPrivate},
		{"100.64.0.1", webhooks.ClassSharedCGNAT},
		{"100.127.255.255", webhooks.ClassSharedCGNAT},
		{"169.254.169.254", webhooks.ClassLinkLocal},
		{"169.254.0.1", webhooks.ClassLinkLocal},
		{"224.0.0.1", webhooks.ClassMulticast},
		{"239.255.255.250", webhooks.ClassMulticast},
		{"255.255.255.255", webhooks.ClassBroadcast},
		{"240.0.0.1", webhooks.ClassReserved},
		{"192.0.0.170", webhooks.ClassReserved},
		{"192.88.99.1", webhooks.ClassReserved},
		{"192.0.2.1", webhooks.ClassDocumentation},
		{"198.51.100.7", webhooks.ClassDocumentation},
		{"203.0.113.9", webhooks.ClassDocumentation},
		{"198.18.0.1", webhooks.ClassBenchmarking},
		{"198.19.255.255", webhooks.ClassBenchmarking},

		// IPv6 special ranges.
		{"::", webhooks.ClassUnspecified},
		{"::1", webhooks.ClassLoopback},
		{"fc00::1", webhooks.ClassPrivate},
		{"fd12:3456:789a::1", webhooks.ClassPrivate},
		{"fec0::1", webhooks.ClassPrivate},
		{"fe80::1", webhooks.ClassLinkLocal},
		{"fe80::1%eth0", webhooks.ClassLinkLocal},
		{"febf:ffff::1", webhooks.ClassLinkLocal},
		{"ff02::1", webhooks.ClassMulticast},
		{"ff0e::1", webhooks.ClassMulticast},
		{"2001:db8::1", webhooks.ClassDocumentation},
		{"3fff::1", webhooks.ClassDocumentation},
		{"2001:2::1", webhooks.ClassBenchmarking},
		{"2001::1", webhooks.ClassReserved}, // Teredo
		{"100::1", webhooks.ClassReserved},  // discard-only
		{"5f00::1", webhooks.ClassReserved}, // outside 2000::/3
		{"64:ff9b:1::a00:1", webhooks.ClassPrivate},

		// IPv6 forms that carry an IPv4 address take its class.
		{"::ffff:127.0.0.1", webhooks.ClassLoopback},
		{"::ffff:7f00:1", webhooks.ClassLoopback},
		{"::ffff:10.0.0.1", webhooks.ClassPrivate},
		{"::ffff:169.254.169.254", webhooks.ClassLinkLocal},
		{"::ffff:0.0.0.0", webhooks.ClassUnspecified},
		{"::ffff:100.64.0.1", webhooks.ClassSharedCGNAT},
		{"::ffff:255.255.255.255", webhooks.ClassBroadcast},
		{"::127.0.0.1", webhooks.ClassLoopback},         // IPv4-compatible
		{"::10.0.0.1", webhooks.ClassPrivate},           // IPv4-compatible
		{"::8.8.8.8", webhooks.ClassReserved},           // IPv4-compatible is deprecated
		{"64:ff9b::7f00:1", webhooks.ClassLoopback},     // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", webhooks.ClassPrivate},       // NAT64 of 10.0.0.1
		{"64:ff9b::a9fe:a9fe", webhooks.ClassLinkLocal}, // NAT64 of 169.254.169.254
		{"2002:7f00:1::", webhooks.ClassLoopback},       // 6to4 of 127.0.0.1
		{"2002:c0a8:101::1", webhooks.ClassPrivate},     // 6to4 of 192.168.1.1
		{"2002:a9fe:a9fe::", webhooks.ClassLinkLocal},   // 6to4 of 169.254.169.254
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := webhooks.AddressClass(a); got != tt.want {
				t.Errorf("AddressClass(%s) = %q, want %q", tt.addr, got, tt.want)
			}
			// Without an allowlist, Blocked refuses exactly the classed.
			if got := webhooks.Blocked(a, nil); got != tt.want {
				t.Errorf("Blocked(%s, nil) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := webhooks.AddressClass(netip.Addr{}); got == "" {
		t.Error("the zero Addr passes; it must be refused")
	}
}

func TestBlocked(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		allowed string
		want    string
	}{
		{"LoopbackAllowedByRange", "127.0.0.1", "127.0.0.0/8", ""},
		{"LoopbackAllowedBySingleAddress", "127.0.0.1", "127.0.0.1", ""},
		{"OtherLoopbackNotAllowed", "127.0.0.2", "127.0.0.1", webhooks.ClassLoopback},
		{"MappedAllowedByIPv4Range", "::ffff:127.0.0.1", "127.0.0.0/8", ""},
		{"IPv4AllowedByMappedEntry", "10.1.2.3", "::ffff:10.0.0.0/104", ""},
		{"PrivateOutsideAllowedRange", "10.0.0.1", "192.168.0.0/16", webhooks.ClassPrivate},
		{"IPv6LoopbackNotAllowedByIPv4Loopback", "::1", "127.0.0.0/8", webhooks.ClassLoopback},
		{"IPv6LoopbackAllowed", "::1", "::1/128", ""},
		{"ZonedLinkLocalAllowed", "fe80::1%eth0", "fe80::/10", ""},
		{"NAT64OfAllowedIPv4StillRefused", "64:ff9b::7f00:1", "127.0.0.0/8", webhooks.ClassLoopback},
		{"NAT64AllowedByItsOwnRange", "64:ff9b::7f00:1", "64:ff9b::/96", ""},
		{"MetadataNotAllowedByPrivateRanges", "169.254.169.254", "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16", webhooks.ClassLinkLocal},
		{"PublicWithAllowlist", "8.8.8.8", "10.0.0.0/8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhooks.Blocked(netip.MustParseAddr(tt.addr), mustAllowed(t, tt.allowed)); got != tt.want {
				t.Errorf("Blocked(%s, %q) = %q, want %q", tt.addr, tt.allowed, got, tt.want)
			}
		})
	}
}

// guardReceiver is a real HTTP server on a loopback address that counts the
// connections it accepts and the requests it answers.
type guardReceiver struct {
	*httptest.Server
	conns atomic.Int64
	hits  atomic.Int64
}

// newGuardReceiver starts a guardReceiver listening on addr ("127.0.0.1:0"); h may
// be nil for one that answers 204. It skips the test when the address
// cannot be bound, as [::1] on a host without IPv6.
func newGuardReceiver(tb testing.TB, addr string, tlsOn bool, h http.HandlerFunc) *guardReceiver {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Skipf("cannot listen on %s: %v", addr, err)
	}
	r := &guardReceiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if h != nil {
			h(w, req)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	r.Listener.Close()
	r.Listener = ln
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	if tlsOn {
		r.StartTLS()
	} else {
		r.Start()
	}
	tb.Cleanup(r.Close)
	return r
}

// port is the receiver's port.
func (r *guardReceiver) port() string {
	_, p, _ := net.SplitHostPort(r.Listener.Addr().String())
	return p
}

// dnsServer is a small DNS server over UDP on the loopback that answers
// A and AAAA questions from a fixed table and NXDOMAIN for names not in
// it: a real resolver path for host names that resolve to loopback.
type dnsServer struct {
	conn    net.PacketConn
	answers map[string][]netip.Addr
	queries atomic.Int64
}

func newDNSServer(tb testing.TB, answers map[string][]netip.Addr) *dnsServer {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &dnsServer{conn: conn, answers: answers}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n]); resp != nil {
				_, _ = conn.WriteTo(resp, from)
			}
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s
}

// resolver returns a pure-Go resolver that asks only this server.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
		},
	}
}

// answer builds the response to one query (RFC 1035, section 4.1).
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	s.queries.Add(1)
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l&0xC0 != 0 || i+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	i += 4
	addrs, known := s.answers[strings.ToLower(strings.Join(labels, "."))]
	var ans []netip.Addr
	for _, a := range addrs {
		if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
			ans = append(ans, a)
		}
	}
	flags := uint16(0x8180) // response, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp := append([]byte(nil), q[0:2]...)
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(ans)))
	resp = append(resp, 0, 0, 0, 0)
	resp = append(resp, q[12:i]...)
	for _, a := range ans {
		resp = append(resp, 0xC0, 12) // the question's name
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // IN
		resp = binary.BigEndian.AppendUint32(resp, 1) // TTL
		b := a.AsSlice()
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(b)))
		resp = append(resp, b...)
	}
	return resp
}

func mustAllowed(tb testing.TB, s string) []netip.Prefix {
	tb.Helper()
	var out []netip.Prefix
	for _, entry := range strings.Split(s, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		p, err := hrgate.ParseCIDR(entry)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func post(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(`{"type":"test"}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// TestNewClient_Guard sends real requests to real receivers on the
// loopback and proves that the guard refuses every non-public address in
// the dialer, before a connection is made, however the address is
// spelled or found, and that webhooks.allowed_networks lets exactly the
// listed networks through.
func TestNewClient_Guard(t *testing.T) {
	v4 := newGuardReceiver(t, "127.0.0.1:0", false, nil)
	var v6 *guardReceiver
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		v6 = newGuardReceiver(t, "[::1]:0", false, nil)
	}
	dns := newDNSServer(t, map[string][]netip.Addr{
		"loopback.hrgate.test": {netip.MustParseAddr("127.0.0.1")},
		"private.hrgate.test":  {netip.MustParseAddr("10.0.0.1")},
		"metadata.hrgate.test": {netip.MustParseAddr("169.254.169.254")},
		"mapped.hrgate.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
	})

	tests := []struct {
		name     string
		host     string
		target   *guardReceiver // nil: nothing listens; the port is 80
		allowed  string
		resolver bool // resolve through the in-test DNS server
		v6       bool // needs IPv6 on the loopback
		reached  bool
	}{
		{name: "Loopback", host: "127.0.0.1", target: v4},
		{name: "LoopbackOtherAddress", host: "127.0.0.2", target: nil},
		{name: "LoopbackAllowed", host: "127.0.0.1", target: v4, allowed: "127.0.0.0/8", reached: true},
		{name: "LoopbackAllowedBySingleAddress", host: "127.0.0.1", target: v4, allowed: "127.0.0.1", reached: true},
		{name: "LoopbackOtherAllowlist", host: "127.0.0.1", target: v4, allowed: "10.0.0.0/8, 127.0.0.2"},
		{name: "Private10", host: "10.0.0.1"},
		{name: "Private192", host: "192.168.1.1"},
		{name: "Metadata", host: "169.254.169.254"},
		{name: "CGNAT", host: "100.64.0.1"},
		{name: "Unspecified", host: "0.0.0.0", target: v4},
		{name: "MappedLoopback", host: "::ffff:127.0.0.1", target: v4},
		{name: "MappedLoopbackAllowed", host: "::ffff:127.0.0.1", target: v4, allowed: "127.0.0.0/8", reached: true},
		{name: "MappedPrivate", host: "::ffff:10.0.0.1"},
		{name: "MappedMetadata", host: "::ffff:169.254.169.254"},
		{name: "IPv6Loopback", host: "::1", target: v6, v6: true},
		{name: "IPv6LoopbackAllowed", host: "::1", target: v6, allowed: "::1/128", v6: true, reached: true},
		{name: "IPv6LoopbackNotByIPv4Range", host: "::1", target: v6, allowed: "127.0.0.0/8", v6: true},
		{name: "IPv6Unspecified", host: "::", target: v6, v6: true},
		{name: "NAT64Private", host: "64:ff9b::a00:1", v6: true},
		{name: "IPv6LinkLocal", host: "fe80::1", v6: true},
		{name: "HostnameToLoopback", host: "loopback.hrgate.test", target: v4, resolver: true},
		{name: "HostnameToLoopbackAllowed", host: "loopback.hrgate.test", target: v4, resolver: true, allowed: "127.0.0.0/8", reached: true},
		{name: "HostnameToPrivate", host: "private.hrgate.test", resolver: true},
		{name: "HostnameToMetadata", host: "metadata.hrgate.test", resolver: true},
		{name: "HostnameToMappedLoopback", host: "mapped.hrgate.test", target: v4, resolver: true},
		{name: "HostnameToMappedLoopbackAllowed", host: "mapped.hrgate.test", target: v4, resolver: true, allowed: "127.0.0.0/8", reached: true},
		{name: "Localhost", host: "localhost", target: v4},
		{name: "LocalhostAllowed", host: "localhost", target: v4, allowed: "127.0.0.0/8, ::1/128", reached: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.v6 && v6 == nil {
				t.Skip("no IPv6 on the loopback")
			}
			port := "80"
			if tt.target != nil {
				port = tt.target.port()
			}
			cfg := webhooks.TransportConfig{Timeout: testTimeout, AllowedNetworks: mustAllowed(t, tt.allowed)}
			if tt.resolver {
				cfg.Resolver = dns.resolver()
			}
			before := dns.queries.Load()
			var conns, hits int64
			if tt.target != nil {
				conns, hits = tt.target.conns.Load(), tt.target.hits.Load()
			}
			c := webhooks.NewClient(cfg)
			defer c.CloseIdleConnections()

			resp, err := post(context.Background(), c, "http://"+net.JoinHostPort(tt.host, port)+"/hook")

			if tt.resolver && dns.queries.Load() == before {
				t.Error("the in-test DNS server was not asked")
			}
			if tt.reached {
				if err != nil {
					t.Fatalf("got %v, want the receiver reached", err)
				}
				if resp.StatusCode != http.StatusNoContent {
					t.Errorf("status %d, want 204", resp.StatusCode)
				}
				if tt.target.hits.Load() != hits+1 {
					t.Error("the receiver did not count the request")
				}
				return
			}
			if !errors.Is(err, webhooks.ErrBlockedAddress) {
				t.Fatalf("got %v, want ErrBlockedAddress", err)
			}
			if got := webhooks.ErrorClass(err); got != webhooks.ErrClassBlocked {
				t.Errorf("ErrorClass = %q, want %q", got, webhooks.ErrClassBlocked)
			}
			if tt.target != nil {
				if n := tt.target.conns.Load() - conns; n != 0 {
					t.Errorf("the receiver accepted %d connections, want none", n)
				}
				if n := tt.target.hits.Load() - hits; n != 0 {
					t.Errorf("the receiver answered %d requests, want none", n)
				}
			}
		})
	}
}

// TestNewClient_Redirect proves that a redirect is handed back as the
// answer and never followed, so an allowed receiver cannot bounce a
// delivery to a private address, even one the allowlist would admit.
func TestNewClient_Redirect(t *testing.T) {
	private := newGuardReceiver(t, "127.0.0.2:0", false, nil)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := newGuardReceiver(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, private.URL+"/internal", status)
		})

		// The set-up is live: a client that follows redirects gets there.
		hits := private.hits.Load()
		if _, err := post(context.Background(), &http.Client{Timeout: testTimeout}, redirector.URL); err != nil {
			t.Fatal(err)
		}
		if private.hits.Load() != hits+1 {
			t.Fatalf("%d: a following client did not reach the private receiver; the test proves nothing", status)
		}

		for _, allowed := range []string{"127.0.0.1", "127.0.0.0/8"} {
			t.Run(fmt.Sprintf("%d/%s", status, allowed), func(t *testing.T) {
				c := webhooks.NewClient(webhooks.TransportConfig{Timeout: testTimeout, AllowedNetworks: mustAllowed(t, allowed)})
				defer c.CloseIdleConnections()
				hits, conns := private.hits.Load(), private.conns.Load()
				resp, err := post(context.Background(), c, redirector.URL)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != status {
					t.Errorf("status %d, want the redirect %d itself", resp.StatusCode, status)
				}
				if private.hits.Load() != hits || private.conns.Load() != conns {
					t.Error("the redirect was followed to the private receiver")
				}
			})
		}
	}
}

// TestNewClient_TLS checks HTTPS deliveries: a receiver with a trusted
// certificate is reached, one with an unknown certificate or an old TLS
// version is refused, and the refusals are classed as tls.
func TestNewClient_TLS(t *testing.T) {
	good := newGuardReceiver(t, "127.0.0.1:0", true, nil)
	old := newGuardReceiver(t, "127.0.0.1:0", false, nil)
	old.Close()
	old = &guardReceiver{}
	old.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		old.hits.Add(1)
	}))
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11} // #nosec G402 -- the receiver under test must be too old
	old.StartTLS()
	t.Cleanup(old.Close)

	trusted := x509.NewCertPool()
	trusted.AddCert(good.Certificate())
	trusted.AddCert(old.Certificate())
	allowed := mustAllowed(t, "127.0.0.1")

	tests := []struct {
		name    string
		target  *guardReceiver
		roots   *x509.CertPool
		wantErr string // an ErrClass, or "" for success
	}{
		{"Trusted", good, trusted, ""},
		{"UnknownAuthority", good, nil, webhooks.ErrClassTLS},
		{"TLS11Refused", old, trusted, webhooks.ErrClassTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webhooks.NewClient(webhooks.TransportConfig{Timeout: testTimeout, AllowedNetworks: allowed, RootCAs: tt.roots})
			defer c.CloseIdleConnections()
			hits := tt.target.hits.Load()
			resp, err := post(context.Background(), c, tt.target.URL)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusNoContent || tt.target.hits.Load() != hits+1 {
					t.Errorf("status %d, hits %d: want the receiver reached", resp.StatusCode, tt.target.hits.Load()-hits)
				}
				return
			}
			if err == nil {
				t.Fatal("the request succeeded")
			}
			t.Logf("refused: %v", err)
			if got := webhooks.ErrorClass(err); got != tt.wantErr {
				t.Errorf("ErrorClass(%v) = %q, want %q", err, got, tt.wantErr)
			}
			if tt.target.hits.Load() != hits {
				t.Error("the receiver got the request")
			}
		})
	}
}

// TestNewClient_NoEnvironmentProxy proves that HTTP_PROXY is ignored: a
// proxy would dial the receiver on hrgate's behalf, out of the guard's
// sight.
func TestNewClient_NoEnvironmentProxy(t *testing.T) {
	target := newGuardReceiver(t, "127.0.0.1:0", false, nil)
	proxy := newGuardReceiver(t, "127.0.0.1:0", false, nil)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	dns := newDNSServer(t, map[string][]netip.Addr{"receiver.hrgate.test": {netip.MustParseAddr("127.0.0.1")}})

	c := webhooks.NewClient(webhooks.TransportConfig{
		Timeout:         testTimeout,
		AllowedNetworks: mustAllowed(t, "127.0.0.1"),
		Resolver:        dns.resolver(),
	})
	defer c.CloseIdleConnections()
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr.Proxy != nil {
		t.Fatal("the transport has a proxy function")
	}
	if _, err := post(context.Background(), c, "http://receiver.hrgate.test:"+target.port()+"/"); err != nil {
		t.Fatal(err)
	}
	if proxy.conns.Load() != 0 || target.hits.Load() != 1 {
		t.Errorf("proxy connections %d, receiver hits %d: want 0 and 1", proxy.conns.Load(), target.hits.Load())
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion < tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS is weaker than 1.2 with verification")
	}
	if c.CheckRedirect == nil || c.Timeout != testTimeout {
		t.Error("the client follows redirects or has no overall timeout")
	}
	if d := webhooks.NewClient(webhooks.TransportConfig{}); d.Timeout != webhooks.DefaultTimeout {
		t.Errorf("default timeout %v, want %v", d.Timeout, webhooks.DefaultTimeout)
	}
}

// TestNewClient_ResponseHeaderCap proves that a receiver cannot make the
// client buffer unbounded response headers.
func TestNewClient_ResponseHeaderCap(t *testing.T) {
	big := newGuardReceiver(t, "127.0.0.1:0", false, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 1<<20))
		w.WriteHeader(http.StatusOK)
	})
	c := webhooks.NewClient(webhooks.TransportConfig{Timeout: testTimeout, AllowedNetworks: mustAllowed(t, "127.0.0.1")})
	defer c.CloseIdleConnections()
	if _, err := post(context.Background(), c, big.URL); err == nil {
		t.Fatal("a 1 MiB response header was accepted")
	}
}

func TestErrorClass(t *testing.T) {
	allowed := mustAllowed(t, "127.0.0.1")
	dns := newDNSServer(t, map[string][]netip.Addr{})
	release := make(chan struct{})
	slow := newGuardReceiver(t, "127.0.0.1:0", false, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	closed := newGuardReceiver(t, "127.0.0.1:0", false, nil)
	closedURL := closed.URL
	closed.Close()
	plain := newGuardReceiver(t, "127.0.0.1:0", false, nil)
	tlsRecv := newGuardReceiver(t, "127.0.0.1:0", true, nil)
	hangup := newGuardReceiver(t, "127.0.0.1:0", false, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})

	// do sends a request through a guarded client and returns its error.
	do := func(u string, resolver *net.Resolver, timeout time.Duration) error {
		c := webhooks.NewClient(webhooks.TransportConfig{Timeout: timeout, AllowedNetworks: allowed, Resolver: resolver})
		defer c.CloseIdleConnections()
		_, err := post(context.Background(), c, u)
		if err == nil {
			t.Fatalf("%s: no error", u)
		}
		return err
	}
	httpsURL := strings.Replace(plain.URL, "http://", "https://", 1)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Nil", nil, ""},
		{"Blocked", do("http://10.0.0.1/", nil, testTimeout), webhooks.ErrClassBlocked},
		{"BlockedWrapped", fmt.Errorf("deliver: %w", do("http://[::ffff:169.254.169.254]/", nil, testTimeout)), webhooks.ErrClassBlocked},
		{"DNSNoSuchHost", do("http://nowhere.hrgate.test/", dns.resolver(), testTimeout), webhooks.ErrClassDNS},
		{"ConnectRefused", do(closedURL, nil, testTimeout), webhooks.ErrClassConnect},
		{"ConnectHangUp", do(hangup.URL, nil, testTimeout), webhooks.ErrClassConnect},
		{"TLSUnknownAuthority", do(tlsRecv.URL, nil, testTimeout), webhooks.ErrClassTLS},
		{"TLSToPlainHTTP", do(httpsURL, nil, testTimeout), webhooks.ErrClassTLS},
		{"Timeout", do(slow.URL, nil, 200*time.Millisecond), webhooks.ErrClassTimeout},
		{"DeadlineExceeded", fmt.Errorf("deliver: %w", context.DeadlineExceeded), webhooks.ErrClassTimeout},
		{"Other", errors.New("something else"), webhooks.ErrClassOther},
		{"Canceled", context.Canceled, webhooks.ErrClassOther},
		{"BadURL", &url.Error{Op: "Post", URL: "x", Err: errors.New("unsupported protocol scheme")}, webhooks.ErrClassOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhooks.ErrorClass(tt.err); got != tt.want {
				t.Errorf("ErrorClass(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		allowHTTP bool
		wantErr   string // part of the message; "" for success
	}{
		{"OK", "https://example.com/webhooks", false, ""},
		{"OKWithPortAndQuery", "https://hooks.example.com:8443/in?topic=hr", false, ""},
		{"OKHTTPAllowed", "http://127.0.0.1:8080/hook", true, ""},
		{"OKLiteralPrivateIsLeftToTheGuard", "https://10.0.0.1/hook", false, ""},
		{"OKIPv6", "https://[2001:4860::1]/hook", false, ""},
		{"Empty", "", false, "required"},
		{"HTTPNotAllowed", "http://example.com/hook", false, "https"},
		{"Relative", "/hook", false, "absolute"},
		{"NoScheme", "example.com/hook", false, "absolute"},
		{"FTP", "ftp://example.com/hook", false, `"ftp"`},
		{"NoHost", "https:///hook", false, "host"},
		{"OnlyPort", "https://:443/hook", false, "host"},
		{"Opaque", "https:example.com", false, "host"},
		{"UserInfo", "https://user:pass@example.com/hook", false, "user name or password"},
		{"UserOnly", "https://user@example.com/hook", false, "user name or password"},
		{"Fragment", "https://example.com/hook#x", false, "fragment"},
		{"EmptyFragment", "https://example.com/hook#", false, "fragment"},
		{"TooLong", "https://example.com/" + strings.Repeat("a", webhooks.MaxURLLength), false, "2048"},
		{"BadPort", "https://example.com:99999/hook", false, "port"},
		{"PortZero", "https://example.com:0/hook", false, "port"},
		{"Zone", "https://[fe80::1%25eth0]/hook", false, "zone"},
		{"Spaces", " https://example.com/hook", false, "spaces"},
		{"ControlCharacter", "https://example.com/\nhook", false, "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhooks.CheckURL(tt.url, tt.allowHTTP)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := hrgate.ErrorMessage(err)
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("message %q does not contain %q", msg, tt.wantErr)
			}
			if hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Errorf("error kind %q, want invalid", hrgate.ErrorCode(err))
			}
			if tt.url != "" && strings.Contains(msg, tt.url) {
				t.Errorf("message %q repeats the URL", msg)
			}
		})
	}
	// A secret in the URL is never echoed.
	err := webhooks.CheckURL("https://user:s3cr3t-token@example.com/", false)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("got %v", err)
	}
}

func TestCheckURLAddress(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		allowed string
		wantErr bool
	}{
		{"HostName", "https://internal.example.com/hook", "", false},
		{"Public", "https://8.8.8.8/hook", "", false},
		{"Loopback", "https://127.0.0.1/hook", "", true},
		{"LoopbackAllowed", "http://127.0.0.1:8080/hook", "127.0.0.0/8", false},
		{"Metadata", "http://169.254.169.254/latest/meta-data/", "", true},
		{"MappedPrivate", "https://[::ffff:10.0.0.1]/hook", "", true},
		{"MappedAllowed", "https://[::ffff:10.0.0.1]/hook", "10.0.0.0/8", false},
		{"IPv6Loopback", "https://[::1]/hook", "127.0.0.0/8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhooks.CheckURLAddress(tt.url, mustAllowed(t, tt.allowed))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, want error %v", err, tt.wantErr)
			}
			if err != nil && hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Errorf("error kind %q, want invalid", hrgate.ErrorCode(err))
			}
		})
	}
}

package http

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestClientAddrDropsZone checks that the address a request is counted
// and checked under has no zone, whether it is the peer's or one a
// trusted proxy forwarded: with a zone, no prefix of the IP rules or an
// allowlist contains it.
func TestClientAddrDropsZone(t *testing.T) {
	ps, err := parseProxies([]string{"10.0.0.0/8"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ peer, xff, want string }{
		{"[fe80::1%eth0]:4711", "", "fe80::1"},
		{"10.0.0.1:4711", "2001:db8::1%eth0", "2001:db8::1"},
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ps.clientAddr(r); got != netip.MustParseAddr(c.want) {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

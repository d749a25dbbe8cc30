package http

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/hrgate/hrgate"
)

// proxySet is the set of reverse proxies whose X-Forwarded-For header is
// believed.
type proxySet []netip.Prefix

func parseProxies(cidrs []string) (proxySet, error) {
	var ps proxySet
	for _, c := range cidrs {
		p, err := hrgate.ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func (ps proxySet) contains(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address a request is attributed to: the TCP peer,
// unless the peer is a trusted proxy, in which case X-Forwarded-For is read
// from the right, skipping trusted proxies, and the first other address is
// the client. An entry that does not parse ends the walk with no address:
// an allowlist then fails closed rather than trusting a forged value.
// Headers from untrusted peers are ignored, so a client cannot pick its own
// address.
func (ps proxySet) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	peer := ap.Addr().Unmap()
	if len(ps) == 0 || !ps.contains(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	if len(hops) == 0 {
		return peer
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return netip.Addr{}
			}
			client = a.Unmap()
			if !ps.contains(client) {
				return client
			}
		}
	}
	// Every hop was a trusted proxy: the leftmost is as far as we can see.
	return client
}

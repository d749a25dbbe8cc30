package http

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
)

// proxySet is the set of reverse proxies whose forwarding header is
// believed, and which header that is: X-Forwarded-For or the RFC 7239
// Forwarded header, never both, so that a client cannot add the one a
// proxy does not write to.
type proxySet struct {
	prefixes []netip.Prefix
	// rfc7239 says that the proxies write Forwarded, not X-Forwarded-For.
	rfc7239 bool
}

func parseProxies(cidrs []string, header string) (proxySet, error) {
	ps := proxySet{rfc7239: header == config.ForwardedRFC7239}
	for _, c := range cidrs {
		p, err := hrgate.ParseCIDR(c)
		if err != nil {
			return proxySet{}, err
		}
		ps.prefixes = append(ps.prefixes, p)
	}
	return ps, nil
}

func (ps proxySet) contains(a netip.Addr) bool {
	for _, p := range ps.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address a request is attributed to: the TCP peer,
// unless the peer is a trusted proxy, in which case the forwarding header
// is read from the right, skipping trusted proxies, and the first other
// address is the client. An entry that does not parse (including the
// "unknown" and obfuscated nodes RFC 7239 allows) ends the walk with no
// address: IP rules and allowlists then fail closed rather than trusting a
// forged value. Headers from untrusted peers are ignored, so a client
// cannot pick its own address.
func (ps proxySet) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	// Without its zone, a link-local address is in the prefixes that
	// contain it (netip prefixes contain no address with a zone).
	peer := ap.Addr().Unmap().WithZone("")
	if len(ps.prefixes) == 0 || !ps.contains(peer) {
		return peer
	}
	name, parse := "X-Forwarded-For", parseXFFHop
	if ps.rfc7239 {
		name, parse = "Forwarded", parseForwardedHop
	}
	lines := r.Header.Values(name)
	if len(lines) == 0 {
		return peer
	}
	client := peer
	// A repeated header is one list in order (RFC 9110 §5.3), so the
	// walk runs over the lines from the last, and within each from the
	// right.
	for i := len(lines) - 1; i >= 0; i-- {
		hops := splitHops(lines[i])
		for j := len(hops) - 1; j >= 0; j-- {
			a, ok := parse(hops[j])
			if !ok {
				return netip.Addr{}
			}
			client = a.Unmap().WithZone("")
			if !ps.contains(client) {
				return client
			}
		}
	}
	// Every hop was a trusted proxy: the leftmost is as far as we can see.
	return client
}

// splitHops splits a forwarding header's value at the commas outside
// quoted strings.
func splitHops(v string) []string {
	var hops []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				hops = append(hops, v[start:i])
				start = i + 1
			}
		}
	}
	return append(hops, v[start:])
}

// parseXFFHop reads one X-Forwarded-For entry: a bare address.
func parseXFFHop(hop string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(hop))
	return a, err == nil
}

// parseForwardedHop reads the for= parameter of one RFC 7239
// forwarded-element, e.g. `for=192.0.2.60;proto=https` or
// `for="[2001:db8::17]:4711"`. An element without for=, or whose node is
// "unknown", obfuscated ("_hidden") or malformed, yields no address.
func parseForwardedHop(hop string) (netip.Addr, bool) {
	var node string
	found := false
	for _, pair := range strings.Split(hop, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
			continue
		}
		if found { // a repeated for= is malformed, not a choice
			return netip.Addr{}, false
		}
		node, found = strings.TrimSpace(v), true
	}
	if !found {
		return netip.Addr{}, false
	}
	if len(node) >= 2 && node[0] == '"' && node[len(node)-1] == '"' {
		node = strings.ReplaceAll(node[1:len(node)-1], `\`, "")
	}
	// A node is an address, optionally with a port; IPv6 is always in
	// brackets.
	if strings.HasPrefix(node, "[") {
		end := strings.IndexByte(node, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := node[end+1:]; rest != "" && !validNodePort(rest) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(node[1:end])
		return a, err == nil && a.Is6()
	}
	host, port, hasPort := strings.Cut(node, ":")
	if hasPort && !validNodePort(":"+port) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	return a, err == nil && a.Is4()
}

// validNodePort checks the ":port" of an RFC 7239 node: digits, or an
// obfuscated port ("_" and letters, digits, ".", "_", "-").
func validNodePort(p string) bool {
	if len(p) < 2 || p[0] != ':' {
		return false
	}
	p = p[1:]
	if p[0] == '_' {
		return strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
	}
	return len(p) <= 5 && strings.Trim(p, "0123456789") == ""
}

package hrgate

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseCIDR reads a CIDR ("10.0.0.0/8", "2001:db8::/32") or a single
// address, which stands for itself (/32 or /128). The prefix must be in
// canonical form: "10.1.2.3/24" is refused rather than silently widened.
// An error quotes s through Echo: the lists it reads come from callers,
// and config and API errors pass its message on as it is.
func ParseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", Echo(s))
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.1.2.0/24", Echo(s))
	}
	if p.Addr().Is4In6() {
		// An IPv4-mapped range is the IPv4 range it maps: clients are
		// matched by their unmapped address.
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q mixes IPv4-mapped and other IPv6 addresses; write the IPv4 range", Echo(s))
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", Echo(s), p.Masked())
	}
	return p, nil
}

// ParseCIDRs reads a list of CIDRs with ParseCIDR and returns them in
// canonical form, without duplicates, in their given order.
func ParseCIDRs(list []string) ([]string, error) {
	var out []string
	seen := make(map[netip.Prefix]bool)
	for _, s := range list {
		p, err := ParseCIDR(s)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p.String())
		}
	}
	return out, nil
}

// Allowlist is a parsed list of client networks, for checks on every
// request without parsing. The zero value allows any address.
type Allowlist struct {
	restricted bool
	prefixes   []netip.Prefix
}

// NewAllowlist parses cidrs as stored (canonical). An empty list allows
// any address; a list whose entries all fail to parse allows none, so a
// damaged record fails closed.
func NewAllowlist(cidrs []string) Allowlist {
	a := Allowlist{restricted: len(cidrs) > 0}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			a.prefixes = append(a.prefixes, p)
		}
	}
	return a
}

// Allows reports whether addr lies in the list; an invalid address passes
// no restricted list.
func (a Allowlist) Allows(addr netip.Addr) bool {
	if !a.restricted {
		return true
	}
	addr = addr.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

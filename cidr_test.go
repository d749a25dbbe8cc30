package hrgate_test

import (
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

func TestParseCIDR(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.0/24":         "10.1.2.0/24",
		"127.0.0.2":           "127.0.0.2/32",
		" 2001:db8::/32 ":     "2001:db8::/32",
		"::1":                 "::1/128",
		"::ffff:10.0.0.1":     "10.0.0.1/32",
		"0.0.0.0/0":           "0.0.0.0/0",
		"::ffff:10.9.0.0/112": "10.9.0.0/16",
	} {
		p, err := hrgate.ParseCIDR(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseCIDR(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.1.2.3/24", "10.0.0.0/33", "host.example", "::ffff:0.0.0.0/95", "::ffff:10.9.0.1/112", "10.0.0.0/8/1"} {
		if p, err := hrgate.ParseCIDR(in); err == nil {
			t.Errorf("ParseCIDR(%q) = %v, want an error", in, p)
		}
	}
}

// TestParseCIDRSecret: a secret pasted into a list of networks is named,
// not repeated, by the error, which config and API errors pass on.
func TestParseCIDRSecret(t *testing.T) {
	key, err := hrgate.GenerateAPIKey(hrgate.KeyLive, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{key, key + "/24", "10.0.0.0/8 " + key} {
		_, err := hrgate.ParseCIDR(in)
		if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "not repeated") {
			t.Errorf("ParseCIDR(%.12s…) error = %v; want the key named, not repeated", in, err)
		}
		if _, err := hrgate.ParseCIDRs([]string{"10.0.0.0/8", in}); err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("ParseCIDRs(…, %.12s…) error = %v; want the key not repeated", in, err)
		}
	}
}

func TestAllowlist(t *testing.T) {
	cidrs, err := hrgate.ParseCIDRs([]string{"127.0.0.2", "2001:db8::/32", "127.0.0.2/32"})
	if err != nil || len(cidrs) != 2 {
		t.Fatalf("ParseCIDRs = %v, %v", cidrs, err)
	}
	a := hrgate.NewAllowlist(cidrs)
	for addr, want := range map[string]bool{
		"127.0.0.2":        true,
		"::ffff:127.0.0.2": true, // an IPv4 client seen on a dual-stack socket
		"127.0.0.1":        false,
		"2001:db8::1":      true,
		"2001:db9::1":      false,
	} {
		if got := a.Allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allows(%s) = %v, want %v", addr, got, want)
		}
	}
	if !hrgate.NewAllowlist(nil).Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Error("an empty allowlist must allow any address")
	}
	if a.Allows(netip.Addr{}) {
		t.Error("an unknown client address must not pass an allowlist")
	}
	b := hrgate.NewAllowlist([]string{"10.1.0.0/16", "2001:db8::/32"})
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "::ffff:10.1.2.3": true, "2001:db8::1": true,
		"10.2.0.1": false, "127.0.0.1": false, "2001:db9::1": false,
	} {
		if got := b.Allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allows(%s) = %v, want %v", addr, got, want)
		}
	}
	// A damaged stored list fails closed rather than opening up.
	if hrgate.NewAllowlist([]string{"not a cidr"}).Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Error("an allowlist of unparseable entries allowed an address")
	}
}

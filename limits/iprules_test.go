package limits_test

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/hrgate/hrgate/limits"
)

// writeCountryDB writes a small MaxMind-format country database, shaped
// like GeoLite2-Country, mapping each network to a country code.
func writeCountryDB(t *testing.T, networks map[string]string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, code := range networks {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "country.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIPRules(t *testing.T) {
	geo := writeCountryDB(t, map[string]string{"198.51.100.0/24": "KP", "203.0.113.0/24": "DE", "2001:db8:1::/48": "KP"})
	rules, err := limits.NewIPRules(limits.IPRulesConfig{
		Allow: []string{"198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"},
		Block: []string{"203.0.113.66", "192.0.2.128/25"},
		GeoDB: geo, BlockCountries: []string{"KP"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rules.Close()
	tests := []struct {
		name   string
		addr   string
		ok     bool
		reason string
	}{
		{"Allowed", "203.0.113.5", true, ""},
		{"AllowedNoCountry", "192.0.2.5", true, ""},
		{"Blocked", "203.0.113.66", false, "block list"},
		{"BlockWinsOverAllow", "192.0.2.200", false, "block list"},
		{"MappedBlocked", "::ffff:203.0.113.66", false, "block list"},
		{"NotAllowed", "10.0.0.1", false, "allow list"},
		{"CountryBlocked", "198.51.100.9", false, "country KP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := rules.Check(netip.MustParseAddr(tt.addr))
			if ok != tt.ok || !strings.Contains(reason, tt.reason) {
				t.Fatalf("Check(%s) = %v, %q; want %v, %q", tt.addr, ok, reason, tt.ok, tt.reason)
			}
		})
	}

	for _, bad := range []limits.IPRulesConfig{
		{Block: []string{"10.0.0.1/8"}},
		{Allow: []string{"example.com"}},
		{BlockCountries: []string{"KP"}},
		{GeoDB: geo, BlockCountries: []string{"North Korea"}},
		{GeoDB: filepath.Join(t.TempDir(), "missing.mmdb"), BlockCountries: []string{"KP"}},
	} {
		if r, err := limits.NewIPRules(bad); err == nil {
			r.Close()
			t.Errorf("NewIPRules(%+v) accepted", bad)
		}
	}
}

// TestIPRulesZone checks that a zone on an address (a link-local peer,
// or a value a trusted proxy forwarded) does not take it out of a
// blocked network: netip prefixes contain no address with a zone.
func TestIPRulesZone(t *testing.T) {
	r, err := limits.NewIPRules(limits.IPRulesConfig{Block: []string{"2001:db8::/32", "fe80::/10", "10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"2001:db8::1%eth0", "fe80::1%1", "::ffff:10.1.2.3%x"} {
		if ok, _ := r.Check(netip.MustParseAddr(a)); ok {
			t.Errorf("%s escaped the block list", a)
		}
	}
}

package limits

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/hrgate/hrgate"
)

// IPRules are the global client address rules: a block list, an allow
// list (empty allows every address not blocked) and, with a MaxMind-format
// country database the operator supplies, blocked countries. A block
// always wins over an allow. IPRules are immutable: a reload builds new
// ones and swaps them in, so that requests in flight keep the rules they
// started with.
type IPRules struct {
	allow     hrgate.Allowlist
	block     []netip.Prefix
	countries map[string]bool
	geo       *maxminddb.Reader
}

// IPRulesConfig is what NewIPRules reads.
type IPRulesConfig struct {
	Allow []string
	Block []string
	// GeoDB is the path of a MaxMind-format database (GeoLite2-Country,
	// GeoIP2-Country or compatible); BlockCountries lists ISO 3166-1
	// alpha-2 codes to refuse. Both or neither.
	GeoDB          string
	BlockCountries []string
}

// NewIPRules parses and checks cfg. Its errors name the bad entry.
func NewIPRules(cfg IPRulesConfig) (*IPRules, error) {
	allow, err := hrgate.ParseCIDRs(cfg.Allow)
	if err != nil {
		return nil, fmt.Errorf("allow list: %w", err)
	}
	r := &IPRules{allow: hrgate.NewAllowlist(allow)}
	for _, s := range cfg.Block {
		p, err := hrgate.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("block list: %w", err)
		}
		r.block = append(r.block, p)
	}
	if (cfg.GeoDB == "") != (len(cfg.BlockCountries) == 0) {
		return nil, errors.New("blocking countries needs both a country database and a list of countries")
	}
	if cfg.GeoDB != "" {
		r.countries = make(map[string]bool)
		for _, c := range cfg.BlockCountries {
			if err := CheckCountry(c); err != nil {
				return nil, err
			}
			r.countries[c] = true
		}
		if r.geo, err = maxminddb.Open(cfg.GeoDB); err != nil {
			return nil, fmt.Errorf("country database %s: %w", cfg.GeoDB, err)
		}
	}
	return r, nil
}

// Close releases the country database.
func (r *IPRules) Close() error {
	if r == nil || r.geo == nil {
		return nil
	}
	return r.geo.Close()
}

// Check reports whether addr may connect, and if not, why (for the log
// and the audit trail; the client gets no reason).
func (r *IPRules) Check(addr netip.Addr) (ok bool, reason string) {
	if r == nil {
		return true, ""
	}
	if !addr.IsValid() {
		// A trusted proxy forwarded something that is no address: with
		// any rule in force, that must not pass as "not blocked".
		// (An allow list refuses it by itself.)
		if len(r.block) > 0 || r.geo != nil {
			return false, "client address unknown"
		}
	}
	// A zone (fe80::1%eth0) names an interface, not a network; with
	// it, no prefix would contain the address.
	addr = addr.Unmap().WithZone("")
	for _, p := range r.block {
		if p.Contains(addr) {
			return false, "address is on the block list"
		}
	}
	if !r.allow.Allows(addr) {
		return false, "address is not on the allow list"
	}
	if r.geo != nil {
		var rec struct {
			Country struct {
				ISOCode string `maxminddb:"iso_code"`
			} `maxminddb:"country"`
		}
		if err := r.geo.Lookup(addr).Decode(&rec); err != nil {
			// Fail closed: a database that cannot answer must not let
			// a blocked region through.
			return false, "country lookup failed"
		}
		if r.countries[rec.Country.ISOCode] {
			return false, "country " + rec.Country.ISOCode + " is blocked"
		}
	}
	return true, ""
}

// CheckCountry checks an ISO 3166-1 alpha-2 country code as a block list
// names it: two upper-case letters.
func CheckCountry(c string) error {
	if len(c) != 2 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code such as DE", c)
	}
	return nil
}

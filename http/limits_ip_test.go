package http_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
)

// TestIPRules blocks 127.0.0.1 and trusts the proxy 127.0.0.3: a forged
// forwarding header from an untrusted peer changes nothing, the same
// header from the proxy is honoured, and a reload swaps the rules without
// a restart, keeping them when the new ones are bad.
func TestIPRules(t *testing.T) {
	for _, header := range []string{config.ForwardedXFF, config.ForwardedRFC7239} {
		t.Run(header, func(t *testing.T) {
			db, g, key := openLimitsDB(t)
			cfg := limitsConfig(t)
			cfg.HTTP.TrustedProxies = []string{"127.0.0.3"}
			cfg.HTTP.ForwardedHeader = header
			cfg.Limits.Block = []string{"127.0.0.1"}
			srv, lim := startLimited(t, cfg, db, g, limits.NewMemory(nil))
			forward := func(addr string) []string {
				if header == config.ForwardedRFC7239 {
					return []string{"Forwarded", "for=" + addr + ";proto=https"}
				}
				return []string{"X-Forwarded-For", addr}
			}
			for _, tc := range []struct {
				name, src string
				hdr       []string
				want      int
			}{
				{"BlockedPeer", "127.0.0.1", nil, 403},
				{"OtherPeer", "127.0.0.2", nil, 200},
				{"BlockedPeerForgingCannotEscape", "127.0.0.1", forward("127.0.0.2"), 403},
				{"UntrustedPeerForgingCannotFrame", "127.0.0.2", forward("127.0.0.1"), 200},
				{"ProxyForwardsBlocked", "127.0.0.3", forward("127.0.0.1"), 403},
				{"ProxyForwardsOther", "127.0.0.3", forward("127.0.0.2"), 200},
				{"ProxyForwardsGarbage", "127.0.0.3", forward("bogus"), 403},
				{"ProbesAnswerAnyone", "127.0.0.1", nil, 200},
			} {
				t.Run(tc.name, func(t *testing.T) {
					path := "/v1/companies"
					if tc.name == "ProbesAnswerAnyone" {
						path = "/healthz"
					}
					r := call(t, fromAddr(t, srv.CertFile, tc.src), http.MethodGet, srv.URL()+path, key, tc.hdr...)
					if r.status != tc.want {
						t.Fatalf("from %s with %v: %d, want %d: %s", tc.src, tc.hdr, r.status, tc.want, r.body)
					}
				})
			}

			// Reload: unblock 127.0.0.1, block 127.0.0.2.
			c1, c2 := fromAddr(t, srv.CertFile, "127.0.0.1"), fromAddr(t, srv.CertFile, "127.0.0.2")
			next := cfg.Limits
			next.Block = []string{"127.0.0.2"}
			if err := lim.ReloadIPRules(next); err != nil {
				t.Fatal(err)
			}
			if r := call(t, c1, http.MethodGet, srv.URL()+"/v1/companies", key); r.status != 200 {
				t.Fatalf("unblocked by the reload: %d", r.status)
			}
			if r := call(t, c2, http.MethodGet, srv.URL()+"/v1/companies", key); r.status != 403 {
				t.Fatalf("blocked by the reload: %d", r.status)
			}
			bad := next
			bad.Block = []string{"127.0.0.1", "10.0.0.1/8"}
			if err := lim.ReloadIPRules(bad); err == nil {
				t.Fatal("a block list with a bad CIDR was loaded")
			}
			if r := call(t, c1, http.MethodGet, srv.URL()+"/v1/companies", key); r.status != 200 {
				t.Fatalf("after a refused reload: %d; the rules in force must stay", r.status)
			}
			if r := call(t, c2, http.MethodGet, srv.URL()+"/v1/companies", key); r.status != 403 {
				t.Fatalf("after a refused reload: %d; the rules in force must stay", r.status)
			}
		})
	}
}

// TestForwardedHeader reads RFC 7239 Forwarded from a trusted proxy as
// X-Forwarded-For is read, right to left, and ignores X-Forwarded-For when
// the proxies are said to write Forwarded: a client cannot satisfy a key's
// allowlist with either.
func TestForwardedHeader(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.SQLite(t))
	g := gate.New(db)
	mustConsumer(t, g, "payroll", "companies:*")
	_, key, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", AllowCIDRs: []string{"127.0.0.2/32", "::2/128"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.TrustedProxies = []string{"127.0.0.3"}
	cfg.HTTP.ForwardedHeader = config.ForwardedRFC7239
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	for _, tc := range []struct {
		name, src string
		hdr       []string
		want      int
	}{
		{"UntrustedPeerCannotForge", "127.0.0.1", []string{"Forwarded", "for=127.0.0.2"}, 401},
		{"TrustedProxyForwardsAllowed", "127.0.0.3", []string{"Forwarded", "for=127.0.0.2"}, 200},
		{"QuotedWithPort", "127.0.0.3", []string{"Forwarded", `for="127.0.0.2:4711";proto=https;by=127.0.0.3`}, 200},
		{"IPv6InBrackets", "127.0.0.3", []string{"Forwarded", `for="[::2]:4711"`}, 200},
		{"CaseInsensitiveName", "127.0.0.3", []string{"Forwarded", "For=127.0.0.2"}, 200},
		{"RightmostUntrustedHopCounts", "127.0.0.3", []string{"Forwarded", "for=127.0.0.2, for=127.0.0.1"}, 401},
		{"ProxyChainSkipsTrustedHops", "127.0.0.3", []string{"Forwarded", "for=127.0.0.2, for=127.0.0.3"}, 200},
		{"UnknownFailsClosed", "127.0.0.3", []string{"Forwarded", "for=127.0.0.2, for=unknown"}, 401},
		{"ObfuscatedFailsClosed", "127.0.0.3", []string{"Forwarded", "for=_hidden"}, 401},
		{"UnbracketedIPv6FailsClosed", "127.0.0.3", []string{"Forwarded", `for="::2"`}, 401},
		{"RepeatedForFailsClosed", "127.0.0.3", []string{"Forwarded", "for=127.0.0.1;for=127.0.0.2"}, 401},
		{"XForwardedForIsNotRead", "127.0.0.3", []string{"X-Forwarded-For", "127.0.0.2"}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, fromAddr(t, srv.CertFile, tc.src), http.MethodGet, srv.URL()+"/v1/companies", key, tc.hdr...)
			if r.status != tc.want {
				t.Fatalf("from %s with %v: %d, want %d: %s", tc.src, tc.hdr, r.status, tc.want, r.body)
			}
		})
	}
}

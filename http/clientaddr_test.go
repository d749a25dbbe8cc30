package http_test

import (
	"context"
	"github.com/hrgate/hrgate/internal/storetest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
)

// fromAddr returns a client whose connections leave from the loopback
// address src, so the server sees src as the TCP peer.
func fromAddr(t *testing.T, certFile, src string) *http.Client {
	t.Helper()
	c := tlsClient(t, certFile, nil)
	tr := c.Transport.(*http.Transport)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	tr.DialContext = d.DialContext
	return c
}

func TestKeyAllowlistOverTheNetwork(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.SQLite(t))
	g := gate.New(db)
	mustConsumer(t, g, "payroll", "companies:*")
	_, key, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", AllowCIDRs: []string{"127.0.0.2/32"}})
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.TrustedProxies = []string{"127.0.0.3"}
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	for _, tc := range []struct {
		name, src, xff string
		want           int
	}{
		{"AllowedPeer", "127.0.0.2", "", 200},
		{"OtherPeer", "127.0.0.1", "", 401},
		{"UntrustedPeerCannotForge", "127.0.0.1", "127.0.0.2", 401},
		{"UntrustedPeerForgingDoesNotLockOut", "127.0.0.2", "127.0.0.9", 200},
		{"TrustedProxyForwardsAllowed", "127.0.0.3", "127.0.0.2", 200},
		{"TrustedProxyForwardsOther", "127.0.0.3", "127.0.0.1", 401},
		{"RightmostUntrustedHopCounts", "127.0.0.3", "127.0.0.2, 127.0.0.1", 401},
		{"ProxyChainSkipsTrustedHops", "127.0.0.3", "127.0.0.2, 127.0.0.3", 200},
		{"GarbageFailsClosed", "127.0.0.3", "127.0.0.2, bogus", 401},
		{"TrustedProxyWithoutHeaderIsTheClient", "127.0.0.3", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/v1/companies", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			resp, err := fromAddr(t, srv.CertFile, tc.src).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("from %s with X-Forwarded-For %q: status %d, want %d: %s", tc.src, tc.xff, resp.StatusCode, tc.want, body)
			}
		})
	}
}

func TestTrustedProxiesAreValidated(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.TrustedProxies = []string{"10.0.0.1/8"}
	if err := cfg.Validate(); err == nil {
		t.Fatal("a CIDR with host bits was accepted")
	}
}

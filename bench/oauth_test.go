package bench_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"github.com/hrgate/hrgate/internal/storetest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/oauth"
	"github.com/hrgate/hrgate/sandbox"
	"github.com/hrgate/hrgate/sqlstore"
)

// oauthBench is a seeded store, a gate with an authority, one OAuth client
// of the payroll consumer, and a server built over them.
type oauthBench struct {
	db       *sqlstore.DB
	gate     *gate.Gate
	srv      *hrhttp.Server
	clientID string
	secret   string
	empID    string
}

func newOAuthBench(b *testing.B, alg string, listen bool) *oauthBench {
	b.Helper()
	ctx := context.Background()
	db := storetest.Open(b, storetest.SQLite(b))
	err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
		return sandbox.Generate(ctx, sandbox.Options{Companies: 2, Employees: 200, Seed: 1, Now: time.Now().UTC()}, put)
	})
	if err != nil {
		b.Fatal(err)
	}
	a, err := oauth.New(db, oauth.Config{
		TokenTTL: 15 * time.Minute, Algorithm: alg, KeyRotation: 24 * time.Hour, KeyPublishAhead: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	g := gate.New(db, gate.WithAuthority(a))
	if _, err := g.CreateConsumer(ctx, "payroll", "", []string{"employees:read:identity,employment,compensation employees:read_masked:banking companies:*"}); err != nil {
		b.Fatal(err)
	}
	cl, secret, err := g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll", AllowCIDRs: []string{"127.0.0.0/8"}})
	if err != nil {
		b.Fatal(err)
	}
	emps, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Page: hrgate.Page{Limit: 1}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if listen {
		if err := srv.Open(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Close() })
	} else if _, err := a.BindIssuer("https://127.0.0.1:8443"); err != nil {
		b.Fatal(err)
	}
	return &oauthBench{db: db, gate: g, srv: srv, clientID: cl.ID, secret: secret, empID: emps[0].ID}
}

func (o *oauthBench) issue(b *testing.B) string {
	b.Helper()
	tok, err := o.gate.IssueToken(context.Background(), gate.ClientAuth{ClientID: o.clientID, Secret: o.secret}, "", loopback)
	if err != nil {
		b.Fatal(err)
	}
	return tok.Value
}

var loopback = netip.MustParseAddr("127.0.0.1")

// perSecond reports b.N operations over the timed part as a rate.
func perSecond(b *testing.B, start time.Time, unit string) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), unit)
}

// BenchmarkTokenIssueHTTPS measures client_credentials tokens issued per
// second by a real server over TLS: 32 concurrent keep-alive clients, each
// POSTing /oauth2/token with client_secret_basic.
func BenchmarkTokenIssueHTTPS(b *testing.B) {
	for _, alg := range []string{oauth.EdDSA, oauth.ES256} {
		b.Run(alg, func(b *testing.B) {
			o := newOAuthBench(b, alg, true)
			pem, err := os.ReadFile(o.srv.CertFile)
			if err != nil {
				b.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64,
			}}
			body := url.Values{"grant_type": {"client_credentials"}}.Encode()
			tokenURL := o.srv.URL() + "/oauth2/token"
			var failed atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(o.clientID, o.secret)
					resp, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
				}
			})
			perSecond(b, start, "tokens/s")
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d requests failed", n)
			}
		})
	}
}

// BenchmarkTokenIssueHandler is the same without sockets and TLS: the
// middleware chain, form parsing, client authentication and signing.
func BenchmarkTokenIssueHandler(b *testing.B) {
	o := newOAuthBench(b, oauth.EdDSA, false)
	h := o.srv.Handler()
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(o.clientID, o.secret)
			req.RemoteAddr = "127.0.0.1:5000"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	perSecond(b, start, "tokens/s")
}

// BenchmarkTokenVerify measures what a bearer JWT costs per request.
// First: the signature check of a token seen for the first time (once
// per token and key-set reload, i.e. about once a minute per token).
// Cached: the same token again, the steady state of a client that reuses
// its token for its 15 minutes. Authenticate: the whole gate step for a
// token (epoch query, revocation set, client, address, grant), next to
// the same step for an API key.
func BenchmarkTokenVerify(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []string{oauth.EdDSA, oauth.ES256} {
		b.Run(alg+"/First", func(b *testing.B) {
			o := newOAuthBench(b, alg, false)
			a := o.gate.Authority()
			tokens := make([]string, b.N)
			for i := range tokens {
				tokens[i] = o.issue(b)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := a.Verify(ctx, tokens[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	o := newOAuthBench(b, oauth.EdDSA, false)
	token := o.issue(b)
	b.Run("EdDSA/Cached", func(b *testing.B) {
		a := o.gate.Authority()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Authenticate/JWT", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := o.gate.Authenticate(ctx, token, loopback); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Authenticate/APIKey", func(b *testing.B) {
		_, key, err := o.gate.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := o.gate.Authenticate(ctx, key, loopback); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkEmployeeReadJWT is BenchmarkEmployeeRead with a bearer JWT
// instead of an API key.
func BenchmarkEmployeeReadJWT(b *testing.B) {
	o := newOAuthBench(b, oauth.EdDSA, false)
	h := o.srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/employees/"+o.empID, nil)
	req.Header.Set("Authorization", "Bearer "+o.issue(b))
	req.RemoteAddr = "127.0.0.1:5000"
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

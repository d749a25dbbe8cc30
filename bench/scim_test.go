package bench_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/cputime"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
)

// BenchmarkSCIMCreate measures SCIM creates per second (the target is
// 1,000/s) through the public server's whole handler: the middleware
// chain, source authentication, the SCIM mapping, the sync engine's
// transaction (employee, change event, SCIM state), the run record, and
// the request's audit event, durable before the answer, as `serve` runs
// them. The store is SQLite with field encryption on; each user carries
// the identity, employment and contact groups, as an identity provider
// sends them. "sequential" sends one request at a time; "concurrent"
// sends from 8 goroutines per CPU. cpu-ns/op is the process CPU time per
// create, the figure to compare on a machine shared with other work.
func BenchmarkSCIMCreate(b *testing.B) {
	for _, mode := range []struct {
		name        string
		parallelism int
	}{{"sequential", 0}, {"concurrent", 8}} {
		b.Run(mode.name, func(b *testing.B) {
			h, token := openSCIMServer(b)
			var n atomic.Int64
			create := func() {
				i := n.Add(1)
				body := fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],`+
					`"externalId":"ext-%[1]d","userName":"user%[1]d@example.com","active":true,"title":"Engineer",`+
					`"name":{"givenName":"Given%[1]d","familyName":"Family"},"emails":[{"value":"user%[1]d@example.com","type":"work","primary":true}],`+
					`"phoneNumbers":[{"value":"+49 30 1234%[1]d","type":"mobile"}],`+
					`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"%[1]d","department":"R&D"}}`, i)
				req := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/scim+json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Errorf("create %d: %d %s", i, w.Code, w.Body.Bytes())
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			cputime.Report(b, func() {
				if mode.parallelism == 0 {
					for range b.N {
						create()
					}
				} else {
					b.SetParallelism(mode.parallelism)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							create()
						}
					})
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
		})
	}
}

// openSCIMServer returns the handler of a public server on a fresh
// SQLite store with encryption on and the audit trail in a file of its
// own, and the token of a SCIM source of a company.
func openSCIMServer(b *testing.B) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	dsn := storetest.SQLite(b)
	db := storetest.Open(b, dsn)
	now := time.Now().UTC()
	id, err := hrgate.NewID(hrgate.PrefixCompany, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{{ID: id, Slug: "acme", Name: "Acme", Country: "DE", CreatedAt: now, ModifiedAt: now}}}); err != nil {
		b.Fatal(err)
	}
	st, err := sqlstore.OpenAuditLog(ctx, dsn+".audit", sqlstore.Options{AutoMigrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	keys, err := audit.LoadKeys(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	trail, err := audit.Open(ctx, st, keys, audit.Options{Instance: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = trail.Close() })
	svc := sources.New(db, sources.WithAudit(trail))
	_, cred, err := svc.Create(ctx, "idp", "acme", hrgate.SourceSCIM)
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	srv, err := hrhttp.NewServer(ctx, cfg, db, gate.New(db), slog.New(slog.DiscardHandler), hrhttp.WithSources(svc), hrhttp.WithAudit(trail))
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler(), cred.Token
}

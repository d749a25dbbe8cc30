// Package bench holds hrgate's benchmarks and load scripts. The Go
// benchmarks here measure in-process costs; readpath.sh and seed.sh
// measure the binary over real sockets.
package bench_test

import (
	"context"
	"github.com/hrgate/hrgate/internal/storetest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/sandbox"
	"github.com/hrgate/hrgate/sqlstore"
)

// BenchmarkEmployeeRead measures one authenticated, projected single
// employee read through the whole middleware chain, without the network.
func BenchmarkEmployeeRead(b *testing.B) { benchmarkEmployeeRead(b, false) }

// BenchmarkEmployeeReadAudited is BenchmarkEmployeeRead with the audit
// trail on: each read waits for its event to be committed, with fsync, to
// a SQLite audit file.
func BenchmarkEmployeeReadAudited(b *testing.B) { benchmarkEmployeeRead(b, true) }

func benchmarkEmployeeRead(b *testing.B, audited bool) {
	ctx := context.Background()
	dsn := storetest.SQLite(b)
	db := storetest.Open(b, dsn)
	err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
		return sandbox.Generate(ctx, sandbox.Options{Companies: 2, Employees: 500, Seed: 1, Now: time.Now().UTC()}, put)
	})
	if err != nil {
		b.Fatal(err)
	}
	var gateOpts []gate.Option
	var srvOpts []hrhttp.Option
	if audited {
		st, err := sqlstore.OpenAuditLog(ctx, dsn+".audit", sqlstore.Options{AutoMigrate: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		keys, err := audit.LoadKeys(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		trail, err := audit.Open(ctx, st, keys, audit.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = trail.Close() })
		gateOpts, srvOpts = append(gateOpts, gate.WithAudit(trail)), append(srvOpts, hrhttp.WithAudit(trail))
	}
	g := gate.New(db, gateOpts...)
	if _, err := g.CreateConsumer(ctx, "payroll", "", []string{"employees:read:identity,employment,compensation employees:read_masked:banking companies:*"}); err != nil {
		b.Fatal(err)
	}
	_, key, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
	if err != nil {
		b.Fatal(err)
	}
	emps, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Page: hrgate.Page{Limit: 1}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler), srvOpts...)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/employees/"+emps[0].ID, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.RemoteAddr = "127.0.0.1:5000"
	b.ReportAllocs()
	b.SetParallelism(16) // 32 goroutines on 2 cores, like 32 connections
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

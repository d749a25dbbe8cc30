// Package bench holds hrgate's benchmarks and load scripts. The Go
// benchmarks here measure in-process costs; readpath.sh and seed.sh
// measure the binary over real sockets.
package bench_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/cputime"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
	"github.com/hrgate/hrgate/sandbox"
	"github.com/hrgate/hrgate/sqlstore"
)

// Grants the read benchmarks use: the demo's payroll consumer (two
// encrypted groups, one of them masked) and one granted every group (five
// encrypted groups).
const (
	payrollGrant = "employees:read:identity,employment,compensation employees:read_masked:banking companies:*"
	allGrant     = "employees:read:identity,employment,contact,personal,compensation,banking,government_id companies:*"
)

// readEnv is a sandbox of 2 × 500 employees behind the whole middleware
// chain, with field encryption (a real keyring) or without
// (sqlstore.Options.InsecurePlaintext).
type readEnv struct {
	handler http.Handler
	keys    map[string]string // by grant
	ids     []string
}

func openReadEnv(b *testing.B, encrypted bool) *readEnv { return openReadEnvWith(b, encrypted, false) }

// openReadEnvWith is openReadEnv with the audit trail on or off: on, each
// read waits for its event to be committed, with fsync, to a SQLite audit
// file.
func openReadEnvWith(b *testing.B, encrypted, audited bool) *readEnv {
	b.Helper()
	return openReadEnvLimited(b, encrypted, audited, nil)
}

// openReadEnvLimited is openReadEnvWith with the public API's limits on
// over limiter (nil: off). Every limit is far above what the benchmark
// sends, so that every request is decided and none refused: what is
// measured is the cost of deciding.
func openReadEnvLimited(b *testing.B, encrypted, audited bool, limiter limits.Limiter) *readEnv {
	b.Helper()
	ctx := context.Background()
	dsn := storetest.SQLite(b)
	var db *sqlstore.DB
	if encrypted {
		db = storetest.Open(b, dsn)
	} else {
		db = storetest.OpenWith(b, dsn, nil, sqlstore.Options{InsecurePlaintext: true})
	}
	err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
		return sandbox.Generate(ctx, sandbox.Options{Companies: 2, Employees: 500, Seed: 1, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, put)
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
	env := &readEnv{keys: map[string]string{}}
	for name, grant := range map[string]string{"payroll": payrollGrant, "all": allGrant} {
		if _, err := g.CreateConsumer(ctx, name, "", []string{grant}); err != nil {
			b.Fatal(err)
		}
		_, key, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: name})
		if err != nil {
			b.Fatal(err)
		}
		env.keys[name] = key
	}
	emps, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies})
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range emps {
		env.ids = append(env.ids, e.ID)
	}
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	if limiter != nil {
		unlimited := config.RateLimit{Rate: "1000000/s", Burst: 1_000_000, Quota: "1000000000/day"}
		cfg.Limits.Credential, cfg.Limits.Consumer, cfg.Limits.Global = unlimited, unlimited, unlimited
		cfg.Limits.MaxConcurrent = 10000
		cfg.Limits.KeyPrefix = "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
		lim, err := hrhttp.NewLimits(cfg.Limits, limiter, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			b.Fatal(err)
		}
		srvOpts = append(srvOpts, hrhttp.WithLimits(lim))
	}
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler), srvOpts...)
	if err != nil {
		b.Fatal(err)
	}
	env.handler = srv.Handler()
	return env
}

// run serves path to the consumer's key from 32 goroutines (on 2 cores,
// like 32 connections).
func (env *readEnv) run(b *testing.B, consumer string, path func(i int) string) {
	b.Helper()
	key := env.keys[consumer]
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	cputime.Report(b, func() { env.runParallel(b, key, path) })
}

func (env *readEnv) runParallel(b *testing.B, key string, path func(i int) string) {
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path(i), nil)
			req.Header.Set("Authorization", "Bearer "+key)
			req.RemoteAddr = "127.0.0.1:5000"
			w := httptest.NewRecorder()
			env.handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			i++
		}
	})
}

// BenchmarkEmployeeRead measures one authenticated, projected single
// employee read through the whole middleware chain, without the network,
// with field encryption and without it in the same run. The read
// decrypts only the groups the grant lets out: two for payroll, five for
// a grant of every group. Data keys are cached by the keyring, as in a
// running server.
func BenchmarkEmployeeRead(b *testing.B) {
	// Both stores are open during every run, so that neither pays for
	// the other's memory alone.
	envs := map[string]*readEnv{"plaintext": openReadEnv(b, false), "encrypted": openReadEnv(b, true)}
	for _, consumer := range []string{"payroll", "all"} {
		for _, mode := range []string{"plaintext", "encrypted"} {
			env := envs[mode]
			b.Run(mode+"/"+consumer, func(b *testing.B) {
				env.run(b, consumer, func(i int) string { return "/v1/employees/" + env.ids[(i*7919)%len(env.ids)] })
			})
		}
	}
}

// BenchmarkEmployeeList measures a page of 100 employees, every group
// granted, with and without field encryption.
func BenchmarkEmployeeList(b *testing.B) {
	envs := map[string]*readEnv{"plaintext": openReadEnv(b, false), "encrypted": openReadEnv(b, true)}
	for _, mode := range []string{"plaintext", "encrypted"} {
		env := envs[mode]
		b.Run(mode, func(b *testing.B) {
			env.run(b, "all", func(int) string { return "/v1/employees?limit=100" })
		})
	}
}

// BenchmarkEmployeeReadAudited measures the single-employee read of the
// payroll consumer, encrypted, with the audit trail off and on in the
// same run.
func BenchmarkEmployeeReadAudited(b *testing.B) {
	for _, mode := range []struct {
		name    string
		audited bool
	}{{"audit-off", false}, {"audit-on", true}} {
		env := openReadEnvWith(b, true, mode.audited)
		b.Run(mode.name, func(b *testing.B) {
			env.run(b, "payroll", func(i int) string { return "/v1/employees/" + env.ids[(i*7919)%len(env.ids)] })
		})
	}
}

// BenchmarkEmployeeReadLimited measures the single-employee read of the
// payroll consumer, encrypted, with the limits off, on in memory, and on
// in Redis (with HRGATE_TEST_REDIS) in the same run: three rules
// (credential, consumer, global) decided per request, in one Redis round
// trip.
func BenchmarkEmployeeReadLimited(b *testing.B) {
	modes := []struct {
		name    string
		limiter func(b *testing.B) limits.Limiter
	}{
		{"limits-off", func(*testing.B) limits.Limiter { return nil }},
		{"limits-memory", func(*testing.B) limits.Limiter { return limits.NewMemory(nil) }},
		{"limits-redis", func(b *testing.B) limits.Limiter {
			url := os.Getenv("HRGATE_TEST_REDIS")
			if url == "" {
				return nil
			}
			client, err := limits.NewRedisClient(url, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			f := limits.NewFailover(limits.NewRedis(client), func(ctx context.Context) error { return client.Ping(ctx).Err() },
				1, limits.NewMemory(nil), nil)
			b.Cleanup(func() { _ = f.Close(); _ = client.Close() })
			return f
		}},
	}
	for _, mode := range modes {
		limiter := mode.limiter(b)
		if limiter == nil && mode.name == "limits-redis" {
			b.Log("HRGATE_TEST_REDIS is not set; skipping the Redis limiter")
			continue
		}
		env := openReadEnvLimited(b, true, false, limiter)
		b.Run(mode.name, func(b *testing.B) {
			env.run(b, "payroll", func(i int) string { return "/v1/employees/" + env.ids[(i*7919)%len(env.ids)] })
			if f, ok := limiter.(*limits.Failover); ok && f.Stats().Fallbacks > 0 {
				b.Fatalf("%d decisions were made locally: Redis was not measured", f.Stats().Fallbacks)
			}
		})
	}
}

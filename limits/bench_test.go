package limits_test

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hrgate/hrgate/internal/cputime"
	"github.com/hrgate/hrgate/limits"
)

// rulesFor returns the four levels a request checks, as the middleware
// builds them: credential and consumer (a rate and a daily quota each),
// route class and global (a rate each). The limits are generous so that
// the benchmarks measure admissions, the dearer path (a refusal writes
// nothing). A key may take decisions faster than the highest rate a
// configuration may set (1,000,000/s), so the burst is beyond what one
// may set: large enough to cover any run.
func rulesFor(prefix string, cred int) []limits.Rule {
	rate := limits.Limit{Rate: 1e6, Burst: 1 << 40}
	rateAndQuota := limits.Limit{Rate: 1e6, Burst: 1 << 40, Quota: 1e12}
	return []limits.Rule{
		{Key: prefix + "cred:" + strconv.Itoa(cred), Limit: rateAndQuota},
		{Key: prefix + "cons:" + strconv.Itoa(cred%16), Limit: rateAndQuota},
		{Key: prefix + "route:list", Limit: rate},
		{Key: prefix + "global", Limit: rate},
	}
}

// BenchmarkMemory measures in-memory decisions over four rules from
// parallel goroutines, each its own credential, all sharing the route
// class and global rules as concurrent requests do.
func BenchmarkMemory(b *testing.B) {
	for _, inflight := range []int{runtime.GOMAXPROCS(0), 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			m := limits.NewMemory(nil)
			var n atomic.Int64
			b.SetParallelism(max(1, inflight/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				rules := rulesFor("", int(n.Add(1)))
				for pb.Next() {
					if d, _ := m.Allow(ctx, rules); !d.Allowed {
						b.Fatal("refused", d)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

// BenchmarkRedis measures decisions over four rules against the test
// Redis with many in flight, as when hrgate serves many connections:
// concurrent decisions share round trips (see Redis). It reports the
// commands and socket writes per decision, at most 1 each, and the CPU
// time per decision of this process (hrgate's side) and of the Redis
// server (from INFO, so any other client of a shared server counts too):
// on a machine shared with other work, wall time per decision includes
// the time spent waiting for a CPU, CPU time does not.
func BenchmarkRedis(b *testing.B) {
	for _, inflight := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			w := new(wire)
			par := max(1, inflight/runtime.GOMAXPROCS(0))
			l, client := newRedisLimiter(b, 0, w)
			// The script reaches the server before the clock starts.
			if _, err := l.Allow(ctx, rulesFor("", 0)); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(par)
			b.ReportAllocs()
			w.reset()
			cpu, redisCPU := cputime.Process(), serverCPU(b, client)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rules := rulesFor("", int(n.Add(1)))
				for pb.Next() {
					if d, err := l.Allow(ctx, rules); err != nil || !d.Allowed {
						b.Fatal(d, err)
					}
				}
			})
			b.StopTimer()
			cpu, redisCPU = cputime.Process()-cpu, serverCPU(b, client)-redisCPU
			cmds, _, writes := w.reset()
			per := func(v float64) float64 { return v / float64(b.N) }
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(per(float64(cmds)), "cmds/decision")
			b.ReportMetric(per(float64(writes)), "writes/decision")
			b.ReportMetric(per(float64(cpu.Nanoseconds())), "cpu-ns/decision")
			b.ReportMetric(per(float64(redisCPU.Nanoseconds())), "redis-cpu-ns/decision")
		})
	}
}

// serverCPU returns the CPU time (user and system) the Redis server has
// used since it started.
func serverCPU(tb testing.TB, client *redis.Client) time.Duration {
	tb.Helper()
	info, err := client.Info(ctx, "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total float64
	for line := range strings.Lines(info) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				tb.Fatalf("INFO cpu: %s: %v", line, err)
			}
			total += v
		}
	}
	return time.Duration(total * float64(time.Second))
}

// TestMemoryAllowAllocatesNothing: a decision over keys the limiter
// already holds allocates nothing, so that the read path's garbage does
// not grow with its rate limits.
func TestMemoryAllowAllocatesNothing(t *testing.T) {
	m := limits.NewMemory(nil)
	rules := rulesFor("", 1)
	if _, err := m.Allow(ctx, rules); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Allow(ctx, rules) }); n != 0 {
		t.Fatalf("a decision allocates %v times; want 0", n)
	}
}

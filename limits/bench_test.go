package limits_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

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
// Redis with many in flight, as when hrgate serves many connections: one
// go-redis connection per caller, so that none waits for the pool. It
// reports the commands sent per decision, which must be 1 (EVALSHA).
func BenchmarkRedis(b *testing.B) {
	for _, inflight := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			w := new(wire)
			par := max(1, inflight/runtime.GOMAXPROCS(0))
			l, _ := newRedisLimiter(b, par*runtime.GOMAXPROCS(0), w)
			// The script reaches the server before the clock starts.
			if _, err := l.Allow(ctx, rulesFor("", 0)); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(par)
			b.ReportAllocs()
			w.reset()
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
			cmds, _, _ := w.reset()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(float64(cmds)/float64(b.N), "cmds/decision")
		})
	}
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

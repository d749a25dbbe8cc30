package limits_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hrgate/hrgate/limits"
)

// rulesFor returns the four levels a request checks: credential,
// consumer, route class and global, with generous limits so that the
// benchmark measures decisions, not refusals.
func rulesFor(prefix string, cred int) []limits.Rule {
	generous := limits.Limit{Rate: 1e6, Burst: 1e6, Quota: 1e12}
	return []limits.Rule{
		{Key: prefix + "cred:" + strconv.Itoa(cred), Limit: generous},
		{Key: prefix + "cons:" + strconv.Itoa(cred%16), Limit: generous},
		{Key: prefix + "route:list", Limit: limits.Limit{Rate: 1e6, Burst: 1e6}},
		{Key: prefix + "global", Limit: limits.Limit{Rate: 1e6, Burst: 1e6}},
	}
}

// BenchmarkMemory measures in-memory decisions over four rules from
// parallel goroutines, each its own credential.
func BenchmarkMemory(b *testing.B) {
	m := limits.NewMemory(nil)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rules := rulesFor("", int(n.Add(1)))
		for pb.Next() {
			if d, _ := m.Allow(ctx, rules); !d.Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkRedis measures decisions over four rules against the test
// Redis: one round trip each, 64 concurrent callers.
func BenchmarkRedis(b *testing.B) {
	l := limits.NewRedis(newClient(b, redisURL(b)))
	p := prefix()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rules := rulesFor(p, int(n.Add(1)))
		for pb.Next() {
			if d, err := l.Allow(ctx, rules); err != nil || !d.Allowed {
				b.Fatal(d, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

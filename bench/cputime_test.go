package bench_test

import (
	"testing"

	"github.com/hrgate/hrgate/internal/cputime"
)

// reportCPU reports the process CPU time (user and system, every thread)
// per operation of the benchmark fn runs: on a machine shared with other
// work, wall time per operation includes the time spent waiting for a
// CPU, CPU time does not, so ratios between two variants measured in the
// same run stay meaningful.
func reportCPU(b *testing.B, fn func()) {
	b.Helper()
	before := cputime.Process()
	fn()
	if cpu := cputime.Process() - before; b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

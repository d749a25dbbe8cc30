package cputime

import "testing"

// Report runs fn, the timed part of benchmark b, and reports the process
// CPU time (user and system, every thread) per operation beside it as
// cpu-ns/op: on a machine shared with other work, wall time per operation
// includes the time spent waiting for a CPU, CPU time does not, so ratios
// between two variants measured in the same run stay meaningful.
func Report(b *testing.B, fn func()) {
	b.Helper()
	before := Process()
	fn()
	if cpu := Process() - before; b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

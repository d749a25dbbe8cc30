//go:build unix

package bench_test

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU reports the process CPU time (user and system, every thread)
// per operation of the benchmark fn runs: on a machine shared with other
// work, wall time per operation includes the time spent waiting for a
// CPU, CPU time does not, so ratios between two variants measured in the
// same run stay meaningful.
func reportCPU(b *testing.B, fn func()) {
	b.Helper()
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	fn()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(syscall.TimevalToNsec(after.Utime) - syscall.TimevalToNsec(before.Utime) +
		syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Stime))
	if b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// processCPU returns the CPU time the process has used, every thread.
func processCPU() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(syscall.TimevalToNsec(u.Utime) + syscall.TimevalToNsec(u.Stime))
}

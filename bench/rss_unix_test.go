//go:build unix

package bench_test

import (
	"runtime"
	"syscall"
	"testing"
)

// reportPeakRSS reports the peak resident set size of the process so
// far, in MB.
func reportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return
	}
	kb := float64(ru.Maxrss) // KiB on Linux, bytes on Darwin
	if runtime.GOOS == "darwin" {
		kb /= 1024
	}
	b.ReportMetric(kb/1024, "peak-rss-MB")
}

//go:build unix

package sqlstore_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time, user and system, of the process so far:
// the move's own once the appends have returned, including the kernel's
// work of its writes, which instruction counts leave out.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}

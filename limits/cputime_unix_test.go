//go:build unix

package limits_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system, every thread) this
// process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}

//go:build !unix

package sqlstore_test

import "time"

// processCPU is zero where getrusage(2) is missing: the benchmarks'
// cpu-ns/op then reads 0.
func processCPU() time.Duration { return 0 }

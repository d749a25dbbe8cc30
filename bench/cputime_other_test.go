//go:build !unix

package bench_test

import (
	"testing"
	"time"
)

func reportCPU(b *testing.B, fn func()) { fn() }

// processCPU is zero where getrusage(2) is missing.
func processCPU() time.Duration { return 0 }

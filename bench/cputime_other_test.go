//go:build !unix

package bench_test

import "testing"

func reportCPU(b *testing.B, fn func()) { fn() }

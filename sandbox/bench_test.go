package sandbox_test

import (
	"context"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sandbox"
)

// BenchmarkGenerate100k measures generation alone: one company of 100,000
// employees with their time off, emitted to a sink that discards it.
func BenchmarkGenerate100k(b *testing.B) {
	const employees = 100_000
	o := sandbox.Options{Companies: 1, Employees: employees, Seed: 1, Now: testNow}
	discard := func(*hrgate.Batch) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := sandbox.Generate(context.Background(), o, discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(employees)*float64(b.N)/b.Elapsed().Seconds(), "employees/s")
}

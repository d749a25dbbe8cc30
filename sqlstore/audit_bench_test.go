package sqlstore_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/cputime"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// BenchmarkJournalMove measures the SQLite journal's mover alone: the
// move into the tables of events appended by 64 concurrent callers (so
// in frames of many events, as under load), in one transaction of 2,048
// or 16,384 events. The appends are not timed; ns/op is per event moved.
// The mover is stopped (never), so each move is the benchmark's own.
// cpu-ns/op is the process's CPU time during the moves, per event.
// Each event names one of 1,000 records, like the read benchmark's
// employees. It runs on one goroutine, so that under callgrind
// (-test.cpu 1) its instruction count per event is steady.
func BenchmarkJournalMove(b *testing.B) {
	for _, per := range []int{2048, 16384} {
		b.Run(strconv.Itoa(per), func(b *testing.B) {
			sqlstore.SetJournalTuningForTest(b, never, 1<<40, 1<<40)
			st := openTrail(b, storetest.SQLite(b))
			l := openTrailLog(b, st, "bench")
			n := 0
			var cpu time.Duration
			b.ResetTimer()
			for moved := 0; moved < b.N; moved += per {
				b.StopTimer()
				appendConcurrently(b, l.Record, n, per)
				n += per
				b.StartTimer()
				before := cputime.Process()
				if err := st.FlushAudit(context.Background()); err != nil {
					b.Fatal(err)
				}
				cpu += cputime.Process() - before
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
		})
	}
}

// appendConcurrently records events from to from+n from 64 goroutines.
func appendConcurrently(b *testing.B, record func(context.Context, *hrgate.AuditEvent) error, from, n int) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ev := accessEvent(i)
				ev.RecordIDs = []string{fmt.Sprintf("emp_%05d", i%1000)}
				if err := record(context.Background(), ev); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := from; i < from+n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// BenchmarkAuditScan measures the store's side of `hrgate audit verify`
// on SQLite: ScanAuditRows over a trail of 20,000 events, each with its
// record index entry, on one goroutine. ns/op is per event read;
// cpu-ns/op is the process's CPU time per event, which other work on the
// machine does not change.
func BenchmarkAuditScan(b *testing.B) {
	const events = 20_000
	sqlstore.SetJournalTuningForTest(b, never, 1<<40, 1<<40)
	st := openTrail(b, storetest.SQLite(b))
	l := openTrailLog(b, st, "bench")
	appendConcurrently(b, l.Record, 0, events)
	if err := st.FlushAudit(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cputime.Report(b, func() {
		for read := 0; read < b.N; read += events {
			n := 0
			err := st.ScanAuditRows(context.Background(), 1, math.MaxInt64, func(r *hrgate.AuditScanRow) error {
				if len(r.Body) == 0 || len(r.Seal) != 96 || len(r.Records) != 1 {
					return fmt.Errorf("event %d read wrong", r.Seq)
				}
				n++
				return nil
			})
			if err != nil || n != events {
				b.Fatalf("scan: %d events, %v", n, err)
			}
		}
	})
}

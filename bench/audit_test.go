package bench_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/internal/cputime"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// auditBackends are the databases the audit benchmarks run on:
// PostgreSQL only when HRGATE_TEST_POSTGRES is set.
var auditBackends = []string{"sqlite", "postgres"}

// openTrail opens an empty trail on db and a log appending to it; the
// caller closes the log.
func openTrail(b *testing.B, db string) (*sqlstore.AuditLog, *audit.Keys, *audit.Log) {
	b.Helper()
	dsn := storetest.DSNs()[db](b)
	st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	keys, err := audit.NewKeys([]byte(strings.Repeat("c", 32)), []byte(strings.Repeat("s", 32)))
	if err != nil {
		b.Fatal(err)
	}
	l, err := audit.Open(context.Background(), st, keys, audit.Options{Instance: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return st, keys, l
}

// readEvent is the event of one single-employee read, as the API records
// it.
func readEvent(i int) *hrgate.AuditEvent {
	return &hrgate.AuditEvent{
		Type: hrgate.AuditAPIRequest, RequestID: fmt.Sprintf("req_%024x", i), ActorKind: hrgate.ActorConsumer,
		Actor: "payroll", CredentialID: "key_5kq2w8v1m0r7c3x9z4t6y8b2n1", ConsumerID: "con_3x9z4t6y8b2n15kq2w8v1m0r7c",
		ClientAddr: "10.1.2.3", Method: "GET", Route: "GET /v1/employees/{id}", Status: 200, LatencyUS: 950,
		Object: "employee", RecordIDs: []string{fmt.Sprintf("emp_%026d", i%100_000)},
		Groups: []string{"identity", "employment", "compensation", "banking:masked"},
	}
}

// BenchmarkAuditRecord measures durable events per second: 256 goroutines
// call Record, each returning only once its event is durable (committed,
// then the WAL flushed on SQLite; committed on PostgreSQL), sharing
// commits and flushes through the log's group commit. cpu-ns/op is the
// CPU time per event.
func BenchmarkAuditRecord(b *testing.B) {
	for _, db := range auditBackends {
		b.Run(db, func(b *testing.B) {
			_, _, l := openTrail(b, db)
			defer l.Close()
			var n sync.Mutex
			i := 0
			b.SetParallelism(128) // 256 callers on 2 processors
			b.ResetTimer()
			cputime.Report(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n.Lock()
						i++
						ev := readEvent(i)
						n.Unlock()
						if err := l.Record(context.Background(), ev); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAuditVerify measures `hrgate audit verify`: every hash, MAC,
// search column and record-index entry of a trail of 200,000 events.
func BenchmarkAuditVerify(b *testing.B) {
	const events = 200_000
	for _, db := range auditBackends {
		b.Run(db, func(b *testing.B) {
			st, keys, l := openTrail(b, db)
			var wg sync.WaitGroup
			work := make(chan int)
			for range 256 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						if err := l.Record(context.Background(), readEvent(i)); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for i := range events {
				work <- i
			}
			close(work)
			wg.Wait()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			// On SQLite the newest events may still wait in the journal,
			// which verification would move into the tables first: that
			// is the appends' work, not verification's, and the first
			// run alone would pay for it.
			if err := st.FlushAudit(context.Background()); err != nil {
				b.Fatal(err)
			}
			// cpu-ns/op is the CPU time of one verification of the whole
			// trail, which other load on the machine does not change: on an
			// idle machine, events/s is about the number of processors
			// times events divided by it.
			cputime.Report(b, func() {
				for b.Loop() {
					rep, err := audit.Verify(context.Background(), st, keys, audit.VerifyOptions{})
					if err != nil || !rep.OK || rep.Events != events {
						b.Fatalf("verify: %+v %v", rep, err)
					}
				}
			})
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

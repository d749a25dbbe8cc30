package sqlstore

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/pgtest"
)

// A failure to read the audit schema's version fails the journal's start,
// instead of passing for a schema that lacks migrations: that left the
// journal closed and every later append refused with advice to migrate.
func TestStartJournalReturnsReadErrors(t *testing.T) {
	ctx := context.Background()
	l, err := OpenAuditLog(ctx, filepath.Join(t.TempDir(), "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	// Not migrated: no journal yet, and no error.
	if err := l.startJournal(ctx); err != nil || l.journal != nil {
		t.Fatalf("start on an unmigrated trail = %v, journal %v; want nil and none", err, l.journal != nil)
	}
	// Every read of the version fails now.
	if err := l.db.write.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.startJournal(ctx); err == nil {
		t.Fatal("the journal's start passed although the schema version could not be read")
	}
	if l.journal != nil {
		t.Fatal("a journal was opened without the schema version")
	}
}

// seqTimes is a trail for the time-to-seq tests, as (seq, time in µs)
// pairs: times rise with seq and some repeat, and the numbers have gaps
// (4, 8 and 9), which only an edit of the database leaves but which must
// not break the binary search.
var seqTimes = [][2]int64{{1, 100}, {2, 100}, {3, 120}, {5, 140}, {6, 140}, {7, 160}, {10, 200}, {11, 200}, {12, 300}}

// openSeqTrail opens a migrated audit database of each kind holding
// seqTimes, written straight into audit_events: seqRange reads nothing
// else.
func openSeqTrail(t *testing.T, kind string) *AuditLog {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "audit.db")
	if kind == "postgres" {
		dsn = pgtest.Schema(t, pgtest.URL(t))
	}
	ctx := context.Background()
	l, err := OpenAuditLog(ctx, dsn, Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	insert := l.db.dialect.rebind(`INSERT INTO audit_events (seq, time, type, body, seal) VALUES (?, ?, ?, ?, ?)`)
	for _, e := range seqTimes {
		if _, err := l.db.write.ExecContext(ctx, insert, e[0], e[1], hrgate.AuditAPIRequest, []byte{1}, make([]byte, 96)); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// A time range is turned into a range of seq by a binary search
// (seqAtTime, seqRange), which FindAuditRows relies on for every search
// by time. For every time at, just before and just after each event's,
// and from several starting points: the bound found is where the events
// stop being older than the time (the first event as new as it, or a
// number missing just before that event), and the seq range holds every
// event of the time range and no other. A range that no event reaches the
// end of stays open, for the events appended after.
func TestSeqRange(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			l := openSeqTrail(t, kind)
			last := seqTimes[len(seqTimes)-1][0]
			exists := func(seq int64) bool {
				for _, e := range seqTimes {
					if e[0] == seq {
						return true
					}
				}
				return false
			}
			var times []int64
			for _, e := range seqTimes {
				times = append(times, e[1]-1, e[1], e[1]+1)
			}
			afters := []int64{0, 3, 4, 6, 11, last}

			for _, after := range afters {
				for _, tm := range times {
					b, err := l.seqAtTime(ctx, tm, after, last)
					if err != nil {
						t.Fatal(err)
					}
					want := last + 1 // the first event after after as new as tm
					for _, e := range seqTimes {
						if e[0] > after && e[1] >= tm {
							want = e[0]
							break
						}
					}
					ok := after < b && b <= want
					for seq := b; ok && seq < want; seq++ {
						ok = !exists(seq)
					}
					if !ok {
						t.Fatalf("seqAtTime(%d, after %d) = %d; want %d, or a missing number just before it", tm, after, b, want)
					}
				}
			}

			bounds := []time.Time{{}}
			for _, tm := range times {
				bounds = append(bounds, time.UnixMicro(tm))
			}
			for _, afterSeq := range []int64{0, 4, last} {
				for _, from := range bounds {
					for _, to := range bounds {
						f := hrgate.AuditFilter{AfterSeq: afterSeq, From: from, To: to}
						after, before, err := l.seqRange(ctx, f)
						if err != nil {
							t.Fatal(err)
						}
						open := true // no event after afterSeq is as new as to
						for _, e := range seqTimes {
							tm := time.UnixMicro(e[1])
							inRange := e[0] > afterSeq && (from.IsZero() || !tm.Before(from)) && (to.IsZero() || tm.Before(to))
							if inSeqs := after < e[0] && e[0] < before; inSeqs != inRange {
								t.Fatalf("after %d from %v to %v: seq range (%d, %d) holds event %d at %d: %v; want %v",
									afterSeq, from.UnixMicro(), to.UnixMicro(), after, before, e[0], e[1], inSeqs, inRange)
							}
							if e[0] > afterSeq && !to.IsZero() && !tm.Before(to) {
								open = false
							}
						}
						if after < afterSeq || open && before != math.MaxInt64 {
							t.Fatalf("after %d from %v to %v: seq range (%d, %d); want it to start after %d and stay open: %v",
								afterSeq, from.UnixMicro(), to.UnixMicro(), after, before, afterSeq, open)
						}
					}
				}
			}
		})
	}
}

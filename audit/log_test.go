package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
)

func TestLog(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := MustOpenStore(t, dsn)
		keys := testKeys(t)
		l := MustOpenLog(t, st, keys, audit.Options{})

		t.Run("ConcurrentRecordsShareCommits", func(t *testing.T) {
			const writers, each = 50, 20
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						ev := event(w*each + i)
						if err := l.Record(ctx, ev); err != nil {
							errs <- err
							return
						}
						// Recorded means numbered, chained and durable.
						if ev.Seq == 0 || len(ev.Hash) != audit.HashSize || len(ev.MAC) != audit.HashSize {
							errs <- errors.New("a recorded event lacks its chain fields")
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			head, err := st.AuditHead(ctx)
			if err != nil || head.Seq != writers*each {
				t.Fatalf("head %d (%v), want %d", head.Seq, err, writers*each)
			}
			if rep := mustVerify(t, st, keys, audit.VerifyOptions{}); !rep.OK || rep.Events != writers*each {
				t.Fatalf("verify: %+v", rep)
			}
		})

		t.Run("ReadBack", func(t *testing.T) {
			evs, err := l.AuditEvents(ctx, 0, 5)
			if err != nil || len(evs) != 5 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			for i, ev := range evs {
				if ev.Seq != int64(i+1) || ev.Instance != "test" || ev.Route != "GET /v1/employees" || len(ev.RecordIDs) != 2 {
					t.Fatalf("event %d: %+v", i, ev)
				}
				if i > 0 && string(ev.PrevHash) != string(evs[i-1].Hash) {
					t.Fatalf("event %d does not link to its predecessor", ev.Seq)
				}
			}
		})

		t.Run("Find", func(t *testing.T) {
			all, err := l.AuditEvents(ctx, 0, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			mid := all[len(all)/2].Time
			for _, tc := range []struct {
				name string
				f    hrgate.AuditFilter
				want func(*hrgate.AuditEvent) bool
			}{
				{"RecordID", hrgate.AuditFilter{RecordID: "emp_0042"}, func(ev *hrgate.AuditEvent) bool {
					return ev.RecordIDs[0] == "emp_0042" || ev.RecordIDs[1] == "emp_0042"
				}},
				{"Credential", hrgate.AuditFilter{CredentialID: "key_1"}, func(ev *hrgate.AuditEvent) bool { return ev.CredentialID == "key_1" }},
				{"ConsumerAndType", hrgate.AuditFilter{ConsumerID: "con_payroll", Types: []string{hrgate.AuditAPIRequest}},
					func(*hrgate.AuditEvent) bool { return true }},
				{"OtherType", hrgate.AuditFilter{Types: []string{hrgate.AuditAuthFailure}}, func(*hrgate.AuditEvent) bool { return false }},
				{"From", hrgate.AuditFilter{From: mid}, func(ev *hrgate.AuditEvent) bool { return !ev.Time.Before(mid) }},
				{"To", hrgate.AuditFilter{To: mid}, func(ev *hrgate.AuditEvent) bool { return ev.Time.Before(mid) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.f.Limit = 10_000
					got, err := l.FindAuditEvents(ctx, tc.f)
					if err != nil {
						t.Fatal(err)
					}
					want := 0
					for _, ev := range all {
						if tc.want(ev) {
							want++
						}
					}
					if len(got) != want {
						t.Fatalf("%d events, want %d", len(got), want)
					}
					for _, ev := range got {
						if !tc.want(ev) {
							t.Fatalf("event %d does not match", ev.Seq)
						}
					}
				})
			}
		})

		t.Run("ErrInvalidEvent", func(t *testing.T) {
			for _, ev := range []*hrgate.AuditEvent{{Type: ""}, {Type: hrgate.AuditCheckpoint}} {
				if err := l.Record(ctx, ev); hrgate.ErrorCode(err) != hrgate.EINVALID {
					t.Fatalf("Record(%q) = %v, want invalid", ev.Type, err)
				}
			}
		})

		t.Run("Checkpoint", func(t *testing.T) {
			c, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Check(keys.Public); err != nil {
				t.Fatal(err)
			}
			rep := mustVerify(t, st, keys, audit.VerifyOptions{Checkpoint: c})
			if !rep.OK || rep.Checkpoints != 1 || rep.Newest.Seq != c.Seq {
				t.Fatalf("verify: %+v", rep)
			}
		})
	})
}

func TestEnqueueIsDurableAtClose(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		st := MustOpenStore(t, dsn)
		l, err := audit.Open(context.Background(), st, testKeys(t), audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 500 {
			l.Enqueue(event(i))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		head, err := st.AuditHead(context.Background())
		if err != nil || head.Seq != 500 {
			t.Fatalf("head %d after Close (%v), want 500", head.Seq, err)
		}
		if err := l.Record(context.Background(), event(1)); hrgate.ErrorCode(err) != hrgate.EUNAVAILABLE {
			t.Fatalf("Record after Close = %v, want unavailable", err)
		}
	})
}

// A trail that cannot be written refuses to acknowledge: Record fails.
func TestRecordFailsWhenTheTrailCannotBeWritten(t *testing.T) {
	st := MustOpenStore(t, storeSQLite(t))
	l := MustOpenLog(t, st, testKeys(t), audit.Options{})
	fill(t, l, 0, 3)
	_ = st.Close()
	if err := l.Record(context.Background(), event(4)); hrgate.ErrorCode(err) != hrgate.EUNAVAILABLE {
		t.Fatalf("Record on a closed database = %v, want unavailable", err)
	}
}

func TestPeriodicCheckpoints(t *testing.T) {
	st := MustOpenStore(t, storeSQLite(t))
	keys := testKeys(t)
	l := MustOpenLog(t, st, keys, audit.Options{CheckpointEvery: 5 * time.Millisecond})
	fill(t, l, 0, 10)
	ctx := context.Background()
	waitFor(t, "a checkpoint after the last event", func() bool {
		head, err := st.AuditHead(ctx)
		if err != nil {
			return false
		}
		evs, err := l.AuditEvents(ctx, head.Seq-1, 1)
		return err == nil && len(evs) == 1 && evs[0].Type == hrgate.AuditCheckpoint
	})
	// A checkpoint covers at least one new event: an idle log does not
	// checkpoint its own checkpoints.
	head, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if again, err := st.AuditHead(ctx); err != nil || again.Seq != head.Seq {
		t.Fatalf("an idle log went on from %d to %d (%v)", head.Seq, again.Seq, err)
	}
	rep := mustVerify(t, st, keys, audit.VerifyOptions{})
	if !rep.OK || rep.Checkpoints == 0 || rep.Newest.Seq != head.Seq-1 {
		t.Fatalf("verify: %+v", rep)
	}
}

// Two logs on one database, as two hrgate processes would have, append
// to one chain that verifies.
func TestSeveralWriters(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		keys := testKeys(t)
		a := MustOpenStore(t, dsn)
		b := MustOpenStore(t, dsn)
		la := MustOpenLog(t, a, keys, audit.Options{Instance: "a"})
		lb := MustOpenLog(t, b, keys, audit.Options{Instance: "b"})
		var wg sync.WaitGroup
		for _, l := range []*audit.Log{la, lb} {
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						if err := l.Record(context.Background(), event(w*100+i)); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		rep := mustVerify(t, a, keys, audit.VerifyOptions{})
		if !rep.OK || rep.Events != 2*8*25 {
			t.Fatalf("verify: %+v", rep)
		}
		evs, err := la.AuditEvents(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, ev := range evs {
			seen[ev.Instance]++
		}
		if seen["a"] != 200 || seen["b"] != 200 {
			t.Fatalf("events per instance: %v", seen)
		}
	})
}

// failingSync is the real store with a flush that fails, as a full or
// failing disk would make it.
type failingSync struct{ hrgate.AuditStore }

func (failingSync) SyncAudit(context.Context) error { return errors.New("disk gone") }

// A commit that cannot be made durable is not acknowledged.
func TestRecordFailsWhenTheFlushFails(t *testing.T) {
	st := MustOpenStore(t, storeSQLite(t))
	l, err := audit.Open(context.Background(), failingSync{st}, testKeys(t), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), event(1)); hrgate.ErrorCode(err) != hrgate.EUNAVAILABLE {
		t.Fatalf("Record with a failing flush = %v, want unavailable", err)
	}
	l.Enqueue(event(2))
	if err := l.Close(); hrgate.ErrorCode(err) != hrgate.EUNAVAILABLE {
		t.Fatalf("Close after a failed flush = %v, want unavailable", err)
	}
}

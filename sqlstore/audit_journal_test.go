package sqlstore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/sqlstore"
)

// These tests drive the SQLite audit journal through audit.Log, as hrgate
// does. Most stop the journal's mover (a very long interval, a very high
// event count), so that what they observe does not depend on timing: the
// journal is then moved only where the test makes it.
const never = 24 * time.Hour

func journalKeys(tb testing.TB) *audit.Keys {
	tb.Helper()
	k, err := audit.NewKeys(chainKey, []byte(strings.Repeat("s", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func openTrail(tb testing.TB, dsn string) *sqlstore.AuditLog {
	tb.Helper()
	st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		tb.Fatalf("open the audit store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

func openTrailLog(tb testing.TB, st hrgate.AuditStore, instance string) *audit.Log {
	tb.Helper()
	l, err := audit.Open(context.Background(), st, journalKeys(tb), audit.Options{Instance: instance})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

func accessEvent(n int) *hrgate.AuditEvent {
	return &hrgate.AuditEvent{
		Type: hrgate.AuditAPIRequest, RequestID: fmt.Sprintf("req_%d", n), ActorKind: hrgate.ActorConsumer,
		Actor: "payroll", CredentialID: "key_1", ConsumerID: "con_payroll", Method: "GET",
		Route: "GET /v1/employees/{id}", Status: 200, Object: "employee",
		RecordIDs: []string{fmt.Sprintf("emp_%05d", n)}, Groups: []string{"identity"},
	}
}

func record(tb testing.TB, l *audit.Log, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Record(context.Background(), accessEvent(i)); err != nil {
			tb.Fatalf("record %d: %v", i, err)
		}
	}
}

func verifyTrail(tb testing.TB, st hrgate.AuditStore, events int64) {
	tb.Helper()
	rep, err := audit.Verify(context.Background(), st, journalKeys(tb), audit.VerifyOptions{})
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	if !rep.OK || rep.Events != events {
		tb.Fatalf("verify: ok %v, %d events (want %d): %s", rep.OK, rep.Events, events, rep.Problem)
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	src, err := os.Open(from)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}

// crashImage copies the files of the idle trail at dsn, as a crash of the
// process would leave them, to a new directory, and returns its DSN.
func crashImage(tb testing.TB, dsn string) string {
	tb.Helper()
	img := filepath.Join(tb.TempDir(), "audit.db")
	for _, suffix := range []string{"", "-wal", sqlstore.JournalSuffix} {
		copyFile(tb, dsn+suffix, img+suffix)
	}
	return img
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// A crash in the middle of a journal write leaves a torn frame at its
// end; the next open cuts it off and loses no event that was answered.
func TestJournalTornTailIsCut(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, 16<<20)
	for _, tc := range []struct {
		name string
		torn []byte
	}{
		// A header whose payload never made it to the disk.
		{"ShortFrame", []byte{0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}},
		// A whole frame whose checksum does not match its payload.
		{"BadChecksum", []byte{0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0}},
		// Half a header.
		{"ShortHeader", []byte{0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "audit.db")
			st := openTrail(t, dsn)
			l := openTrailLog(t, st, "crashed")
			record(t, l, 0, 25)
			// The events are in the journal only: the database has none.
			if rows, err := st.AuditRows(context.Background(), 0, 100); err != nil || len(rows) != 0 {
				t.Fatalf("%d rows in the database before a flush (%v): the journal was moved already", len(rows), err)
			}
			img := crashImage(t, dsn)
			journal := img + sqlstore.JournalSuffix
			whole := fileSize(t, journal)
			f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tc.torn); err != nil {
				t.Fatal(err)
			}
			f.Close()

			re := openTrail(t, img)
			if got := fileSize(t, journal); got >= whole {
				t.Fatalf("journal of %d bytes after the open, %d before the torn frame: the journal was not cut back", got, whole)
			}
			verifyTrail(t, re, 25)
			// The chain goes on from where the journal ended.
			l2 := openTrailLog(t, re, "restarted")
			record(t, l2, 25, 5)
			verifyTrail(t, re, 30)
			evs, err := l2.FindAuditEvents(context.Background(), hrgate.AuditFilter{RecordID: "emp_00024", Limit: 10})
			if err != nil || len(evs) != 1 || evs[0].Instance != "crashed" {
				t.Fatalf("the last answered event before the crash: %v, %v", evs, err)
			}
		})
	}
}

// A command run beside the server (keys create, employees erase) opens
// the same trail and appends to it while the server does; the trail
// stays one chain.
func TestJournalSecondProcessAppends(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, 5*time.Millisecond, 64, 16<<20)
	dsn := filepath.Join(t.TempDir(), "audit.db")
	server := openTrail(t, dsn)
	sl := openTrailLog(t, server, "server")
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		recorded atomic.Int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if err := sl.Record(context.Background(), accessEvent(w*100_000+i)); err != nil {
					t.Error(err)
					return
				}
				recorded.Add(1)
			}
		}()
	}
	const commands, each = 6, 4
	for c := range commands {
		st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		l, err := audit.Open(context.Background(), st, journalKeys(t), audit.Options{Instance: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range each {
			if err := l.Record(context.Background(), accessEvent(900_000+c*each+i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	total := recorded.Load() + commands*each
	verifyTrail(t, server, total)
	evs, err := sl.FindAuditEvents(context.Background(), hrgate.AuditFilter{ConsumerID: "con_payroll", Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	byInstance := map[string]int64{}
	for _, ev := range evs {
		byInstance[ev.Instance]++
	}
	if int64(len(evs)) != total || byInstance["cli"] != commands*each || byInstance["server"] != recorded.Load() {
		t.Fatalf("events by instance %v, %d in all; want %d from the commands and %d from the server",
			byInstance, len(evs), commands*each, recorded.Load())
	}
}

// A search right after Record returns sees the event, although the
// journal has not been moved into the database on its own.
func TestJournalSearchIsExact(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, 16<<20)
	st := openTrail(t, filepath.Join(t.TempDir(), "audit.db"))
	l := openTrailLog(t, st, "test")
	ctx := context.Background()
	for i := range 40 {
		record(t, l, i, 1)
		if rows, err := st.AuditRows(ctx, int64(i), 10); err != nil || len(rows) != 0 {
			t.Fatalf("event %d is in the database before any search (%v): the test proves nothing", i+1, err)
		}
		id := fmt.Sprintf("emp_%05d", i)
		evs, err := l.FindAuditEvents(ctx, hrgate.AuditFilter{RecordID: id, Limit: 10})
		if err != nil || len(evs) != 1 || evs[0].RecordIDs[0] != id {
			t.Fatalf("who accessed %s, right after the access: %v, %v", id, evs, err)
		}
	}
	if evs, err := l.AuditEvents(ctx, 0, 100); err != nil || len(evs) != 40 {
		t.Fatalf("%d events (%v), want 40", len(evs), err)
	}
}

// The journal is cut back as it grows, whether or not the mover keeps
// up: past twice its bound an append moves it first.
func TestJournalStaysBounded(t *testing.T) {
	const limit = 32 << 10
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, limit)
	dsn := filepath.Join(t.TempDir(), "audit.db")
	st := openTrail(t, dsn)
	l := openTrailLog(t, st, "test")
	journal := st.JournalPath()
	const events = 1500
	largest := int64(0)
	for i := range events {
		record(t, l, i, 1)
		largest = max(largest, fileSize(t, journal))
	}
	// One frame of a single event is well under 4 KiB.
	if largest > 2*limit+4<<10 {
		t.Fatalf("the journal grew to %d bytes, beyond twice its bound of %d", largest, limit)
	}
	if largest < limit {
		t.Fatalf("the journal never passed its bound (%d bytes): the test did not reach the path it tests", largest)
	}
	verifyTrail(t, st, events)
}

// A journal that does not continue the chain in the database, because
// events were removed, replaced or the files mixed up, is refused at
// open, by the number of the first event that does not link.
func TestJournalNotLinkedIsRefused(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, 16<<20)
	// trail makes a trail of n events by the instance given, and returns
	// its DSN with the store closed.
	trail := func(t *testing.T, instance string, n int, closeStore bool) string {
		dsn := filepath.Join(t.TempDir(), "audit.db")
		st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		l := openTrailLog(t, st, instance)
		record(t, l, 0, n)
		if closeStore {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Cleanup(func() { _ = st.Close() })
		}
		return dsn
	}
	for _, tc := range []struct {
		name string
		// other is the trail whose journal replaces the first one's, of
		// 10 events.
		other func(t *testing.T) string
		seq   string
	}{
		// The journal starts after the database's head: events 11 to 15
		// are nowhere.
		{"Gap", func(t *testing.T) string { return trail(t, "other", 15, true) }, "event 11"},
		// Same length, other events: the journal's base is not the head.
		{"OtherHead", func(t *testing.T) string { return trail(t, "other", 10, true) }, "event 10"},
		// Unmoved frames of other events, from the start of the chain.
		{"OtherFrames", func(t *testing.T) string { return crashImage(t, trail(t, "other", 12, false)) }, "event 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := trail(t, "mine", 10, true)
			copyFile(t, tc.other(t)+sqlstore.JournalSuffix, dsn+sqlstore.JournalSuffix)
			st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
			if err == nil {
				st.Close()
				t.Fatal("a journal that does not continue the database was accepted")
			}
			if hrgate.ErrorCode(err) != hrgate.EINTERNAL || !strings.Contains(err.Error(), tc.seq) {
				t.Fatalf("open = %v, want a refusal naming %s", err, tc.seq)
			}
		})
	}
	t.Run("OwnJournal", func(t *testing.T) {
		// The control: the trail's own journal opens.
		dsn := trail(t, "mine", 10, true)
		verifyTrail(t, openTrail(t, dsn), 10)
	})
}

// The journal is truncated at every cut-back, so a symbolic link planted
// in its place must be refused, not followed: else the open would cut
// whatever file the link names. A journal left with a wider mode is
// narrowed to the owner's.
func TestJournalFileIsGuarded(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, 16<<20)
	dsn := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	l := openTrailLog(t, st, "first")
	record(t, l, 0, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	journal := dsn + sqlstore.JournalSuffix

	t.Run("SymlinkIsRefused", func(t *testing.T) {
		victim := filepath.Join(t.TempDir(), "victim")
		want := []byte("not an audit journal: someone else's data\n")
		if err := os.WriteFile(victim, want, 0o600); err != nil {
			t.Fatal(err)
		}
		saved := journal + ".saved"
		if err := os.Rename(journal, saved); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(saved, journal)
		if err := os.Symlink(victim, journal); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(journal)

		st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
		if err == nil {
			st.Close()
			t.Fatal("the audit trail opened through a journal that is a symbolic link")
		}
		if got, err := os.ReadFile(victim); err != nil || string(got) != string(want) {
			t.Fatalf("the file the link names holds %q (%v) after the open, want it untouched", got, err)
		}
	})

	t.Run("WideModeIsNarrowed", func(t *testing.T) {
		if err := os.Chmod(journal, 0o644); err != nil {
			t.Fatal(err)
		}
		st := openTrail(t, dsn)
		fi, err := os.Stat(journal)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("journal mode %v after the open, want 0600", fi.Mode().Perm())
		}
		verifyTrail(t, st, 3)
	})
}

// After a failed fdatasync the kernel may have dropped the frame it could
// not write, and a later fdatasync can succeed all the same: an event
// acknowledged then would follow a hole that the next open cuts off with
// it. So once a flush of the journal fails, no later event is
// acknowledged until the trail is opened again, and the events the disk
// holds then verify.
func TestJournalFailedSyncIsFinal(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, 16<<20)
	var fail atomic.Bool
	sqlstore.SetJournalSyncForTest(t, func(f *os.File) error {
		if fail.Load() {
			return syscall.EIO
		}
		return f.Sync()
	})
	dsn := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlstore.OpenAuditLog(context.Background(), dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(context.Background(), st, journalKeys(t), audit.Options{Instance: "failing"})
	if err != nil {
		t.Fatal(err)
	}
	record(t, l, 0, 5)

	fail.Store(true)
	if err := l.Record(context.Background(), accessEvent(5)); err == nil {
		t.Fatal("an event was acknowledged although the journal's fdatasync failed")
	}
	fail.Store(false) // The disk seems well again; the lost page is not back.
	for i := 6; i < 9; i++ {
		if err := l.Record(context.Background(), accessEvent(i)); err == nil {
			t.Fatalf("event %d was acknowledged after a failed fdatasync, behind a frame the disk may not hold", i)
		}
	}
	_ = l.Close()
	_ = st.Close()

	re := openTrail(t, dsn)
	rows, err := re.AuditRows(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 5 {
		t.Fatalf("%d events after reopening, want at least the 5 acknowledged", len(rows))
	}
	verifyTrail(t, re, int64(len(rows)))
	l2 := openTrailLog(t, re, "reopened")
	record(t, l2, 100, 1)
}

// A frame whose checksum holds but whose counts are damaged is refused by
// the count, before anything is allocated for it: a count is bounded by
// the fewest bytes a row, or a record id, can take.
func TestJournalFrameCountsAreBounded(t *testing.T) {
	seal := make([]byte, 0, 99)
	for range 3 {
		seal = append(seal, 32)
		seal = append(seal, make([]byte, 32)...)
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		// 1000 rows claimed in 1000 bytes: a row takes more than 100.
		{"ErrRowCount", append([]byte{1, 0xe8, 0x07}, make([]byte, 1000)...), "row count beyond the frame"},
		// One row whose 1000 record ids would leave no room for its seal.
		{"ErrRecordCount", append([]byte{1, 1, 1, 0, 0, 0, 0, 0xe8, 0x07}, make([]byte, 1000)...), "record count beyond the frame"},
		// One row with hashes of 31 bytes: no append writes one, and the
		// seal column could not hold it.
		{"ErrHashSize", func() []byte {
			p := []byte{1, 1, 1, 0, 0, 0, 0, 0, 0}
			for range 3 {
				p = append(p, 31)
				p = append(p, make([]byte, 31)...)
			}
			return append(p, make([]byte, 20)...)
		}(), "hash of the wrong size"},
		// The same row with its seal whole gets past the counts and the
		// sizes, to the end of the frame, where its head is missing.
		{"ErrNoHead", append([]byte{1, 1, 1, 0, 0, 0, 0, 0, 0}, seal...), "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sqlstore.DecodeJournalFrameForTest(tc.payload)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// A journal that grew past its bound while nothing moved it, as when the
// process was stopped with the database unavailable, is moved at open a
// part at a time; every event arrives, in one chain.
func TestJournalRecoveredInParts(t *testing.T) {
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, 16<<20)
	dsn := filepath.Join(t.TempDir(), "audit.db")
	st := openTrail(t, dsn)
	l := openTrailLog(t, st, "crashed")
	const events = 400
	record(t, l, 0, events)
	img := crashImage(t, dsn)
	journal := img + sqlstore.JournalSuffix
	whole := fileSize(t, journal)

	const part = 8 << 10
	if whole < 4*part {
		t.Fatalf("a journal of %d bytes is too small to be moved in parts of %d", whole, part)
	}
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, part)
	re := openTrail(t, img)
	if got := fileSize(t, journal); got >= part {
		t.Fatalf("journal of %d bytes after the open: it was not cut back", got)
	}
	verifyTrail(t, re, events)
	l2 := openTrailLog(t, re, "restarted")
	record(t, l2, events, 5)
	verifyTrail(t, re, events+5)
}

// Events appended while a move runs, past the journal's bound, are moved
// by reading only what came after the frames the move read, and the
// journal is cut back: nothing is lost, and the frames moved before are
// not moved again.
func TestJournalMoveCatchesUpPastBound(t *testing.T) {
	const limit = 32 << 10
	sqlstore.SetJournalTuningForTest(t, never, 1<<40, limit)
	dsn := filepath.Join(t.TempDir(), "audit.db")
	st := openTrail(t, dsn)
	l := openTrailLog(t, st, "test")
	journal := st.JournalPath()
	record(t, l, 0, 10)
	n, largest := 10, int64(0)
	sqlstore.SetJournalMoveHookForTest(t, func() {
		// Appends during the move, one frame each, until the journal
		// is past its bound but short of twice it, where an append
		// would cut it back itself.
		for fileSize(t, journal) <= limit {
			record(t, l, n, 1)
			n++
		}
		largest = fileSize(t, journal)
	})
	if err := st.FlushAudit(context.Background()); err != nil {
		t.Fatalf("move: %v", err)
	}
	if largest <= limit || largest > 2*limit {
		t.Fatalf("the journal reached %d bytes during the move, want past %d and not past %d: the test did not reach the path it tests",
			largest, limit, 2*limit)
	}
	if size := fileSize(t, journal); size >= 4<<10 {
		t.Fatalf("the journal is %d bytes after the move, want it cut back to its base frame", size)
	}
	verifyTrail(t, st, int64(n))
}

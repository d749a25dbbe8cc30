package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/sqlstore"
)

// tamperFixture is a trail of 61 events: 30 requests, an in-log checkpoint
// (31), 29 requests (32-60) and a checkpoint exported to a file (61). The
// head as it stood after event 50 was saved, as an insider could.
type tamperFixture struct {
	dsn      string
	raw      *raw
	exported *audit.Checkpoint
	head50   dbHead
}

type dbHead struct {
	seq, time int64
	hash, mac []byte
}

func newTamperFixture(t *testing.T, dsn string) *tamperFixture {
	t.Helper()
	ctx := context.Background()
	st := MustOpenStore(t, dsn)
	l, err := audit.Open(ctx, st, testKeys(t), audit.Options{Instance: "test"})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 0, 30)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 30, 19)
	// The raw reads below see the database, which the journal reaches
	// on a flush.
	if err := st.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	f := &tamperFixture{dsn: dsn, raw: openRaw(t, dsn)}
	err = f.raw.db.QueryRowContext(ctx, `SELECT seq, time, hash, mac FROM audit_head`).Scan(&f.head50.seq, &f.head50.time, &f.head50.hash, &f.head50.mac)
	if err != nil || f.head50.seq != 50 {
		t.Fatalf("head: %d %v", f.head50.seq, err)
	}
	fill(t, l, 49, 10)
	if f.exported, err = l.Checkpoint(ctx); err != nil || f.exported.Seq != 60 {
		t.Fatalf("checkpoint: %+v %v", f.exported, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The tampering is of the database alone. On SQLite the store's close
	// leaves in the journal only a base frame stating the head, which
	// would give away a cut tail or a forged head at the next open
	// (TestJournalNotLinkedIsRefused); an attacker who edits the database
	// removes it too, and verification must still find the edit.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dsn + sqlstore.JournalSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	f.raw.dropGuards(t)
	return f
}

// The acceptance cases of the issue, on each database: every kind of
// tampering makes verification fail at the right sequence number, and
// an untouched trail verifies.
func TestTampering(t *testing.T) {
	for _, tc := range []struct {
		name string
		// withFile verifies against the exported checkpoint too.
		withFile bool
		tamper   func(t *testing.T, f *tamperFixture)
		// broken is the sequence number verification must name; 0 means
		// the trail must verify.
		broken  int64
		problem string
	}{
		{"Untouched", false, func(*testing.T, *tamperFixture) {}, 0, ""},
		{"UntouchedWithCheckpointFile", true, func(*testing.T, *tamperFixture) {}, 0, ""},
		{"EditedField", false, func(t *testing.T, f *tamperFixture) {
			d := f.raw.row(t, 10)
			d.body = bytes.Replace(d.body, []byte("192.0.2.7"), []byte("192.0.2.8"), 1)
			f.raw.put(t, d)
		}, 10, "does not match its hash"},
		{"EditedFieldRehashed", false, func(t *testing.T, f *tamperFixture) {
			d := f.raw.row(t, 10)
			d.body = bytes.Replace(d.body, []byte("emp_0009"), []byte("emp_9999"), 1)
			d.hash = chainHash(d.seq, d.prevHash, d.body)
			f.raw.put(t, d)
		}, 10, "fails its MAC"},
		{"EditedSearchColumn", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `UPDATE audit_events SET consumer_id = 'con_other' WHERE seq = 10`)
		}, 10, "consumer_id differs"},
		{"RemovedFromRecordIndex", false, func(t *testing.T, f *tamperFixture) {
			// "Who accessed emp_0009" would no longer find event 10.
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq = 10 AND record_id = 'emp_0009'`)
		}, 10, "record index differs"},
		{"AddedToRecordIndex", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `INSERT INTO audit_records (record_id, seq) VALUES ('emp_framed', 12)`)
		}, 12, "record index differs"},
		// Event 10 returned emp_0009 and emp_0010. One entry holding both
		// ids, joined by the separator a store might use, must not pass for
		// the two: a search for either id would miss the event.
		{"RecordIndexEntriesJoined", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq = 10`)
			f.raw.exec(t, `INSERT INTO audit_records (record_id, seq) VALUES (?, 10)`, "emp_0009\nemp_0010")
		}, 10, "record index differs"},
		{"TwoEventsEdited", false, func(t *testing.T, f *tamperFixture) {
			for _, seq := range []int64{40, 10} {
				d := f.raw.row(t, seq)
				d.body = bytes.Replace(d.body, []byte("192.0.2.7"), []byte("192.0.2.8"), 1)
				f.raw.put(t, d)
			}
		}, 10, "does not match its hash"},
		{"IndexEntryWithoutEvent", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `INSERT INTO audit_records (record_id, seq) VALUES ('emp_framed', 70)`)
		}, 70, "names event 70, which does not exist"},
		{"DeletedRow", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq = 10`)
			f.raw.exec(t, `DELETE FROM audit_events WHERE seq = 10`)
		}, 10, "event 10 is missing"},
		{"DeletedAndRenumbered", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq = 10`)
			f.raw.exec(t, `DELETE FROM audit_events WHERE seq = 10`)
			shift(t, f.raw, 10, -1)
		}, 10, "does not link"},
		{"InsertedRow", false, func(t *testing.T, f *tamperFixture) {
			shift(t, f.raw, 11, +1)
			d := f.raw.row(t, 10)
			d.seq, d.prevHash = 11, d.hash
			d.hash = chainHash(d.seq, d.prevHash, d.body)
			f.raw.insert(t, d)
		}, 11, "fails its MAC"},
		{"AppendedRow", false, func(t *testing.T, f *tamperFixture) {
			d := f.raw.row(t, 60)
			d.seq, d.prevHash = 62, f.raw.row(t, 61).hash
			d.hash = chainHash(d.seq, d.prevHash, d.body)
			f.raw.insert(t, d)
		}, 62, "fails its MAC"},
		{"SwappedRows", false, func(t *testing.T, f *tamperFixture) {
			a, b := f.raw.row(t, 10), f.raw.row(t, 11)
			a.seq, b.seq = 11, 10
			f.raw.put(t, a)
			f.raw.put(t, b)
		}, 10, "does not link"},
		{"TruncatedTail", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq > 50`)
			f.raw.exec(t, `DELETE FROM audit_events WHERE seq > 50`)
		}, 51, "events 51 to 61 are missing"},
		{"TruncatedTailAndForgedHead", false, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq > 50`)
			f.raw.exec(t, `DELETE FROM audit_events WHERE seq > 50`)
			d := f.raw.row(t, 50)
			f.raw.exec(t, `UPDATE audit_head SET seq = ?, time = ?, hash = ?`, d.seq, d.time, d.hash)
		}, 51, "head of the trail (at event 50) fails its MAC"},
		// An insider who saved the head row as it stood at event 50 can
		// cut the tail without a trace inside the database; the checkpoint
		// kept outside it catches the cut.
		{"TruncatedTailAndReplayedHeadWithCheckpointFile", true, func(t *testing.T, f *tamperFixture) {
			f.raw.exec(t, `DELETE FROM audit_records WHERE seq > 50`)
			f.raw.exec(t, `DELETE FROM audit_events WHERE seq > 50`)
			h := f.head50
			f.raw.exec(t, `UPDATE audit_head SET seq = ?, time = ?, hash = ?, mac = ?`, h.seq, h.time, h.hash, h.mac)
		}, 51, "the checkpoint covers event 60"},
		// An insider with the chain key (but not the signing key) rewrites
		// event 40 and reseals all after it: the signed checkpoint at 61
		// no longer covers its predecessor.
		{"RewrittenWithChainKey", false, func(t *testing.T, f *tamperFixture) {
			prev := f.raw.row(t, 39).hash
			for seq := int64(40); seq <= 61; seq++ {
				d := f.raw.row(t, seq)
				if seq == 40 {
					d.body = bytes.Replace(d.body, []byte("192.0.2.7"), []byte("192.0.2.9"), 1)
				}
				d.prevHash = prev
				d.hash = chainHash(seq, prev, d.body)
				d.mac = chainMAC(d.hash)
				f.raw.put(t, d)
				prev = d.hash
			}
		}, 61, "checkpoint 61 does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachDSN(t, func(t *testing.T, dsn string) {
				f := newTamperFixture(t, dsn)
				tc.tamper(t, f)
				st := MustOpenStore(t, dsn)
				opts := audit.VerifyOptions{}
				if tc.withFile {
					opts.Checkpoint = f.exported
				}
				rep := mustVerify(t, st, testKeys(t), opts)
				switch {
				case tc.broken == 0 && !rep.OK:
					t.Fatalf("an untouched trail fails at %d: %s", rep.BrokenSeq, rep.Problem)
				case tc.broken == 0:
					if rep.Events != 61 || rep.Checkpoints != 2 || rep.Newest.Seq != 60 {
						t.Fatalf("report: %+v", rep)
					}
				case rep.OK:
					t.Fatalf("tampering not detected: %+v", rep)
				case rep.BrokenSeq != tc.broken || !strings.Contains(rep.Problem, tc.problem):
					t.Fatalf("broken at %d (%s), want %d (%s)", rep.BrokenSeq, rep.Problem, tc.broken, tc.problem)
				}
			})
		})
	}
}

// shift moves the events from seq on, with their index entries, by delta.
func shift(t *testing.T, r *raw, from, delta int64) {
	t.Helper()
	// Through a distant range, so that no two rows collide on the way.
	const far = 1_000_000
	for _, table := range []string{"audit_events", "audit_records"} {
		r.exec(t, `UPDATE `+table+` SET seq = seq + ? WHERE seq >= ?`, far, from)
		r.exec(t, `UPDATE `+table+` SET seq = seq - ? WHERE seq >= ?`, far-delta, far)
	}
}

// A checkpoint file from another trail, or altered, is refused.
func TestVerifyRefusesBadCheckpointFile(t *testing.T) {
	ctx := context.Background()
	st := MustOpenStore(t, storeSQLite(t))
	keys := testKeys(t)
	l := MustOpenLog(t, st, keys, audit.Options{})
	fill(t, l, 0, 5)
	c, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := audit.NewKeys(bytes.Repeat([]byte("x"), 32), bytes.Repeat([]byte("y"), 32))
	altered := *c
	altered.Seq = 3
	for _, tc := range []struct {
		name  string
		keys  *audit.Keys
		c     *audit.Checkpoint
		wants string
	}{
		{"OtherKey", other, c, "signed by key"},
		{"Altered", keys, &altered, "signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := mustVerify(t, st, tc.keys, audit.VerifyOptions{Checkpoint: tc.c})
			if rep.OK || !strings.Contains(rep.Problem, tc.wants) {
				t.Fatalf("report %+v", rep)
			}
		})
	}
}

// A trail of many events is verified in chunks by several workers at
// once: chunks must join without false alarms, and when several events
// are broken the report names the first, whichever worker finds which
// first. A break at the first event of a chunk shows only where that
// chunk is joined to the one before, after the chunk itself has failed
// further on; it must still be the one named.
func TestVerifyInParallelRanges(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 120,000 events")
	}
	ctx := context.Background()
	dsn := storeSQLite(t)
	st := MustOpenStore(t, dsn)
	keys := testKeys(t)
	l := MustOpenLog(t, st, keys, audit.Options{})
	const n = 120_000
	var sem = make(chan struct{}, 256)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if err := l.Record(ctx, event(i)); err != nil {
				errs <- err
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, st, keys, audit.VerifyOptions{Workers: 3})
	if !rep.OK || rep.Events != n {
		t.Fatalf("report %+v", rep)
	}
	r := openRaw(t, dsn)
	r.dropGuards(t)

	editColumn := func(t *testing.T, d dbRow) dbRow { d.consumer = "con_other"; return d }
	editBody := func(t *testing.T, d dbRow) dbRow {
		d.body = bytes.Replace(d.body, []byte("192.0.2.7"), []byte("192.0.2.8"), 1)
		return d
	}
	// relink makes an event follow another chain, sealed with the chain
	// key: the event checks out on its own, but does not link to its
	// predecessor, and its successor does not link to it.
	relink := func(t *testing.T, d dbRow) dbRow {
		d.prevHash = bytes.Repeat([]byte{7}, 32)
		d.hash = chainHash(d.seq, d.prevHash, d.body)
		d.mac = chainMAC(d.hash)
		return d
	}
	type edit struct {
		seq  int64
		edit func(*testing.T, dbRow) dbRow
	}
	for _, tc := range []struct {
		name    string
		edits   []edit
		broken  int64
		problem string
	}{
		{"OneInTheMiddle", []edit{{90_001, editColumn}}, 90_001, "consumer_id differs"},
		{"TwoFarApart", []edit{{90_001, editColumn}, {20_000, editBody}}, 20_000, "does not match its hash"},
		// The last event of one chunk and one early in the next (for any
		// chunk size from 2^12 to 2^16): the worker on the later chunk
		// finds its break first.
		{"TwoAcrossAChunkEdge", []edit{{4096, editBody}, {4098, editColumn}, {8192, editBody}, {8194, editColumn},
			{16_384, editBody}, {16_386, editColumn}, {32_768, editBody}, {32_770, editColumn},
			{65_536, editBody}, {65_538, editColumn}}, 4096, "does not match its hash"},
		{"RelinkedAtChunkStart4097", []edit{{4097, relink}}, 4097, "does not link"},
		{"RelinkedAtChunkStart8193", []edit{{8193, relink}}, 8193, "does not link"},
		{"RelinkedAtChunkStart16385", []edit{{16_385, relink}}, 16_385, "does not link"},
		{"RelinkedAtChunkStart32769", []edit{{32_769, relink}}, 32_769, "does not link"},
		{"RelinkedAtChunkStart65537", []edit{{65_537, relink}}, 65_537, "does not link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range tc.edits {
				orig := r.row(t, e.seq)
				r.put(t, e.edit(t, orig))
				t.Cleanup(func() { r.put(t, orig) })
			}
			for _, workers := range []int{1, 3} {
				rep := mustVerify(t, st, keys, audit.VerifyOptions{Workers: workers})
				if rep.OK || rep.BrokenSeq != tc.broken || !strings.Contains(rep.Problem, tc.problem) {
					t.Fatalf("%d workers: broken at %d (%s), want %d (%s)", workers, rep.BrokenSeq, rep.Problem, tc.broken, tc.problem)
				}
			}
		})
	}
	if rep := mustVerify(t, st, keys, audit.VerifyOptions{Workers: 3}); !rep.OK || rep.Events != n {
		t.Fatalf("restored trail: %+v", rep)
	}
}

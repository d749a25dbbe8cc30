package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/secretfile"
)

// On SQLite the audit trail is appended to a journal, a file next to the
// database (audit.db.journal), and moved into the database's tables in
// large transactions. A SQLite commit costs the writer about as much as
// the request it records; a write to the journal and a shared fdatasync
// cost a small part of that, and one transaction of thousands of events
// costs little per event. An event is durable, and its request answered,
// once its frame is flushed to the journal.
//
// Every process that opens the trail appends to the same journal: an
// exclusive lock on the file (flock; LockFileEx on Windows) is held
// around each append and each change to the file. A process keeps what it
// last saw of the journal (its size and its last bytes) and the head it
// ends with; when, under the lock, the file is not as it left it, another
// process has appended or reclaimed it, and the process moves the whole
// journal into the database and starts again from the database's head
// (recover). A process that appends much while another does makes each of
// their appends pay for that; the commands that run beside `hrgate serve`
// append a few events.
//
// The journal begins with a base frame that states the head it extends;
// after that come the appends. Once the database holds every frame, and
// the database's commit is durable, the journal is cut back to a new base
// frame.

// Journal tuning; variables only so that tests can reach every path.
var (
	// journalIngestEvery is how often appended events are moved into
	// the database. Searches and verification move the journal first,
	// so only the sinks see the tables lag by it. A larger move writes
	// each index page it touches once for more events: moves of 16,384
	// events wrote 14% fewer WAL pages, and flushed the WAL half as
	// often, as moves of 2,048 (BenchmarkJournalMove).
	journalIngestEvery = time.Second
	// journalIngestAt is how many events may wait before they are moved
	// without waiting for the interval.
	journalIngestAt int64 = 16384
	// journalMax bounds the journal beyond its base frame: past it, the
	// mover holds the lock for the last events and cuts the file back;
	// past twice it, an append does so first.
	journalMax int64 = 16 << 20
	// journalMoveHook, when set, runs in each move once it has read the
	// frames to move and let go of the lock.
	journalMoveHook func()
)

// JournalSuffix names the journal of an audit database: the database's
// path followed by it.
const JournalSuffix = ".journal"

// tailSize is how many of the journal's last bytes a process keeps to
// know the file is as it left it: a frame ends with the head's hash and
// MAC, which no other frame repeats.
const tailSize = 64

type journal struct {
	l    *AuditLog
	path string
	f    *os.File

	// mu orders, within the process, what the flock orders between
	// processes: a flock is held by an open file, which this process's
	// goroutines share. It guards the fields below.
	mu sync.Mutex
	// What this process last saw of the file: size < 0 means nothing.
	size int64
	tail []byte
	// base is the length of the base frame; ingested is the offset up to
	// which the database holds the frames.
	base, ingested int64
	head           hrgate.AuditHead
	buf            []byte
	// gen counts the times the journal was cut back by this process, so
	// that a move that ran meanwhile does not take the new file for the
	// one it read.
	gen uint64

	// ingestMu lets one move run at a time in this process.
	ingestMu sync.Mutex
	pending  atomic.Int64
	kick     chan struct{}
	start    sync.Once
	stop     chan struct{}
	stopped  chan struct{}
	closed   atomic.Bool

	closeOnce sync.Once
	closeErr  error

	// syncMu lets one fdatasync run at a time, so that none that started
	// before a failure can report success after it; syncErr is the first
	// failure, which every later sync returns (sync).
	syncMu  sync.Mutex
	syncErr error
}

var (
	errJournalClosed      = &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The audit trail is closed."}
	errJournalUnsupported = &hrgate.Error{Code: hrgate.EINVALID,
		Message: "The SQLite audit trail needs a Unix system; on Windows keep the audit trail in PostgreSQL (audit.database)."}
)

// openJournal opens, or creates, the journal of the SQLite audit database
// at dbPath and recovers it: a torn tail is cut off and every event it
// holds is moved into the database.
func (l *AuditLog) openJournal(ctx context.Context, dbPath string) error {
	if !journalSupported {
		return errJournalUnsupported
	}
	path := dbPath + JournalSuffix
	// Recovery truncates the journal: it is opened as a private file that
	// is not reached through a symbolic link.
	f, err := secretfile.OpenAppend(path, "audit journal")
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	j := &journal{l: l, path: path, f: f, size: -1, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := j.lock(); err != nil {
		f.Close()
		return err
	}
	err = j.recover(ctx)
	j.unlock()
	if err != nil {
		f.Close()
		return err
	}
	l.journal = j
	return nil
}

// lock takes the journal for this goroutine, against this process and
// the others.
func (j *journal) lock() error {
	j.mu.Lock()
	if j.closed.Load() {
		j.mu.Unlock()
		return errJournalClosed
	}
	if err := lockFile(j.f); err != nil {
		j.mu.Unlock()
		return fmt.Errorf("sqlstore: lock the audit journal: %w", err)
	}
	return nil
}

func (j *journal) unlock() {
	_ = unlockFile(j.f) // Closing the file releases it too.
	j.mu.Unlock()
}

// current reports whether the file is as this process left it. The lock
// is held.
func (j *journal) current() (bool, error) {
	if j.size < 0 {
		return false, nil
	}
	fi, err := j.f.Stat()
	if err != nil {
		return false, err
	}
	if fi.Size() != j.size {
		return false, nil
	}
	var tail [tailSize]byte
	t := tail[:len(j.tail)]
	if _, err := j.f.ReadAt(t, j.size-int64(len(t))); err != nil {
		return false, err
	}
	return bytes.Equal(t, j.tail), nil
}

// sync makes the frames written so far durable.
//
// A failed fdatasync is final for this open journal. The kernel reports a
// failed writeback once and may drop the pages it could not write, so a
// later fdatasync can succeed although an earlier frame never reached the
// disk; the open after a crash would then find that frame damaged and cut
// it off together with every frame after it, events whose requests were
// answered. So no later event is acknowledged: every sync fails until the
// trail is opened again, which reads what the disk really holds.
func (j *journal) sync() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.syncErr != nil {
		return j.syncErr
	}
	if err := syncFile(j.f); err != nil {
		j.syncErr = fmt.Errorf("sqlstore: flush the audit journal (nothing is acknowledged until the trail is opened again): %w", err)
		return j.syncErr
	}
	return nil
}

// append seals and writes one frame after the head, as AppendAudit.
func (j *journal) append(ctx context.Context, seal func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) error {
	if err := j.lock(); err != nil {
		return err
	}
	n, err := j.appendLocked(ctx, seal)
	j.unlock()
	if err != nil {
		return err
	}
	j.start.Do(func() { go j.mover() })
	if j.pending.Add(int64(n)) >= journalIngestAt {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (j *journal) appendLocked(ctx context.Context, seal func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) (int, error) {
	ok, err := j.current()
	if err != nil {
		return 0, err
	}
	if !ok || j.size-j.base > 2*journalMax {
		if err := j.recover(ctx); err != nil {
			return 0, err
		}
	}
	rows, next, err := seal(j.head)
	if err != nil {
		return 0, err
	}
	if err := checkAppend(j.head, rows, next); err != nil {
		return 0, err
	}
	if err := j.write(appendFrame(j.buf[:0], rows, next)); err != nil {
		return 0, err
	}
	j.head = next
	return len(rows), nil
}

// write appends b, one frame, to the file. A failed write is cut off, so
// that the next frame does not follow a torn one.
func (j *journal) write(b []byte) error {
	if cap(b) <= 4<<20 {
		j.buf = b
	}
	if _, err := j.f.Write(b); err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.size = -1 // Whoever takes the lock next cuts it.
		}
		return fmt.Errorf("sqlstore: write the audit journal: %w", err)
	}
	j.size += int64(len(b))
	j.tail = append(j.tail[:0], b[len(b)-min(len(b), tailSize):]...)
	return nil
}

// recover moves every frame of the journal into the database and starts
// the journal again from the database's head. A torn tail, which only a
// crash in the middle of a write leaves, is cut off: no append that
// returned is in it. The file is read a frame at a time and moved in
// transactions of about journalMax bytes, so that a journal grown past
// its bound, or damaged, is not read whole into memory. The lock is held.
func (j *journal) recover(ctx context.Context) error { return j.recoverFrom(ctx, 0) }

// recoverFrom is recover reading the journal from offset start, the end
// of a frame the database holds: a journal this process has been moving
// needs only what it appended since its last move read, not the whole
// file decoded again. The lock is held.
func (j *journal) recoverFrom(ctx context.Context, start int64) error {
	fi, err := j.f.Stat()
	if err != nil {
		return err
	}
	start = min(start, fi.Size())
	var (
		batch []frame
		from  = start // where batch starts in the file
		valid int
	)
	end, err := readFrames(io.NewSectionReader(j.f, start, fi.Size()-start), start, fi.Size()-start, func(f frame) error {
		batch = append(batch, f)
		valid++
		if f.end-from < journalMax {
			return nil
		}
		_, err := j.l.ingest(ctx, batch, j.path)
		batch, from = nil, f.end
		return err
	})
	if err != nil {
		return err
	}
	if end < fi.Size() {
		j.l.db.logger.Warn("cutting off the torn end of the audit journal, left by a crash during a write",
			"journal", j.path, "bytes", fi.Size()-end, "valid_frames", valid)
		if err := j.f.Truncate(end); err != nil {
			return fmt.Errorf("sqlstore: cut the audit journal: %w", err)
		}
	}
	// Also with no frame left to move: ingest returns the database's
	// head.
	head, err := j.l.ingest(ctx, batch, j.path)
	if err != nil {
		return err
	}
	return j.rebase(head)
}

// rebase cuts the journal back to a base frame at head, which the
// database holds durably. The lock is held.
func (j *journal) rebase(head hrgate.AuditHead) error {
	// The one step that removes events from the journal: it checks that
	// the database holds them, whatever the caller believes.
	stored, err := scanHead(j.l.db.write.QueryRow(headQuery))
	if err != nil {
		return err
	}
	if stored.Seq != head.Seq || !links(head.Seq, stored.Hash, head.Hash) {
		j.size = -1 // The next to take the lock reads the file again.
		return fmt.Errorf("sqlstore: the audit journal ends at event %d but the database at event %d; not cutting it back", head.Seq, stored.Seq)
	}
	if err := j.l.syncWAL(); err != nil {
		return err
	}
	j.gen++
	j.size = -1
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("sqlstore: cut the audit journal: %w", err)
	}
	j.size = 0
	if err := j.write(appendFrame(j.buf[:0], nil, head)); err != nil {
		return err
	}
	j.base, j.ingested, j.head = j.size, j.size, head
	return nil
}

// flush moves the frames appended so far into the database. Past
// journalMax it finishes under the lock and cuts the journal back;
// otherwise it cuts it back when no frame came meanwhile.
func (j *journal) flush(ctx context.Context) error {
	j.ingestMu.Lock()
	defer j.ingestMu.Unlock()
	j.pending.Store(0)
	if err := j.lock(); err != nil {
		return err
	}
	ok, err := j.current()
	if err != nil || !ok {
		if err == nil {
			err = j.recover(ctx)
		}
		j.unlock()
		return err
	}
	from, to, gen := j.ingested, j.size, j.gen
	if from == to {
		// Nothing new: the database holds the whole journal, which is
		// cut back unless it is only its base frame.
		if j.size > j.base {
			err = j.rebase(j.head)
		}
		j.unlock()
		return err
	}
	data := make([]byte, to-from)
	_, err = j.f.ReadAt(data, from)
	j.unlock()
	if err != nil {
		return fmt.Errorf("sqlstore: read the audit journal: %w", err)
	}
	if journalMoveHook != nil {
		journalMoveHook()
	}
	// Outside the lock: appends go on while the database takes these.
	var frames []frame
	end, err := readFrames(bytes.NewReader(data), from, to-from, func(f frame) error {
		frames = append(frames, f)
		return nil
	})
	if err != nil {
		return err
	}
	if end != to {
		// Damaged since it was written: whoever takes the lock next
		// reads the whole file again and cuts it where it fails.
		if err := j.lock(); err != nil {
			return err
		}
		j.size = -1
		j.unlock()
		return errors.New("sqlstore: the audit journal is damaged after a complete frame")
	}
	if _, err := j.l.ingest(ctx, frames, j.path); err != nil {
		return err
	}

	if err := j.lock(); err != nil {
		return err
	}
	defer j.unlock()
	if ok, err := j.current(); err != nil || !ok {
		if err == nil {
			err = j.recover(ctx)
		}
		return err
	}
	if j.gen != gen {
		// Cut back meanwhile, after a move of everything: the offsets
		// read above are of another file.
		return nil
	}
	j.ingested = to
	switch {
	case j.size == to && j.size > j.base:
		// The database holds every frame: head is j.head, which rebase
		// checks.
		return j.rebase(j.head)
	case j.size-j.base > journalMax:
		// The database holds the journal up to to, as current showed
		// no other process appended since: only what came after it is
		// read again.
		return j.recoverFrom(ctx, to)
	}
	return nil
}

// mover moves the journal into the database every journalIngestEvery,
// or sooner when journalIngestAt events wait, until close.
func (j *journal) mover() {
	defer close(j.stopped)
	t := time.NewTicker(journalIngestEvery)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
		case <-j.kick:
		}
		if err := j.flush(context.Background()); err != nil && !errors.Is(err, errJournalClosed) {
			j.l.db.logger.Error("moving the audit journal into the database failed", "journal", j.path, "err", err)
		}
	}
}

// close stops the mover, moves what is left into the database and closes
// the file.
func (j *journal) close() error {
	j.closeOnce.Do(func() {
		j.start.Do(func() { close(j.stopped) }) // No mover ever started.
		close(j.stop)
		<-j.stopped
		err := j.lock()
		if err == nil {
			err = j.recover(context.Background())
			j.closed.Store(true)
			j.unlock()
		}
		j.closed.Store(true)
		j.closeErr = errors.Join(err, j.f.Close())
	})
	return j.closeErr
}

// ingest inserts, in one transaction, the events of frames the database
// lacks, and returns the database's head after it. frames must begin at
// or before the database's head and link to it there; else the journal
// does not extend the trail in the database and is refused, by the
// sequence number where they part.
func (l *AuditLog) ingest(ctx context.Context, frames []frame, path string) (hrgate.AuditHead, error) {
	const op = "sqlstore.ingestAudit"
	if err := l.prepare(ctx); err != nil {
		return hrgate.AuditHead{}, l.db.translate(err, op)
	}
	var head hrgate.AuditHead
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := l.stmt(ctx, tx, headQuery)
		if err != nil {
			return err
		}
		if head, err = scanHead(st.QueryRowContext(ctx)); err != nil {
			return err
		}
		// The frames the database holds already: the newest of them
		// must agree with it.
		i := 0
		for i < len(frames) && frames[i].head.Seq <= head.Seq {
			i++
		}
		if i > 0 {
			if err := l.agrees(ctx, tx, head, &frames[i-1].head, path); err != nil {
				return err
			}
		}
		if i == len(frames) {
			return nil
		}
		if seq, hash := frames[i].start(); seq != head.Seq || !links(seq, hash, head.Hash) {
			return linkError(head.Seq+1, fmt.Sprintf("the audit journal %s does not continue the trail in the database (its events from %d on follow event %d; the database ends at event %d)",
				path, seq+1, seq, head.Seq))
		}
		var rows []*hrgate.AuditRow
		for _, f := range frames[i:] {
			rows = append(rows, f.rows...)
		}
		next := frames[len(frames)-1].head
		if err := l.storeRows(ctx, tx, head, rows, next); err != nil {
			return err
		}
		head = next
		return nil
	})
	return head, l.db.translate(err, op)
}

// agrees checks that the database holds, at the journal position at, the
// event the journal names there.
func (l *AuditLog) agrees(ctx context.Context, tx *sql.Tx, head hrgate.AuditHead, at *hrgate.AuditHead, path string) error {
	if at.Seq == head.Seq {
		if !links(at.Seq, at.Hash, head.Hash) {
			return linkError(at.Seq, fmt.Sprintf("the audit journal %s and the database hold different events", path))
		}
		return nil
	}
	if at.Seq == 0 {
		return nil
	}
	// The database went on past the journal: whoever appended did it
	// without the journal. Its event there must still be the journal's.
	var seal []byte
	err := tx.QueryRowContext(ctx, `SELECT seal FROM audit_events WHERE seq = ?`, at.Seq).Scan(&seal)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (len(seal) != sealSize || !bytes.Equal(seal[32:64], at.Hash))) {
		return linkError(at.Seq, fmt.Sprintf("the audit journal %s and the database hold different events", path))
	}
	return err
}

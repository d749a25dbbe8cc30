package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hrgate/hrgate"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Checkpoint, when set, is a checkpoint kept outside the database
	// (`hrgate audit checkpoint --out`): the trail must hold its event
	// with its hash.
	Checkpoint *Checkpoint
	// Workers bounds how many ranges of the trail are read at once; zero
	// means one per processor.
	Workers int
}

// Report is the outcome of Verify. When OK is false, BrokenSeq is the
// first sequence number at which the trail fails and Problem says how.
type Report struct {
	OK        bool
	BrokenSeq int64
	Problem   string
	// Events is the number of events that verified.
	Events int64
	// Head is the trail's head as last read.
	Head hrgate.AuditHead
	// Checkpoints counts the signed checkpoints in the trail that
	// verified; Newest is the newest of them.
	Checkpoints int
	Newest      *Checkpoint
}

// chunkSize is how many events one worker verifies at a time. Chunks
// small enough that the workers finish close together, large enough that
// the queries starting each chunk cost little.
const chunkSize = 1 << 14

// Verify walks the whole trail in store and checks every link: each
// event's hash over its sequence number, its predecessor's hash and its
// body; its MAC under the chain key; its search columns and record index
// against its body; the order of time; the signature and position of
// every checkpoint; the head's MAC and that the last event is the head;
// and, with opts.Checkpoint, that the trail still holds the event that
// checkpoint signed. It stops at the first failure. An edited event fails
// at its own sequence number, a removed one at its number (or, for a
// stretch at the end, at the first number missing), an inserted or moved
// one where the chain no longer links. The error is for failures to read
// the trail; what the trail holds is in the report.
func Verify(ctx context.Context, store hrgate.AuditStore, keys *Keys, opts VerifyOptions) (*Report, error) {
	head, err := store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Head: head}
	if c := opts.Checkpoint; c != nil {
		if err := c.Check(keys.Public); err != nil {
			rep.fail(0, "the checkpoint given: "+err.Error())
			return rep, nil
		}
	}

	// The events up to the head read at the start, in chunks that the
	// workers take in order of sequence number.
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	spans, err := walkChunks(ctx, store, keys, opts.Checkpoint, head.Seq, workers)
	if err != nil {
		return nil, err
	}
	tail := newSpan(keys, 1, opts.Checkpoint)
	for i, s := range spans {
		if i > 0 {
			// The first event of a chunk must link to the last of the
			// chunk before, and not go back in time. A break here comes
			// before any the chunk found inside.
			switch prev := spans[i-1]; {
			case s.events == 0:
			case !bytes.Equal(s.firstPrev, prev.lastHash):
				s.broken, s.problem = s.lo, fmt.Sprintf("event %d does not link to event %d: an event between them was removed, inserted or moved", s.lo, s.lo-1)
			case s.firstTime < prev.lastTime:
				s.broken, s.problem = s.lo, fmt.Sprintf("event %d is older than event %d", s.lo, s.lo-1)
			}
		}
		rep.Events += s.events
		rep.Checkpoints += s.checkpoints
		if s.newest != nil {
			rep.Newest = s.newest
		}
		if s.problem != "" {
			rep.fail(s.broken, s.problem)
			return rep, nil
		}
		tail.continueAfter(s)
	}
	if head.Seq == 0 {
		tail.expect = 1
	}

	// Then the events appended since, until the last event is the head:
	// a server may be appending while this runs. Each round reads what
	// was appended in the meantime; a head that stays ahead of the last
	// event means the tail was cut off.
	for round := 0; ; round++ {
		before := tail.events
		if err := tail.walk(ctx, store, math.MaxInt64); err != nil {
			return nil, err
		}
		rep.Events += tail.events - before
		rep.Checkpoints += tail.checkpoints
		tail.checkpoints = 0
		if tail.newest != nil {
			rep.Newest = tail.newest
		}
		if tail.broken != 0 || tail.problem != "" {
			rep.fail(tail.broken, tail.problem)
			return rep, nil
		}
		if head, err = store.AuditHead(ctx); err != nil {
			return nil, err
		}
		rep.Head = head
		last := tail.expect - 1
		if last > head.Seq {
			rep.fail(head.Seq+1, fmt.Sprintf("event %d lies beyond the head of the trail (event %d): it was added without the chain's writer", head.Seq+1, head.Seq))
			return rep, nil
		}
		if last == head.Seq {
			break
		}
		if round == 2 {
			rep.fail(last+1, fmt.Sprintf("events %d to %d are missing: the tail of the trail was cut off", last+1, head.Seq))
			return rep, nil
		}
	}
	if head.Seq > 0 {
		h := keys.newHasher()
		switch {
		case !equalMAC(h.headMAC(head), head.MAC):
			rep.fail(head.Seq+1, fmt.Sprintf("the head of the trail (at event %d) fails its MAC: it was rewritten, and events from %d on may have been cut off",
				head.Seq, head.Seq+1))
			return rep, nil
		case !bytes.Equal(head.Hash, tail.lastHash) || head.Time.UnixMicro() != tail.lastTime:
			rep.fail(head.Seq, fmt.Sprintf("event %d is not the event the head of the trail records", head.Seq))
			return rep, nil
		}
	}
	if c := opts.Checkpoint; c != nil {
		pinned := tail.pinned
		for _, s := range spans {
			if s.pinned != nil {
				pinned = s.pinned
			}
		}
		switch {
		case c.Seq > head.Seq:
			rep.fail(head.Seq+1, fmt.Sprintf("the trail ends at event %d but the checkpoint covers event %d: events %d to %d were cut off",
				head.Seq, c.Seq, head.Seq+1, c.Seq))
			return rep, nil
		case !bytes.Equal(pinned, c.HeadHash):
			rep.fail(c.Seq, fmt.Sprintf("event %d differs from the checkpoint of %s: the trail up to it was rewritten",
				c.Seq, c.Time.Format("2006-01-02T15:04:05Z07:00")))
			return rep, nil
		}
	}
	rep.OK = true
	return rep, nil
}

func (r *Report) fail(seq int64, problem string) {
	r.OK, r.BrokenSeq, r.Problem = false, seq, problem
}

// walkChunks verifies the events from 1 to last with workers goroutines,
// in chunks of chunkSize events, and returns one span per chunk, in
// order, each checked inside but not yet joined to the one before it.
// Once a chunk has failed, chunks after it are left unread (nil): the
// first failure is the one reported, and every chunk before the failed
// one was taken before it and is read to the end.
func walkChunks(ctx context.Context, store hrgate.AuditStore, keys *Keys, pin *Checkpoint, last int64, workers int) ([]*span, error) {
	spans := make([]*span, (last+chunkSize-1)/chunkSize)
	var (
		next   atomic.Int64 // the next chunk to take
		broken atomic.Int64 // the lowest sequence number failed so far
		wg     sync.WaitGroup
		errs   = make([]error, workers)
	)
	broken.Store(math.MaxInt64)
	for w := range min(workers, len(spans)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				lo := 1 + i*chunkSize
				if i >= int64(len(spans)) || lo > broken.Load() {
					return
				}
				s := newSpan(keys, lo, pin)
				if err := s.walk(ctx, store, min(lo+chunkSize-1, last)); err != nil {
					errs[w] = err
					broken.Store(0)
					return
				}
				spans[i] = s
				if s.problem != "" {
					lowerTo(&broken, s.broken)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return spans, nil
}

// lowerTo sets v to x unless v holds a lower number, whatever other
// goroutines store meanwhile.
func lowerTo(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x >= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}

// span verifies one range of the trail in order.
type span struct {
	keys   *Keys
	h      *hasher
	lo     int64
	expect int64
	pin    *Checkpoint

	firstPrev []byte
	firstTime int64
	lastHash  []byte
	lastTime  int64
	pinned    []byte

	events      int64
	checkpoints int
	newest      *Checkpoint
	broken      int64
	problem     string

	f       fields
	sum     [2 * HashSize]byte
	columns []byte
	stored  [][]byte
}

func newSpan(keys *Keys, lo int64, pin *Checkpoint) *span {
	return &span{keys: keys, h: keys.newHasher(), lo: lo, expect: lo, pin: pin, lastTime: math.MinInt64}
}

// continueAfter sets s to go on where prev ended.
func (s *span) continueAfter(prev *span) {
	if prev.events == 0 {
		return
	}
	s.expect = prev.expect
	s.lastHash = append(s.lastHash[:0], prev.lastHash...)
	s.lastTime = prev.lastTime
}

func (s *span) fail(seq int64, problem string) {
	if s.problem == "" {
		s.broken, s.problem = seq, problem
	}
}

var errStop = errors.New("stop")

// walk checks the events from s.expect to hi.
func (s *span) walk(ctx context.Context, store hrgate.AuditStore, hi int64) error {
	err := store.ScanAuditRows(ctx, s.expect, hi, func(row *hrgate.AuditScanRow) error {
		if !s.check(row) {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	if s.problem == "" && hi != math.MaxInt64 && s.expect <= hi {
		s.fail(s.expect, fmt.Sprintf("events %d to %d are missing", s.expect, hi))
	}
	return nil
}

// check verifies one row and reports whether the walk goes on.
func (s *span) check(row *hrgate.AuditScanRow) bool {
	seq := row.Seq
	if row.Body == nil {
		s.fail(seq, fmt.Sprintf("the record index names event %d, which does not exist", seq))
		return false
	}
	if seq != s.expect {
		s.fail(s.expect, fmt.Sprintf("event %d is missing: it was removed", s.expect))
		return false
	}
	if len(row.Seal) != 3*HashSize {
		s.fail(seq, fmt.Sprintf("event %d is malformed", seq))
		return false
	}
	prev, stored, mac := row.Seal[:HashSize], row.Seal[HashSize:2*HashSize], row.Seal[2*HashSize:]
	switch {
	case seq == 1 && !bytes.Equal(prev, make([]byte, HashSize)):
		s.fail(seq, "event 1 links to a predecessor: events before it were removed")
		return false
	case s.events == 0 && seq == s.lo && s.lastHash == nil:
		s.firstPrev = bytes.Clone(prev)
	case !bytes.Equal(prev, s.lastHash):
		s.fail(seq, fmt.Sprintf("event %d does not link to event %d: an event between them was removed, inserted or moved", seq, seq-1))
		return false
	}
	hash := s.h.eventHash(s.sum[:0], seq, prev, row.Body)
	if !bytes.Equal(hash, stored) {
		s.fail(seq, fmt.Sprintf("event %d does not match its hash: it was edited", seq))
		return false
	}
	if !equalMAC(s.h.eventMAC(s.sum[HashSize:HashSize], hash), mac) {
		s.fail(seq, fmt.Sprintf("event %d fails its MAC: it was written or rewritten without the chain key", seq))
		return false
	}
	f := &s.f
	if err := f.scan(row.Body); err != nil {
		s.fail(seq, fmt.Sprintf("event %d is malformed", seq))
		return false
	}
	if col := s.columnMismatch(row); col != "" {
		s.fail(seq, fmt.Sprintf("event %d: the stored %s differs from the event: it was edited", seq, col))
		return false
	}
	if f.time < s.lastTime {
		s.fail(seq, fmt.Sprintf("event %d is older than event %d", seq, seq-1))
		return false
	}
	if string(f.typ) == hrgate.AuditCheckpoint {
		c, err := ParseCheckpoint(f.after)
		if err == nil {
			err = c.Check(s.keys.Public)
		}
		if err == nil && (c.Seq != seq-1 || !bytes.Equal(c.HeadHash, prev)) {
			err = errors.New("it does not cover the event before it")
		}
		if err != nil {
			s.fail(seq, fmt.Sprintf("checkpoint %d does not verify: %v", seq, err))
			return false
		}
		s.checkpoints++
		s.newest = c
	}
	if s.pin != nil && s.pin.Seq == seq {
		s.pinned = bytes.Clone(stored)
	}
	if s.events == 0 && seq == s.lo {
		s.firstTime = f.time
	}
	s.lastHash = append(s.lastHash[:0], stored...)
	s.lastTime = f.time
	s.events++
	s.expect++
	return true
}

// columnNames are the search columns in the order of AuditScanRow.Columns.
var columnNames = [...]string{"time", "type", "consumer_id", "credential_id"}

// columnMismatch names the first search column of row that differs from
// its body (already scanned into s.f), or returns "".
func (s *span) columnMismatch(row *hrgate.AuditScanRow) string {
	f := &s.f
	want := strconv.AppendInt(s.columns[:0], f.time, 10)
	for _, v := range [...][]byte{f.typ, f.consumer, f.cred} {
		want = append(append(want, '\n'), v...)
	}
	s.columns = want
	if !bytes.Equal(want, row.Columns) {
		got, exp := bytes.Split(row.Columns, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i, name := range columnNames {
			if i >= len(got) || !bytes.Equal(got[i], exp[i]) {
				return name
			}
		}
		return "search columns"
	}
	// The index holds each record id of the event once.
	ids := f.records
	if !slices.IsSortedFunc(ids, bytes.Compare) {
		slices.SortFunc(ids, bytes.Compare)
	}
	ids = slices.CompactFunc(ids, bytes.Equal)
	s.stored = append(s.stored[:0], row.Records...)
	if !slices.IsSortedFunc(s.stored, bytes.Compare) {
		slices.SortFunc(s.stored, bytes.Compare)
	}
	if !slices.EqualFunc(ids, s.stored, bytes.Equal) {
		return "record index"
	}
	return ""
}

package audit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrgate/hrgate"
)

// Options configures a Log.
type Options struct {
	// Instance names this process in its events; empty means the host
	// name.
	Instance string
	// CheckpointEvery is how often the log appends a signed checkpoint
	// when events were appended since the last one; zero appends none
	// on its own (short-lived CLI commands).
	CheckpointEvery time.Duration
	// MaxBatch bounds how many events share one transaction; zero means
	// DefaultMaxBatch.
	MaxBatch int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failures to write the trail; nil discards them.
	Logger *slog.Logger
}

// DefaultMaxBatch is the default bound of a group commit. It is large
// enough that a commit's fsync is shared by every request in flight, and
// small enough that one transaction stays well under a megabyte.
const DefaultMaxBatch = 1024

// Log appends events to the trail with group commit: one writer
// goroutine takes every event waiting, seals them into the chain and
// writes them in one transaction, so that concurrent requests share one
// commit; a second goroutine makes the commits durable (the store's
// SyncAudit, one flush for every commit made meanwhile) while the writer
// goes on with the next batch. Record returns when its event is durable.
// Log also reads the trail (Reader). It is safe for concurrent use.
type Log struct {
	*Reader
	store    hrgate.AuditStore
	log      *slog.Logger
	now      func() time.Time
	instance string
	maxBatch int
	every    time.Duration

	// mu guards closed; senders hold it shared so that Close cannot
	// close the queue under them.
	mu     sync.RWMutex
	closed bool
	queue  chan request
	// stopped is closed when the writer and the syncer have exited;
	// closeErr is then set.
	stopped  chan struct{}
	closeErr error

	// toSync carries, from the writer to the syncer, the outcome channels
	// of each committed batch, to be told once the batch is durable.
	toSync   chan []chan error
	syncDone chan struct{}
	// syncFailed records, for Close, that a flush failed.
	syncFailed atomic.Bool
	// inflight counts the batches handed to the syncer and not yet
	// flushed; flushed is signalled after each flush.
	inflight atomic.Int64
	flushed  chan struct{}
	// flushTook is how long, in nanoseconds, the newest flush took.
	flushTook atomic.Int64

	// Owned by the writer goroutine.
	hasher       *hasher
	rows         []*hrgate.AuditRow
	nextHead     hrgate.AuditHead
	lastSeq      int64 // newest event this log appended
	checkpointed int64 // event covered by this log's newest checkpoint
	// For linger: the size of the newest batch, the time from the commit
	// before it to its own, and when it was committed.
	lastBatch  int
	lastCycle  time.Duration
	lastCommit time.Time
	timer      *time.Timer
	// after arms the timer that ends a wait of linger and returns its
	// channel: armTimer, which a test replaces to hold linger waiting.
	after func(time.Duration) <-chan time.Time
}

// request is one event waiting for the writer. done, buffered, receives
// the outcome of a Record; Enqueue leaves it nil.
type request struct {
	ev   *hrgate.AuditEvent
	done chan error
}

var (
	errClosed = &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The audit trail is closed."}
	donePool  = sync.Pool{New: func() any { return make(chan error, 1) }}
)

// Open starts a log over store. The writer runs until Close, which writes
// every event accepted before it; cancelling ctx stops the writer at once
// and fails what is still waiting. Open checks the head's MAC and logs an
// error when it fails (run `hrgate audit verify`), but appends anyway: an
// unverifiable trail still records what happens next.
func Open(ctx context.Context, store hrgate.AuditStore, keys *Keys, opts Options) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Instance == "" {
		opts.Instance, _ = os.Hostname()
	}
	l := &Log{
		Reader:   NewReader(store, keys),
		store:    store,
		log:      opts.Logger,
		now:      opts.Now,
		instance: opts.Instance,
		maxBatch: opts.MaxBatch,
		every:    opts.CheckpointEvery,
		queue:    make(chan request, 4*opts.MaxBatch),
		stopped:  make(chan struct{}),
		toSync:   make(chan []chan error, 64),
		syncDone: make(chan struct{}),
		flushed:  make(chan struct{}, 1),
		hasher:   keys.newHasher(),
		timer:    time.NewTimer(time.Hour),
	}
	l.timer.Stop()
	l.after = l.armTimer
	head, err := store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	if head.Seq > 0 && !equalMAC(l.hasher.headMAC(head), head.MAC) {
		l.log.Error("the audit trail's head does not verify under the chain key; run `hrgate audit verify`", "seq", head.Seq)
	}
	l.lastSeq, l.checkpointed = head.Seq, head.Seq
	go l.syncer(ctx)
	go l.run(ctx)
	return l, nil
}

// AuditEvents implements hrgate.AuditReader, up to the newest event
// recorded: it flushes the store first (FlushAudit). Readers that may lag
// by the store's flush interval, such as the sinks, read through Reader.
// Searches (FindAuditEvents) are exact either way: the store flushes
// before each.
func (l *Log) AuditEvents(ctx context.Context, afterSeq int64, limit int) ([]*hrgate.AuditEvent, error) {
	if err := l.store.FlushAudit(ctx); err != nil {
		return nil, err
	}
	return l.Reader.AuditEvents(ctx, afterSeq, limit)
}

// Instance returns the name the log gives this process in events.
func (l *Log) Instance() string { return l.instance }

// Record implements hrgate.AuditRecorder: it returns once ev is durable.
// The log owns ev from then on: it sets its time when zero (and moves it
// forward to keep the trail in time order), its instance, its sequence
// number and its chain fields. When ctx ends first, Record returns its
// error but the event is still written.
func (l *Log) Record(ctx context.Context, ev *hrgate.AuditEvent) error {
	if err := l.prepare(ev); err != nil {
		return err
	}
	done := donePool.Get().(chan error)
	if err := l.send(ctx, request{ev: ev, done: done}); err != nil {
		donePool.Put(done)
		return err
	}
	select {
	case err := <-done:
		donePool.Put(done)
		return err
	case <-ctx.Done():
		// The writer still sends on done, which is buffered; it is not
		// returned to the pool.
		return ctx.Err()
	}
}

// Enqueue implements hrgate.AuditRecorder: ev is written with the next
// group commit, without waiting. It waits only while the queue is full.
// An event that cannot be written is retried until Close, which reports
// whatever is lost. A malformed event is logged and dropped.
func (l *Log) Enqueue(ev *hrgate.AuditEvent) {
	if err := l.prepare(ev); err != nil {
		l.log.Error("audit event refused", "type", ev.Type, "err", err)
		return
	}
	if err := l.send(context.Background(), request{ev: ev}); err != nil {
		l.log.Error("audit event lost: the log is closed", "type", ev.Type)
	}
}

// Checkpoint appends a signed checkpoint covering the newest event and
// returns it once it is durable. An empty trail has nothing to
// checkpoint (ENOTFOUND).
func (l *Log) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	head, err := l.store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	if head.Seq == 0 {
		return nil, hrgate.Errorf(hrgate.ENOTFOUND, "The audit trail is empty: there is nothing to checkpoint yet.")
	}
	ev := l.checkpointEvent()
	done := donePool.Get().(chan error)
	if err := l.send(ctx, request{ev: ev, done: done}); err != nil {
		return nil, err
	}
	select {
	case err := <-done:
		donePool.Put(done)
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ParseCheckpoint(ev.After)
}

func (l *Log) checkpointEvent() *hrgate.AuditEvent {
	return &hrgate.AuditEvent{
		Type: hrgate.AuditCheckpoint, Time: l.now().UTC().Truncate(time.Microsecond),
		Instance: l.instance, ActorKind: hrgate.ActorSystem, Actor: "audit",
	}
}

func (l *Log) send(ctx context.Context, r request) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errClosed
	}
	select {
	case l.queue <- r:
		return nil
	case <-l.stopped:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, writes every event already accepted and
// returns once the writer has exited, with an error if any event could not
// be written. It may be called more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
	}
	l.mu.Unlock()
	<-l.stopped
	return l.closeErr
}

// Retry policy of events that need not hold an answer (Enqueue): a failed
// append is retried every retryEvery while the log runs and up to
// finalTries times at Close; at most maxRetained wait meanwhile.
const (
	retryEvery  = time.Second
	finalTries  = 5
	maxRetained = 100_000
	// finalTimeout bounds the last appends at Close, so that a database
	// that hangs cannot hold up shutdown for ever.
	finalTimeout = 30 * time.Second
)

// run is the writer.
func (l *Log) run(ctx context.Context) {
	defer func() {
		close(l.toSync)
		<-l.syncDone
		if l.syncFailed.Load() && l.closeErr == nil {
			l.closeErr = &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "Audit events may not have reached the disk.",
				Err: errors.New("flushing the trail failed")}
		}
		close(l.stopped)
	}()
	var tick <-chan time.Time
	if l.every > 0 {
		t := time.NewTicker(l.every)
		defer t.Stop()
		tick = t.C
	}
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	var (
		batch    = make([]request, 0, l.maxBatch)
		retained []request
	)
	for {
		batch = batch[:0]
		select {
		case r, ok := <-l.queue:
			if !ok {
				l.closeErr = l.finish(retained)
				return
			}
			batch = append(batch, r)
		case <-tick:
			if l.lastSeq <= l.checkpointed {
				continue
			}
			batch = append(batch, request{ev: l.checkpointEvent()})
		case <-retry.C:
			if len(retained) == 0 {
				continue
			}
		case <-ctx.Done():
			l.abandon(retained, ctx.Err())
			return
		}
		batch = l.gather(batch)
		n := min(len(retained), l.maxBatch)
		batch = append(batch, retained[:n]...)
		retained = retained[n:]
		for _, r := range l.commit(ctx, batch) {
			if len(retained) >= maxRetained {
				l.log.Error("audit event lost: too many events wait for the trail to become writable", "type", r.ev.Type)
				continue
			}
			retained = append(retained, r)
		}
	}
}

// gather adds to batch the events waiting and, while a flush is under
// way, those that arrive before it ends: a commit made during a flush
// would wait for the disk anyway, and its events would need another
// flush, so under load every flush serves as many events as arrived
// during the one before. A full batch goes at once.
//
// Then, under load, it lingers (linger). Each flush costs the same CPU
// however many events it carries, and on a virtual machine a flush
// costs as much CPU as several requests.
func (l *Log) gather(batch []request) []request {
	batch = l.drain(batch)
	for l.inflight.Load() > 0 && len(batch) < l.maxBatch {
		select {
		case r, ok := <-l.queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-l.flushed:
		}
	}
	batch = l.drain(batch)
	return l.linger(batch)
}

// Bounds of linger: it never waits longer than maxLinger in all, and
// waits for the next event at least minGap before it concludes that no
// more are coming.
const (
	maxLinger = 2 * time.Millisecond
	minGap    = 20 * time.Microsecond
)

// linger goes on gathering events for up to as long as the last flush
// took, as long as they keep coming: the batch then shares one flush with
// the events that would have needed the next one, and with many callers
// waiting on a slow flush the flushes per event halve. It waits only
// when the batch before carried more than one event (there is
// concurrency to wait for) and the store's flush takes time (SQLite; on
// PostgreSQL the commit is the flush and SyncAudit returns at once). It
// stops as soon as no event has come for three times the mean gap
// between the events of the batch before, so that when every caller is
// already waiting on this batch it does not hold them up for the whole
// time.
func (l *Log) linger(batch []request) []request {
	flush := time.Duration(l.flushTook.Load())
	if l.lastBatch < 2 || len(batch) == 0 || len(batch) >= l.maxBatch || flush < 2*minGap {
		return batch
	}
	wait := min(flush, maxLinger)
	// The cycle is bounded first: after an idle spell (or before the
	// first commit) it is long, and three times it could overflow.
	gap := max(3*min(l.lastCycle, time.Second)/time.Duration(l.lastBatch), minGap)
	start := time.Now()
	for left := wait; len(batch) < l.maxBatch; {
		fired := l.after(min(gap, left))
		select {
		case r, ok := <-l.queue:
			l.timer.Stop()
			if !ok {
				return batch
			}
			batch = l.drain(append(batch, r))
			if left = wait - time.Since(start); left > 0 {
				continue
			}
		case <-fired:
		}
		break
	}
	return batch
}

// armTimer arms l.timer to fire after d and returns its channel. Since Go
// 1.23 Reset and Stop leave no stale tick behind.
func (l *Log) armTimer(d time.Duration) <-chan time.Time {
	l.timer.Reset(d)
	return l.timer.C
}

// drain adds to batch the events waiting in the queue, up to maxBatch.
func (l *Log) drain(batch []request) []request {
	for len(batch) < l.maxBatch {
		select {
		case r, ok := <-l.queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit appends batch in one transaction and tells each Record the
// outcome. It returns the events of Enqueue that failed, to retry.
func (l *Log) commit(ctx context.Context, batch []request) (failed []request) {
	if len(batch) == 0 {
		return nil
	}
	now := time.Now()
	l.lastBatch, l.lastCycle, l.lastCommit = len(batch), now.Sub(l.lastCommit), now
	err := l.store.AppendAudit(ctx, func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error) {
		return l.seal(head, batch), l.nextHead, nil
	})
	if err != nil {
		l.log.Error("writing the audit trail failed", "events", len(batch), "err", err)
		err = &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The audit trail cannot be written.", Err: err}
	} else {
		for i, r := range batch {
			row := l.rows[i]
			r.ev.Seq, r.ev.PrevHash, r.ev.Hash, r.ev.MAC = row.Seq, row.PrevHash, row.Hash, row.MAC
			if r.ev.Type == hrgate.AuditCheckpoint {
				// The checkpoint covers the event before it and, as
				// nothing else, itself: an idle log does not checkpoint
				// its own checkpoints.
				l.checkpointed = row.Seq
			}
		}
		l.lastSeq = l.nextHead.Seq
	}
	if err != nil {
		for _, r := range batch {
			switch {
			case r.done != nil:
				r.done <- err
			default:
				failed = append(failed, r)
			}
		}
		return failed
	}
	// Committed: each Record hears once the commit is durable.
	var waiting []chan error
	for _, r := range batch {
		if r.done != nil {
			waiting = append(waiting, r.done)
		}
	}
	l.inflight.Add(1)
	l.toSync <- waiting
	return nil
}

// syncer makes committed batches durable and tells their Records. One
// flush covers every batch committed before it starts, so under load a
// flush serves several commits, and it runs while the writer commits the
// next batch.
func (l *Log) syncer(ctx context.Context) {
	defer close(l.syncDone)
	for first := range l.toSync {
		batches := [][]chan error{first}
	more:
		for {
			select {
			case b, ok := <-l.toSync:
				if !ok {
					break more
				}
				batches = append(batches, b)
			default:
				break more
			}
		}
		var err error
		start := time.Now()
		serr := l.store.SyncAudit(context.WithoutCancel(ctx))
		l.flushTook.Store(int64(time.Since(start)))
		if serr != nil {
			l.syncFailed.Store(true)
			l.log.Error("flushing the audit trail failed", "err", serr)
			err = &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The audit trail cannot be written.", Err: serr}
		}
		for _, b := range batches {
			for _, done := range b {
				done <- err
			}
		}
		l.inflight.Add(-int64(len(batches)))
		select {
		case l.flushed <- struct{}{}:
		default:
		}
	}
}

// seal numbers, encodes, hashes and MACs batch after head, filling l.rows
// and l.nextHead. Times never go backwards: an event older than the head
// takes the head's time, so that a time range is a range of sequence
// numbers in every instance's events.
func (l *Log) seal(head hrgate.AuditHead, batch []request) []*hrgate.AuditRow {
	h := l.hasher
	l.rows = l.rows[:0]
	prev := prevOf(head)
	t := head.Time
	size := 0
	for _, r := range batch {
		size += 256 + 32*len(r.ev.RecordIDs) + len(r.ev.Before) + len(r.ev.After)
	}
	arena := make([]byte, 0, size)
	sums := make([]byte, 0, 2*HashSize*len(batch))
	for i, r := range batch {
		ev := r.ev
		seq := head.Seq + int64(i) + 1
		if ev.Time.Before(t) {
			ev.Time = t
		}
		t = ev.Time
		if ev.Type == hrgate.AuditCheckpoint {
			// The statement covers the event just before this one.
			ev.After, _ = json.Marshal(l.keys.sign(seq-1, prev, t))
		}
		// Should the arena outgrow its estimate, the bodies sliced so far
		// keep pointing into the old array, which stays as it was.
		start := len(arena)
		arena = Encode(arena, ev)
		body := arena[start:len(arena):len(arena)]
		s := len(sums)
		sums = h.eventHash(sums, seq, prev, body)
		hash := sums[s:len(sums):len(sums)]
		sums = h.eventMAC(sums, hash)
		mac := sums[s+HashSize : len(sums) : len(sums)]
		l.rows = append(l.rows, &hrgate.AuditRow{
			Seq: seq, Time: t, Type: ev.Type, ConsumerID: ev.ConsumerID, CredentialID: ev.CredentialID,
			RecordIDs: ev.RecordIDs, Body: body, PrevHash: prev, Hash: hash, MAC: mac,
		})
		prev = hash
	}
	l.nextHead = hrgate.AuditHead{Seq: head.Seq + int64(len(batch)), Hash: prev, Time: t}
	l.nextHead.MAC = h.headMAC(l.nextHead)
	return l.rows
}

// finish writes what is left at Close.
func (l *Log) finish(retained []request) error {
	ctx, cancel := context.WithTimeout(context.Background(), finalTimeout)
	defer cancel()
	batch := make([]request, 0, l.maxBatch)
	for r := range l.queue {
		batch = append(batch, r)
		if len(batch) == l.maxBatch {
			retained = append(retained, l.commit(ctx, batch)...)
			batch = batch[:0]
		}
	}
	retained = append(retained, l.commit(ctx, batch)...)
	for try := 1; len(retained) > 0 && try <= finalTries && ctx.Err() == nil; try++ {
		time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		var still []request
		for start := 0; start < len(retained); start += l.maxBatch {
			still = append(still, l.commit(ctx, retained[start:min(start+l.maxBatch, len(retained))])...)
		}
		retained = still
	}
	if len(retained) > 0 {
		l.log.Error("audit events lost at shutdown: the trail cannot be written", "events", len(retained))
		return &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "Audit events could not be written before shutdown.",
			Err: errors.New("the trail cannot be written")}
	}
	return nil
}

// abandon fails everything still waiting when the writer is cancelled.
func (l *Log) abandon(retained []request, cause error) {
	err := &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The audit trail is closed.", Err: cause}
	lost := len(retained)
	for {
		select {
		case r, ok := <-l.queue:
			if !ok {
				l.report(lost)
				return
			}
			if r.done != nil {
				r.done <- err
			} else {
				lost++
			}
		default:
			l.report(lost)
			return
		}
	}
}

func (l *Log) report(lost int) {
	if lost > 0 {
		l.log.Error("audit events lost: the log was cancelled before they were written", "events", lost)
	}
}

// Package sink streams the audit trail to SIEMs and collectors: a JSON
// lines file with size-based rotation, syslog (RFC 5424 over TLS, TCP or
// UDP) and HTTP event collectors that speak Splunk HEC.
//
// Each configured sink has a goroutine of its own that reads the trail
// after the sink's durable cursor, delivers a batch, and only then moves
// the cursor. Sinks only read the trail, so a slow or unreachable collector
// never holds up a request: it falls behind, and catches up when it
// returns.
//
// Delivery is at least once. Events arrive in sequence order, but a crash
// between a delivery and the cursor update, or a connection that breaks in
// the middle of a batch, makes the sink deliver that batch again. Every
// event carries its sequence number (seq), by which a receiver can drop
// the repeats.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
)

// Sink delivers batches of audit events to one destination.
type Sink interface {
	// Deliver hands events, in sequence order, to the destination. It
	// returns nil only when the destination has taken every one of them;
	// after an error the streamer delivers the batch, or its first part,
	// again.
	Deliver(ctx context.Context, events []*hrgate.AuditEvent) error
	// Close releases the sink's connection or file.
	Close() error
}

// defaultGapWait is how long a sink waits for a missing sequence number
// to appear before it delivers the events after it. With several writers
// an event can become visible after the one that follows it; waiting
// keeps the sink from stepping over it for good.
const defaultGapWait = 10 * time.Second

// Streamer runs one delivery worker per configured sink.
type Streamer struct {
	reader  hrgate.AuditReader
	cursors hrgate.AuditSinkCursors
	logger  *slog.Logger
	workers []*worker
	gapWait time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// Stats describes the progress of one sink since the streamer started.
type Stats struct {
	Name, Type string
	// Cursor is the sequence number of the last event delivered.
	Cursor int64
	// Delivered counts the events delivered.
	Delivered int64
	// Failed counts the delivery attempts that failed.
	Failed int64
}

// Start checks and prepares the sinks, then starts delivering; it is New
// followed by Open. The workers stop when ctx ends or Close is called.
func Start(ctx context.Context, sinks []config.AuditSink, r hrgate.AuditReader, c hrgate.AuditSinkCursors, logger *slog.Logger) (*Streamer, error) {
	s, err := New(sinks, r, c, logger)
	if err != nil {
		return nil, err
	}
	if err := s.Open(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// New checks the sinks' settings, reads their certificates and tokens and
// opens file sinks, so that a bad setting stops the start with an error
// naming its key. It connects to nothing yet.
func New(sinks []config.AuditSink, r hrgate.AuditReader, c hrgate.AuditSinkCursors, logger *slog.Logger) (*Streamer, error) {
	if err := config.ValidateAuditSinks(sinks); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Streamer{reader: r, cursors: c, logger: logger, gapWait: defaultGapWait}
	for i, sc := range sinks {
		sc = sc.WithDefaults()
		log := logger.With("sink", sc.Name, "sink_type", sc.Type)
		snk, err := newSink(i, sc, log)
		if err != nil {
			for _, w := range s.workers {
				_ = w.sink.Close()
			}
			return nil, err
		}
		s.workers = append(s.workers, &worker{
			cfg:    sc,
			sink:   snk,
			log:    log,
			notify: make(chan struct{}, 1),
		})
	}
	return s, nil
}

func newSink(i int, sc config.AuditSink, log *slog.Logger) (Sink, error) {
	key := func(k string) string { return fmt.Sprintf("audit.sinks[%d].%s", i, k) }
	switch sc.Type {
	case config.SinkFile:
		return openFileSink(sc, key)
	case config.SinkSyslog:
		return newSyslogSink(sc, key, log)
	case config.SinkHTTP:
		return newHECSink(sc, key)
	}
	return nil, fmt.Errorf("config: %s: unknown sink type %q", key("type"), sc.Type)
}

// Open starts one worker per sink.
func (s *Streamer) Open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("audit sinks: streamer is closed")
	}
	if s.cancel != nil {
		return errors.New("audit sinks: streamer is already open")
	}
	ctx, s.cancel = context.WithCancel(ctx)
	for _, w := range s.workers {
		w.reader, w.cursors, w.gapWait = s.reader, s.cursors, s.gapWait
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(ctx)
		}()
	}
	return nil
}

// Close stops the workers, waiting for a delivery in progress to end, and
// closes the sinks' connections and files.
func (s *Streamer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	var errs []error
	for _, w := range s.workers {
		if err := w.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit sink %s: %w", w.cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Notify tells every sink that new events were committed, so that they
// look now rather than at their next poll. It never blocks; the audit log
// may call it after every commit.
func (s *Streamer) Notify() {
	if s == nil {
		return
	}
	for _, w := range s.workers {
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// Stats returns the progress of every sink, in configuration order.
func (s *Streamer) Stats() []Stats {
	out := make([]Stats, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, Stats{
			Name:      w.cfg.Name,
			Type:      w.cfg.Type,
			Cursor:    w.cursor.Load(),
			Delivered: w.delivered.Load(),
			Failed:    w.failed.Load(),
		})
	}
	return out
}

// worker delivers the trail to one sink.
type worker struct {
	cfg     config.AuditSink
	sink    Sink
	log     *slog.Logger
	notify  chan struct{}
	reader  hrgate.AuditReader
	cursors hrgate.AuditSinkCursors
	gapWait time.Duration

	cursor    atomic.Int64
	delivered atomic.Int64
	failed    atomic.Int64

	// limit is the batch size now: batch_size, halved by failures and
	// doubled back by successes.
	limit int

	// The gap the worker is waiting on: the cursor it sits after, and
	// since when.
	gapAfter int64
	gapSince time.Time
}

func (w *worker) run(ctx context.Context) {
	cursor, ok := w.loadCursor(ctx)
	if !ok {
		return
	}
	w.cursor.Store(cursor)
	w.log.Info("audit sink started", "cursor", cursor, "destination", destination(w.cfg))
	w.limit = w.cfg.BatchSize
	readFailures := 0
	for ctx.Err() == nil {
		events, err := w.reader.AuditEvents(ctx, cursor, w.limit)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			readFailures++
			d := w.backoff(readFailures)
			w.log.Warn("audit sink cannot read the audit trail; retrying", "err", err, "retry_in", d)
			if !sleep(ctx, d) {
				break
			}
			continue
		}
		readFailures = 0
		events = w.next(cursor, events)
		if len(events) == 0 {
			if !w.wait(ctx) {
				break
			}
			continue
		}
		n, ok := w.deliver(ctx, events)
		if !ok {
			break
		}
		cursor = events[n-1].Seq
		w.cursor.Store(cursor)
		w.saveCursor(ctx, cursor)
	}
	w.log.Info("audit sink stopped", "cursor", w.cursor.Load(), "delivered", w.delivered.Load(), "failed", w.failed.Load())
}

// destination names where a sink delivers, for the log. It holds no
// secret: URLs with user info or a query are refused by validation.
func destination(sc config.AuditSink) string {
	switch sc.Type {
	case config.SinkFile:
		return sc.Path
	case config.SinkSyslog:
		return sc.Transport + "://" + sc.Address
	}
	return sc.URL
}

// saveCursor saves the cursor, also while the streamer is stopping, so
// that a clean stop repeats nothing. A failure costs only repeats after a
// restart; the next batch saves a later cursor.
func (w *worker) saveCursor(ctx context.Context, cursor int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveCursorTimeout)
	defer cancel()
	if err := w.cursors.SetSinkCursor(ctx, w.cfg.Name, cursor); err != nil {
		w.log.Warn("audit sink cannot save its cursor; events may be delivered again after a restart", "err", err, "cursor", cursor)
	}
}

// saveCursorTimeout bounds saving a cursor after the streamer was told to
// stop.
const saveCursorTimeout = 5 * time.Second

// loadCursor reads the durable cursor, retrying until it can or ctx ends.
func (w *worker) loadCursor(ctx context.Context) (int64, bool) {
	for attempt := 1; ; attempt++ {
		c, err := w.cursors.SinkCursor(ctx, w.cfg.Name)
		if err == nil {
			return c, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		d := w.backoff(attempt)
		w.log.Warn("audit sink cannot read its cursor; retrying", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return 0, false
		}
	}
}

// next returns the events to deliver now: those that follow cursor without
// a gap in their sequence numbers. At a gap it waits gapWait for the
// missing events to appear, then steps over them with a warning.
func (w *worker) next(cursor int64, events []*hrgate.AuditEvent) []*hrgate.AuditEvent {
	// Drop anything at or before the cursor; the reader should not return
	// it, but delivering it again would be a repeat.
	for len(events) > 0 && events[0].Seq <= cursor {
		events = events[1:]
	}
	if len(events) == 0 {
		return nil
	}
	if first := events[0].Seq; first != cursor+1 {
		switch {
		case w.gapAfter != cursor || w.gapSince.IsZero():
			w.gapAfter, w.gapSince = cursor, time.Now()
			return nil
		case time.Since(w.gapSince) < w.gapWait:
			return nil
		}
		w.log.Warn("audit sink steps over missing sequence numbers", "from", cursor+1, "to", first-1)
	}
	w.gapSince = time.Time{}
	for i := 1; i < len(events); i++ {
		if events[i].Seq != events[i-1].Seq+1 {
			return events[:i]
		}
	}
	return events
}

// deliver delivers events, retrying with back-off until it succeeds or ctx
// ends. After a failure it retries with half the batch, down to a single
// event, so that a collector refusing large requests still progresses;
// each success doubles the batch size again, up to batch_size. It returns
// how many of the events, from the first, were delivered.
func (w *worker) deliver(ctx context.Context, events []*hrgate.AuditEvent) (int, bool) {
	for attempt := 1; ; attempt++ {
		err := w.sink.Deliver(ctx, events)
		if err == nil {
			w.delivered.Add(int64(len(events)))
			w.limit = min(max(w.limit, len(events))*2, w.cfg.BatchSize)
			if attempt > 1 {
				w.log.Info("audit sink delivers again", "failed_attempts", attempt-1, "first_seq", events[0].Seq)
			}
			return len(events), true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		w.failed.Add(1)
		d := w.backoff(attempt)
		w.log.Warn("audit sink delivery failed; retrying", "err", err,
			"first_seq", events[0].Seq, "events", len(events), "attempt", attempt, "retry_in", d)
		if !sleep(ctx, d) {
			return 0, false
		}
		if len(events) > 1 {
			events = events[:len(events)/2]
			w.limit = len(events)
		}
	}
}

// backoff returns the wait before retry number attempt (from 1): retry_min
// doubled for every further attempt, at most retry_max.
func (w *worker) backoff(attempt int) time.Duration {
	d, limit := time.Duration(w.cfg.RetryMin), time.Duration(w.cfg.RetryMax)
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// wait waits for a notification or the poll interval; it reports false
// when ctx ended.
func (w *worker) wait(ctx context.Context) bool {
	t := time.NewTimer(time.Duration(w.cfg.PollInterval))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.notify:
	case <-t.C:
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

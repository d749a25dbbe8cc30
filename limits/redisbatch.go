package limits

import (
	"context"
	"sync"
)

// Bounds of a batch: the decisions one script makes, and the keys it
// names (every decision names at most 2*maxRules). They keep a round trip
// short, and the script's one MGET within what Lua's unpack takes.
const (
	maxBatch     = 64
	maxBatchKeys = 512
)

// maxInFlight is how many round trips of one limiter may be in flight at
// once. One makes the largest batches: measured on two cores shared with
// Redis (docs/benchmarks.md), two or more in flight gave smaller batches,
// more Redis CPU per decision and fewer decisions a second.
const maxInFlight = 1

// A call is one decision on its way through the batcher: its keys and
// arguments, then its answer.
type call struct {
	// nkeys counts the checks (a rule's rate, a rule's quota), each on a
	// key of its own.
	nkeys  int
	checks [2 * maxRules]check

	d   Decision
	err error

	// done wakes the caller when the answer is in, or when lead holds the
	// batch it is to send.
	done  chan struct{}
	lead  []*call
	batch [maxBatch]*call
	buf   []any
}

// batcher groups concurrent decisions into round trips. A decision that
// arrives while fewer than max round trips are in flight goes at once,
// alone; otherwise it joins the queue. When a round trip ends, the caller
// who sent it hands the next one to the first caller in the queue, with
// as many queued decisions as a batch holds: no goroutine and no timer of
// its own, and no decision waits for more than the round trips ahead of
// it.
//
// A failed round trip gives its error to every decision in it, and none
// is resent: the caller (Failover) decides each on its own. It gives the
// error to every queued decision too, unsent: the Failover takes the
// shared limiter for down at the first error and decides locally, so the
// queue would only wait out one more timeout per batch of it, on a server
// that has just failed, before being decided locally all the same. A
// failure that is its caller's own (a lone decision whose request went
// away) passes the turn on as usual.
type batcher struct {
	send func(ctx context.Context, calls []*call, buf []any) []any
	max  int
	pool sync.Pool

	mu       sync.Mutex
	inflight int
	queue    []*call
}

func (b *batcher) init(send func(context.Context, []*call, []any) []any, maxInFlight int) {
	b.send, b.max = send, maxInFlight
	b.pool.New = func() any { return &call{done: make(chan struct{}, 1)} }
}

func (b *batcher) get() *call  { return b.pool.Get().(*call) }
func (b *batcher) put(c *call) { b.pool.Put(c) }

// decide answers c, alone or in a batch.
func (b *batcher) decide(ctx context.Context, c *call) {
	b.mu.Lock()
	if b.inflight < b.max {
		b.inflight++
		b.mu.Unlock()
		c.batch[0] = c
		b.run(ctx, c, c.batch[:1])
		return
	}
	b.queue = append(b.queue, c)
	b.mu.Unlock()
	<-c.done
	if c.lead != nil {
		calls := c.lead
		c.lead = nil
		if len(calls) > 1 {
			// The batch's other decisions are not this caller's: its
			// cancellation must not fail them. The client's timeouts
			// bound the round trip.
			ctx = context.WithoutCancel(ctx)
		}
		b.run(ctx, c, calls)
	}
}

// run sends calls, of which c is the first, wakes the others with their
// answers, and passes the turn on.
func (b *batcher) run(ctx context.Context, c *call, calls []*call) {
	c.buf = b.send(ctx, calls, c.buf)
	for _, o := range calls[1:] {
		o.done <- struct{}{}
	}
	clear(calls)

	b.mu.Lock()
	if c.err != nil && ctx.Err() == nil {
		for _, o := range b.queue {
			o.d, o.err = Decision{}, c.err
			o.done <- struct{}{}
		}
		clear(b.queue)
		b.queue = b.queue[:0]
	}
	if len(b.queue) == 0 {
		b.inflight--
		b.mu.Unlock()
		return
	}
	n, keys := 0, 0
	for n < len(b.queue) && n < maxBatch && (n == 0 || keys+b.queue[n].nkeys <= maxBatchKeys) {
		keys += b.queue[n].nkeys
		n++
	}
	next := b.queue[0]
	copy(next.batch[:], b.queue[:n])
	next.lead = next.batch[:n]
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	b.mu.Unlock()
	next.done <- struct{}{}
}

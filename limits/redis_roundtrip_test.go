package limits_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hrgate/hrgate/limits"
)

// wire counts what a go-redis client sends: the commands it processes
// (through a hook, above go-redis's retries) and the writes on its sockets
// (below them), so that a test sees every round trip, retried or not.
// With names set it also records each command's name; processed leaves
// out a new connection's handshake.
//
// With failScripts set, the answer to every write that carries a script
// (EVALSHA) is lost: the connection fails after the server ran it, the
// outcome the client cannot know. scripts counts those writes.
type wire struct {
	names       bool
	failScripts atomic.Bool
	processed   atomic.Int64
	writes      atomic.Int64
	scripts     atomic.Int64
	mu          sync.Mutex
	cmds        []string
}

func (w *wire) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, w: w}, nil
	}
}

func (w *wire) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd.Name()) {
			w.processed.Add(1)
		}
		if w.names {
			w.mu.Lock()
			w.cmds = append(w.cmds, cmd.Name())
			w.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (w *wire) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if !handshake(c.Name()) {
				w.processed.Add(1)
			}
		}
		if w.names {
			w.mu.Lock()
			for _, c := range cmds {
				w.cmds = append(w.cmds, "pipelined "+c.Name())
			}
			w.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

// handshake reports the commands go-redis sends once when it opens a
// connection (HELLO, CLIENT SETINFO, ...), which no decision causes.
func handshake(name string) bool {
	switch name {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// reset forgets what was counted so far and returns it: the commands
// processed, their names when recorded, and the socket writes.
func (w *wire) reset() (processed int64, cmds []string, writes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cmds, w.cmds = w.cmds, nil
	return w.processed.Swap(0), cmds, w.writes.Swap(0)
}

type countingConn struct {
	net.Conn
	w *wire
	// script says that the last write carried a script.
	script atomic.Bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.w.writes.Add(1)
	if bytes.Contains(p, []byte("evalsha")) {
		c.w.scripts.Add(1)
		c.script.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	if c.w.failScripts.Load() && c.script.Load() {
		// Whatever the server answers is lost with the connection.
		_ = c.Conn.Close()
		return 0, io.ErrUnexpectedEOF
	}
	return c.Conn.Read(p)
}

// holdFirstScript is a hook that holds the first script sent through it
// until release is closed, and closes held when it does: meanwhile the
// limiter has a round trip in flight, and queues the decisions asked for.
type holdFirstScript struct {
	once    sync.Once
	held    chan struct{}
	release chan struct{}
}

func newHoldFirstScript() *holdFirstScript {
	return &holdFirstScript{held: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdFirstScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdFirstScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			h.once.Do(func() {
				close(h.held)
				<-h.release
			})
		}
		return next(ctx, cmd)
	}
}

func (h *holdFirstScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// waitQueued waits until n decisions wait in l's queue.
func waitQueued(t *testing.T, l *limits.Redis, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for limits.Queued(l) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d decisions queued; want %d", limits.Queued(l), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// newRedisLimiter returns a limiter on the test Redis whose keys start
// with a prefix of its own, so that tests and benchmarks run by parallel
// processes on one server never share a key, and deletes those keys when
// tb ends. The client's pool holds poolSize connections (0 for go-redis's
// default) and counts its traffic in w when w is not nil.
func newRedisLimiter(tb testing.TB, poolSize int, w *wire) (*limits.Redis, *redis.Client) {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if poolSize > 0 {
		opts.PoolSize = poolSize
	}
	client := redis.NewClient(opts)
	tb.Cleanup(func() { _ = client.Close() })
	var id [8]byte
	_, _ = rand.Read(id[:])
	prefix := "{hrgate:limits:test:" + hex.EncodeToString(id[:]) + "}:"
	tb.Cleanup(func() { deleteKeys(tb, client, prefix) })
	if w != nil {
		client.AddHook(w)
	}
	return limits.NewRedisPrefix(client, prefix), client
}

// deleteKeys deletes every key starting with prefix. The prefix holds
// none of SCAN's pattern characters (*?[]\).
func deleteKeys(tb testing.TB, client *redis.Client, prefix string) {
	tb.Helper()
	if strings.ContainsAny(prefix, `*?[]\`) {
		tb.Fatalf("prefix %q holds a pattern character", prefix)
	}
	ctx := context.Background()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			if err := client.Unlink(ctx, batch...).Err(); err != nil {
				tb.Errorf("deleting the test's keys: %v", err)
				return
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("listing the test's keys: %v", err)
		return
	}
	if len(batch) > 0 {
		if err := client.Unlink(ctx, batch...).Err(); err != nil {
			tb.Errorf("deleting the test's keys: %v", err)
		}
	}
}

// TestRedisOneRoundTrip proves that a lone decision costs one command, an
// EVALSHA, written to the socket once, whether the request is admitted or
// refused by a rate or a quota: the script is never resent while the
// server holds it, and nothing is read or written besides it. Concurrent
// decisions share round trips (TestRedisBatchedRoundTrips): never more
// than one each.
func TestRedisOneRoundTrip(t *testing.T) {
	w := &wire{names: true}
	l, client := newRedisLimiter(t, 1, w)
	// The pool's one connection is opened (HELLO, CLIENT SETINFO) before
	// counting starts.
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	w.reset()
	rules := rulesFor("", 1)
	// A tight credential limit, so that the run sees refusals by rate and
	// by quota as well as admissions.
	rules[0].Limit = limits.Limit{Rate: 1.0 / 3600, Burst: 5, Quota: 1e12}
	rules[1].Limit = limits.Limit{Quota: 8}

	// The first decision may meet a server that does not hold the script
	// yet: EVALSHA is answered NOSCRIPT, then EVAL sends the source.
	if _, err := l.Allow(ctx, rules); err != nil {
		t.Fatal(err)
	}
	if _, cmds, _ := w.reset(); len(cmds) == 0 || len(cmds) > 2 || cmds[0] != "evalsha" || (len(cmds) == 2 && cmds[1] != "eval") {
		t.Fatalf("the first decision sent %q; want evalsha, and eval only if the server lacked the script", cmds)
	}

	const n = 40
	admitted, byRate, byQuota := 0, 0, 0
	for i := range n {
		d, err := l.Allow(ctx, rules)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case d.Allowed:
			admitted++
		case d.QuotaExceeded:
			byQuota++
		default:
			byRate++
		}
		_, cmds, writes := w.reset()
		if !slices.Equal(cmds, []string{"evalsha"}) || writes != 1 {
			t.Fatalf("decision %d (%+v) sent %q in %d writes; want one evalsha in one write", i, d, cmds, writes)
		}
	}
	// The burst of 5 admits 4 more after the first, the rate refuses the
	// rest; the quota of 8 has room for them, so quota refusals need a
	// rule of their own.
	if admitted != 4 || byRate != n-4 {
		t.Fatalf("admitted %d, refused %d by rate, %d by quota; want 4, %d, 0", admitted, byRate, byQuota, n-4)
	}
	quota := []limits.Rule{{Key: "quota-only", Limit: limits.Limit{Quota: 1}}}
	for i, want := range []bool{true, false} {
		d, err := l.Allow(ctx, quota)
		if err != nil {
			t.Fatal(err)
		}
		_, cmds, writes := w.reset()
		if d.Allowed != want || (!want && !d.QuotaExceeded) {
			t.Fatalf("quota decision %d = %+v; want allowed %v", i, d, want)
		}
		if !slices.Equal(cmds, []string{"evalsha"}) || writes != 1 {
			t.Fatalf("quota decision %d sent %q in %d writes; want one evalsha in one write", i, cmds, writes)
		}
	}
}

// TestRedisBatchedRoundTrips asks for many decisions while a round trip is
// in flight: they go in as few round trips as the batch bound allows (64
// decisions each), one EVALSHA written once each, and they decide exactly
// as one at a time would: a burst of 50 on one key admits 50 of 101, each
// with its own remaining count, and the quota beside it counts the 50
// admitted and nothing refused.
func TestRedisBatchedRoundTrips(t *testing.T) {
	w := &wire{names: true}
	l, client := newRedisLimiter(t, 0, w)
	// The script reaches the server and a connection opens before
	// counting starts.
	if _, err := l.Allow(ctx, []limits.Rule{{Key: "warm", Limit: limits.Limit{Quota: 1}}}); err != nil {
		t.Fatal(err)
	}
	hold := newHoldFirstScript()
	client.AddHook(hold)
	w.reset()

	rules := []limits.Rule{
		{Key: "cred:", ID: "batched", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 50}},
		{Key: "quota:", ID: "batched", Limit: limits.Limit{Quota: 1000}},
	}
	const n = 100
	decisions := make([]limits.Decision, n+1)
	var wg sync.WaitGroup
	decide := func(i int) {
		defer wg.Done()
		d, err := l.Allow(ctx, rules)
		if err != nil {
			t.Error(err)
		}
		decisions[i] = d
	}
	wg.Add(1)
	go decide(0)
	<-hold.held
	wg.Add(n)
	for i := 1; i <= n; i++ {
		go decide(i)
	}
	waitQueued(t, l, n)
	close(hold.release)
	wg.Wait()

	_, cmds, writes := w.reset()
	if !slices.Equal(cmds, []string{"evalsha", "evalsha", "evalsha"}) || writes != 3 {
		t.Fatalf("%d decisions sent %q in %d writes; want 3 evalsha (1, then 64 and 36 decisions) in 3 writes", n+1, cmds, writes)
	}
	admitted := 0
	var remaining []int64
	for _, d := range decisions {
		if d.Allowed {
			admitted++
			remaining = append(remaining, d.Remaining)
		} else if d.Rule != 0 || d.QuotaExceeded || d.RetryAfter <= 0 {
			t.Fatalf("refused by %+v; want the rate rule with a wait", d)
		}
	}
	slices.Sort(remaining)
	for i, r := range remaining {
		if r != int64(i) {
			t.Fatalf("the admitted decisions left %v; want 0..49 once each", remaining)
		}
	}
	if admitted != 50 {
		t.Fatalf("admitted %d of %d; want the burst, 50", admitted, n+1)
	}
	d, err := l.Allow(ctx, rules[1:])
	if err != nil {
		t.Fatal(err)
	}
	if d.Remaining != 1000-50-1 {
		t.Fatalf("the quota after the batch: %+v; want the 50 admitted counted, and this one", d)
	}
}

// TestRedisBatchLostAnswer loses the answer of a round trip after Redis
// ran it, with ten decisions behind it: every decision gets the error and
// is decided locally by the failover, and no script is sent twice,
// although the client would retry other commands (go-redis's default
// MaxRetries, 3): a resent batch would count its decisions twice. When
// the lone decision ahead of them fails, the ten queued behind it get its
// error unsent, at once, instead of each batch of them waiting out a
// timeout of its own on a server that has just failed; when their batch
// is the one that fails, the lone decision before it stands.
func TestRedisBatchLostAnswer(t *testing.T) {
	const n = 10
	for _, tc := range []struct {
		name string
		// lose is the script (1: the lone decision, 2: the batch)
		// whose answer is lost, with every one after it.
		lose                       int64
		sent, fallbacks, committed int64
	}{
		{"LoneDecision", 1, 1, n + 1, 1},
		{"Batch", 2, 2, n, n + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := new(wire)
			l, client := newRedisLimiter(t, 0, w)
			if opts := client.Options(); opts.MaxRetries < 1 {
				t.Fatalf("the client retries nothing (MaxRetries %d): the test proves nothing", opts.MaxRetries)
			}
			if _, err := l.Allow(ctx, []limits.Rule{{Key: "warm", Limit: limits.Limit{Quota: 1}}}); err != nil {
				t.Fatal(err)
			}
			f := limits.NewFailover(l, func(ctx context.Context) error { return client.Ping(ctx).Err() }, 1, limits.NewMemory(nil), nil)
			t.Cleanup(func() { _ = f.Close() })
			hold := newHoldFirstScript()
			client.AddHook(hold)
			lose := &loseFrom{w: w, n: tc.lose}
			client.AddHook(lose)
			w.reset()
			w.scripts.Store(0)

			rules := []limits.Rule{{Key: "quota:", ID: "lost", Limit: limits.Limit{Quota: 1000}}}
			var wg sync.WaitGroup
			decide := func() {
				defer wg.Done()
				d, err := f.Allow(ctx, rules)
				if err != nil || !d.Allowed {
					t.Errorf("through the failover: %+v, %v; want admitted", d, err)
				}
			}
			wg.Add(1)
			go decide()
			<-hold.held
			wg.Add(n)
			for range n {
				go decide()
			}
			waitQueued(t, l, n)
			close(hold.release)
			wg.Wait()

			if st := f.Stats(); st.Fallbacks != tc.fallbacks {
				t.Fatalf("%d decisions were made locally; want %d", st.Fallbacks, tc.fallbacks)
			}
			if sent := w.scripts.Load(); sent != tc.sent {
				t.Fatalf("scripts were written %d times; want %d, none resent", sent, tc.sent)
			}
			// Redis ran every script sent: the quota counted each
			// decision in them once.
			lose.off.Store(true)
			w.failScripts.Store(false)
			d, err := l.Allow(ctx, rules)
			if err != nil {
				t.Fatal(err)
			}
			if d.Remaining != 1000-tc.committed-1 {
				t.Fatalf("the quota after the lost answers: %+v; want the %d decisions sent counted once, and this one", d, tc.committed)
			}
		})
	}
}

// loseFrom is a hook that loses the answers of w's scripts from the n-th
// one sent through it on (see wire.failScripts), until off is set.
type loseFrom struct {
	w    *wire
	n    int64
	seen atomic.Int64
	off  atomic.Bool
}

func (h *loseFrom) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *loseFrom) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" && h.seen.Add(1) >= h.n && !h.off.Load() {
			h.w.failScripts.Store(true)
		}
		return next(ctx, cmd)
	}
}

func (h *loseFrom) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRedisBatchCallerGone cancels the request of a lone decision in
// flight with ten queued behind it: its failure is its own, so the ten
// still go to Redis, as one batch, and are decided there.
func TestRedisBatchCallerGone(t *testing.T) {
	const n = 10
	w := new(wire)
	l, client := newRedisLimiter(t, 0, w)
	if _, err := l.Allow(ctx, []limits.Rule{{Key: "warm", Limit: limits.Limit{Quota: 1}}}); err != nil {
		t.Fatal(err)
	}
	hold := newHoldFirstScript()
	client.AddHook(hold)
	w.scripts.Store(0)

	rules := []limits.Rule{{Key: "quota:", ID: "gone", Limit: limits.Limit{Quota: 1000}}}
	gone, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := l.Allow(gone, rules); err == nil {
			t.Error("the decision of a request that went away succeeded")
		}
	}()
	<-hold.held
	wg.Add(n)
	for range n {
		go func() {
			defer wg.Done()
			if d, err := l.Allow(ctx, rules); err != nil || !d.Allowed {
				t.Errorf("queued behind a request that went away: %+v, %v; want admitted by Redis", d, err)
			}
		}()
	}
	waitQueued(t, l, n)
	cancel()
	close(hold.release)
	wg.Wait()
	if sent := w.scripts.Load(); sent != 1 {
		t.Fatalf("scripts were written %d times; want 1, the batch of ten", sent)
	}
	d, err := l.Allow(ctx, rules)
	if err != nil {
		t.Fatal(err)
	}
	if d.Remaining != 1000-n-1 {
		t.Fatalf("the quota after the batch: %+v; want the %d queued counted, and this one", d, n)
	}
}

// TestRedisBatchMatchesOneAtATime queues decisions of several kinds,
// interleaved, behind a round trip in flight, so that they go as one
// batch, in which the script decides identical decisions as one group
// and names shared keys once: every decision must get exactly the answer
// it gets when the same decisions are sent one at a time, in the order
// the batch takes (each kind in the order it first came, its decisions
// together), to a second limiter, and, for the kinds the in-memory limiter
// decides alike (no key named twice), to that one too. The kinds share a
// global rate, refuse by rate and by quota part-way through, and one names
// a key twice.
func TestRedisBatchMatchesOneAtATime(t *testing.T) {
	slow := func(burst int) limits.Limit { return limits.Limit{Rate: 1.0 / 3600, Burst: burst} }
	global := limits.Rule{Key: "global", Limit: slow(9)}
	kinds := [][]limits.Rule{
		{{Key: "cred:", ID: "a", Limit: limits.Limit{Rate: 1.0 / 3600, Burst: 3, Quota: 5}}, global},
		{{Key: "cred:", ID: "b", Limit: slow(2)}, {Key: "cons:", ID: "b", Limit: limits.Limit{Quota: 1}}, global},
		{{Key: "quota:", ID: "c", Limit: limits.Limit{Quota: 2}}},
		// Two rates on one key: the second's writes, every half hour,
		// win, so the first admits more than its own pace would.
		{{Key: "twice", Limit: slow(2)}, {Key: "twice", Limit: limits.Limit{Rate: 2.0 / 3600, Burst: 5}}},
		{{Key: "free"}},
	}
	twice := 3
	order := []int{0, 1, 0, 2, 3, 0, 1, 2, 4, 2, 3, 0, 1, 3, 0, 2}

	l, client := newRedisLimiter(t, 0, nil)
	if _, err := l.Allow(ctx, []limits.Rule{{Key: "warm", Limit: limits.Limit{Quota: 1}}}); err != nil {
		t.Fatal(err)
	}
	hold := newHoldFirstScript()
	client.AddHook(hold)
	got := make([]limits.Decision, len(order))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := l.Allow(ctx, []limits.Rule{{Key: "held", Limit: limits.Limit{Quota: 1}}}); err != nil {
			t.Error(err)
		}
	}()
	<-hold.held
	queued := 0
	for i, k := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := l.Allow(ctx, kinds[k])
			if err != nil {
				t.Error(err)
			}
			got[i] = d
		}()
		if k != 4 { // a decision limiting nothing never queues
			queued++
			waitQueued(t, l, queued)
		}
	}
	close(hold.release)
	wg.Wait()

	single, _ := newRedisLimiter(t, 0, nil)
	memory := limits.NewMemory(nil)
	var firsts []int
	for _, k := range order {
		if !slices.Contains(firsts, k) {
			firsts = append(firsts, k)
		}
	}
	near := func(a, b time.Duration) bool { return a-b < time.Minute && b-a < time.Minute }
	same := func(a, b limits.Decision) bool {
		return a.Allowed == b.Allowed && a.Quota == b.Quota && a.QuotaExceeded == b.QuotaExceeded && a.Rule == b.Rule &&
			a.Limit == b.Limit && a.Remaining == b.Remaining && near(a.Reset, b.Reset) && near(a.RetryAfter, b.RetryAfter)
	}
	refused := 0
	for _, k := range firsts {
		for i, ki := range order {
			if ki != k {
				continue
			}
			want, err := single.Allow(ctx, kinds[k])
			if err != nil {
				t.Fatal(err)
			}
			if !same(got[i], want) {
				t.Errorf("decision %d (kind %d) in the batch = %+v; one at a time %+v", i, k, got[i], want)
			}
			if !want.Allowed {
				refused++
			}
			if k == twice {
				continue
			}
			if mem, _ := memory.Allow(ctx, kinds[k]); !same(got[i], mem) {
				t.Errorf("decision %d (kind %d) in the batch = %+v; in memory %+v", i, k, got[i], mem)
			}
		}
	}
	if refused < 4 {
		t.Fatalf("%d decisions refused; the kinds are meant to refuse part-way", refused)
	}
}

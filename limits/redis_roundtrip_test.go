package limits_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hrgate/hrgate/limits"
)

// wire counts what a go-redis client sends: the commands it processes
// (through a hook, above go-redis's retries) and the writes on its sockets
// (below them), so that a test sees every round trip, retried or not.
// With names set it also records each command's name; processed leaves
// out a new connection's handshake.
type wire struct {
	names     bool
	processed atomic.Int64
	writes    atomic.Int64
	mu        sync.Mutex
	cmds      []string
}

func (w *wire) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, writes: &w.writes}, nil
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
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
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

// TestRedisOneRoundTrip proves that a decision costs one command, an
// EVALSHA, written to the socket once, whether the request is admitted or
// refused by a rate or a quota: the script is never resent while the
// server holds it, and nothing is read or written besides it.
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

package limits

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraSource makes a batch of decisions, each over every rule of its
// request, in one round trip and one atomic step: Redis runs a script
// without interleaving any other command, so instances sharing the server
// never race (the flaw of limiters that read, decide and write in separate
// commands), and the decisions of one batch apply one after another, each
// seeing the ones before it, so that a batch of N decides exactly as N
// scripts would in some order (they were asked for concurrently, so any
// order is one they could have arrived in): identical decisions are
// taken together, see encoder. The limiter sends it as EVALSHA, and sends the source only when
// the server answers NOSCRIPT, once per server restart or script flush.
//
// The clock is the Redis server's (TIME inside the script), not the
// caller's: instances whose clocks disagree still share one timeline, and
// the day a quota counts in is the same for all of them. It costs no round
// trip, as the script asks for it.
//
//go:embed gcra.lua
var gcraSource string

// gcraSHA is the script's SHA-1, its name for EVALSHA.
var gcraSHA = redis.NewScript(gcraSource).Hash()

// KeyPrefix starts every key the Redis limiter writes, unless
// NewRedisPrefix names another. Its braces are a Redis Cluster hash tag:
// a decision's keys must live in one slot for the script to see them
// together, so all of the limiter's keys share one.
const KeyPrefix = "{hrgate:limits}:"

// Redis is a Limiter whose state lives in Redis, shared by every instance
// using the same server.
//
// Decisions asked for while a round trip is in flight are queued and sent
// together, as one EVALSHA, when it ends (see batcher): under load a
// decision costs a fraction of a round trip's system calls and of Redis's
// per-command work, and never more than one round trip; a lone decision
// goes at once, with no wait added.
type Redis struct {
	client redis.UniversalClient
	prefix string
	batcher
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter on client whose keys start with KeyPrefix.
func NewRedis(client redis.UniversalClient) *Redis { return NewRedisPrefix(client, KeyPrefix) }

// NewRedisPrefix returns a limiter on client whose keys start with prefix,
// so that several deployments (or tests) can share one server without
// sharing limits. On a Redis Cluster the prefix must hold a hash tag, as
// KeyPrefix does.
//
// The limiter never lets client resend a script whose outcome is unknown
// (a timeout or a connection lost after the write): its commands are
// marked not to be retried, whatever the client's MaxRetries, since a
// resent batch would count each of its decisions twice. NewRedisClient's
// client retries nothing anyway.
func NewRedisPrefix(client redis.UniversalClient, prefix string) *Redis {
	r := &Redis{client: client, prefix: prefix}
	r.batcher.init(r.roundTrip, maxInFlight)
	return r
}

// Key suffixes: a rule's TAT, and its quota counters (the script appends
// ":" and the day).
const (
	tatSuffix   = ":tat"
	quotaSuffix = ":day"
)

// Allow implements Limiter. Errors are the server's or the network's; the
// caller decides what to do without Redis (see Failover). A decision sent
// in a batch with others waits for the batch, which the client's read and
// write timeouts bound, even when ctx ends sooner: one caller going away
// must not fail the others' decisions. A decision whose rules limit
// nothing is admitted without a round trip: there is nothing to count.
func (r *Redis) Allow(ctx context.Context, rules []Rule) (Decision, error) {
	if len(rules) > maxRules {
		return Decision{}, errTooManyRules
	}
	c := r.get()
	if c.prepare(r.prefix, rules); c.nkeys == 0 {
		r.put(c)
		return Decision{Allowed: true, Rule: -1}, nil
	}
	r.decide(ctx, c)
	d, err := c.d, c.err
	r.put(c)
	return d, err
}

// prepare names the keys of a decision over rules and figures its checks'
// limits. Every key is cut from one string, so that naming them costs one
// allocation however many rules there are.
func (c *call) prepare(prefix string, rules []Rule) {
	size := 0
	for _, rl := range rules {
		if rl.Limit.Rate > 0 {
			size += len(prefix) + len(rl.Key) + len(rl.ID) + len(tatSuffix)
		}
		if rl.Limit.Quota > 0 {
			size += len(prefix) + len(rl.Key) + len(rl.ID) + len(quotaSuffix)
		}
	}
	c.nkeys = 0
	if size == 0 {
		return
	}
	var names strings.Builder
	names.Grow(size)
	var ends [2 * maxRules]int
	for i, rl := range rules {
		if rl.Limit.Rate > 0 {
			interval := max(1, int64(1e6/rl.Limit.Rate))
			names.WriteString(prefix)
			names.WriteString(rl.Key)
			names.WriteString(rl.ID)
			names.WriteString(tatSuffix)
			ends[c.nkeys] = names.Len()
			c.checks[c.nkeys] = check{interval: interval, bound: interval * int64(rl.Limit.Burst), rule: uint8(i)}
			c.nkeys++
		}
		if rl.Limit.Quota > 0 {
			names.WriteString(prefix)
			names.WriteString(rl.Key)
			names.WriteString(rl.ID)
			names.WriteString(quotaSuffix)
			ends[c.nkeys] = names.Len()
			c.checks[c.nkeys] = check{bound: rl.Limit.Quota, rule: uint8(i)}
			c.nkeys++
		}
	}
	all := names.String()
	for i, start := 0, 0; i < c.nkeys; i++ {
		c.checks[i].key = all[start:ends[i]]
		start = ends[i]
	}
}

// roundTrip sends the decisions of calls as one script and sets each
// call's answer, or the same error on every one of them.
func (r *Redis) roundTrip(ctx context.Context, calls []*call, buf []any) []any {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	args, err := e.encode(calls, buf[:0])
	if err == nil {
		var res []int64
		if res, err = r.eval(ctx, args); err == nil {
			err = e.decode(calls, res)
		}
	}
	if err != nil {
		for _, c := range calls {
			c.d, c.err = Decision{}, err
		}
	}
	// Drop the references to the keys, which the buffers outlive.
	e.reset()
	for _, c := range calls {
		clear(c.checks[:c.nkeys])
	}
	clear(args)
	return args
}

// eval runs the script on args, which start "evalsha", the script's SHA:
// once, and a second time with the source (EVAL) only if the server
// answers NOSCRIPT, which means that it ran nothing.
func (r *Redis) eval(ctx context.Context, args []any) ([]int64, error) {
	cmd := noRetry{redis.NewIntSliceCmd(ctx, args...)}
	err := r.client.Process(ctx, cmd)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		args[0], args[1] = "eval", gcraSource
		cmd = noRetry{redis.NewIntSliceCmd(ctx, args...)}
		err = r.client.Process(ctx, cmd)
	}
	if err != nil {
		return nil, fmt.Errorf("limits: redis: %w", err)
	}
	return cmd.Val(), nil
}

// noRetry is a command go-redis must not send again when its outcome is
// unknown (go-redis v9 reads NoRetry before any retry, in Client,
// ClusterClient and Ring alike): a decision must never count twice.
type noRetry struct{ *redis.IntSliceCmd }

func (noRetry) NoRetry() bool { return true }

// Failover admits through a shared limiter (Redis) and, while that one
// fails, through a local one with every limit divided by the number of
// instances, so that the instances together stay near the configured
// limit. A request never waits on a limiter known to be down: a
// background probe finds when it is back.
type Failover struct {
	shared    Limiter
	probe     func(context.Context) error
	local     *Memory
	instances int
	log       *slog.Logger

	down      atomic.Bool
	fallbacks atomic.Int64
	outages   atomic.Int64

	mu      sync.Mutex
	probing bool
	closed  chan struct{}
	wg      sync.WaitGroup
}

var _ Limiter = (*Failover)(nil)

// NewFailover returns a Failover over shared, checking its health with
// probe (e.g. a Redis PING) while it is down.
func NewFailover(shared Limiter, probe func(context.Context) error, instances int, local *Memory, log *slog.Logger) *Failover {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Failover{shared: shared, probe: probe, local: local, instances: max(1, instances), log: log, closed: make(chan struct{})}
}

// Allow implements Limiter. Its only error is ctx's, when the request
// went away while the shared limiter answered; an unreachable limiter is
// no error, as the local one decides instead.
func (f *Failover) Allow(ctx context.Context, rules []Rule) (Decision, error) {
	if !f.down.Load() {
		d, err := f.shared.Allow(ctx, rules)
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			// The request went away; that says nothing about Redis.
			return Decision{}, ctx.Err()
		}
		f.markDown(err)
	}
	f.fallbacks.Add(1)
	var buf [maxRules]Rule
	local := buf[:0]
	for _, r := range rules {
		r.Limit = r.Limit.Divide(f.instances)
		local = append(local, r)
	}
	return f.local.Allow(ctx, local)
}

func (f *Failover) markDown(err error) {
	if f.down.Swap(true) {
		return
	}
	f.outages.Add(1)
	f.log.Warn("the shared rate limiter is unreachable; limiting per instance until it is back",
		"err", err, "instances", f.instances)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.probing {
		return
	}
	select {
	case <-f.closed:
		return
	default:
	}
	f.probing = true
	f.wg.Add(1)
	go f.probeUntilUp()
}

// probeInterval is how often the probe retries a shared limiter that is
// down.
const probeInterval = 250 * time.Millisecond

func (f *Failover) probeUntilUp() {
	defer f.wg.Done()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-f.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := f.probe(ctx)
		cancel()
		if err == nil {
			f.mu.Lock()
			f.probing = false
			f.mu.Unlock()
			f.down.Store(false)
			f.log.Info("the shared rate limiter is back; limits are shared again")
			return
		}
	}
}

// Stats counts what the failover did.
type Stats struct {
	// Down reports that decisions are local right now.
	Down bool
	// Outages counts the times the shared limiter was found down.
	Outages int64
	// Fallbacks counts the decisions made locally.
	Fallbacks int64
}

// Stats returns the failover's counters.
func (f *Failover) Stats() Stats {
	return Stats{Down: f.down.Load(), Outages: f.outages.Load(), Fallbacks: f.fallbacks.Load()}
}

// Close stops the probe.
func (f *Failover) Close() error {
	f.mu.Lock()
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

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

// gcraScript makes one decision over every rule in one round trip and one
// atomic step: Redis runs a script without interleaving any other command,
// so instances sharing the server never race (the flaw of limiters that
// read, decide and write in separate commands). Run sends it as EVALSHA
// and sends the source only when the server answers NOSCRIPT, once per
// server restart or script flush.
//
// The clock is the Redis server's (TIME inside the script), not the
// caller's: instances whose clocks disagree still share one timeline, and
// the day a quota counts in is the same for all of them. It costs no round
// trip, as the script asks for it.
//
//go:embed gcra.lua
var gcraSource string

var gcraScript = redis.NewScript(gcraSource)

// KeyPrefix starts every key the Redis limiter writes, unless
// NewRedisPrefix names another. Its braces are a Redis Cluster hash tag:
// a decision's keys must live in one slot for the script to see them
// together, so all of the limiter's keys share one.
const KeyPrefix = "{hrgate:limits}:"

// Redis is a Limiter whose state lives in Redis, shared by every instance
// using the same server.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter on client whose keys start with KeyPrefix.
func NewRedis(client redis.UniversalClient) *Redis { return NewRedisPrefix(client, KeyPrefix) }

// NewRedisPrefix returns a limiter on client whose keys start with prefix,
// so that several deployments (or tests) can share one server without
// sharing limits. On a Redis Cluster the prefix must hold a hash tag, as
// KeyPrefix does.
func NewRedisPrefix(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// Key suffixes: a rule's TAT, and its quota counters (the script appends
// ":" and the day).
const (
	tatSuffix   = ":tat"
	quotaSuffix = ":day"
)

// Allow implements Limiter. Errors are the server's or the network's; the
// caller decides what to do without Redis (see Failover).
func (r *Redis) Allow(ctx context.Context, rules []Rule) (Decision, error) {
	if len(rules) > maxRules {
		return Decision{}, errTooManyRules
	}
	// Every key of the decision is cut from one string, so that naming
	// them costs one allocation however many rules there are.
	size := 0
	for _, rl := range rules {
		if rl.Limit.Rate > 0 {
			size += len(r.prefix) + len(rl.Key) + len(rl.ID) + len(tatSuffix)
		}
		if rl.Limit.Quota > 0 {
			size += len(r.prefix) + len(rl.Key) + len(rl.ID) + len(quotaSuffix)
		}
	}
	var names strings.Builder
	names.Grow(size)
	var ends [2 * maxRules]int
	nkeys := 0
	var argBuf [3 * maxRules]any
	args := argBuf[:0]
	for _, rl := range rules {
		interval, tolerance := int64(0), int64(0)
		if rl.Limit.Rate > 0 {
			interval = max(1, int64(1e6/rl.Limit.Rate))
			tolerance = interval * int64(rl.Limit.Burst)
			names.WriteString(r.prefix)
			names.WriteString(rl.Key)
			names.WriteString(rl.ID)
			names.WriteString(tatSuffix)
			ends[nkeys] = names.Len()
			nkeys++
		}
		if rl.Limit.Quota > 0 {
			names.WriteString(r.prefix)
			names.WriteString(rl.Key)
			names.WriteString(rl.ID)
			names.WriteString(quotaSuffix)
			ends[nkeys] = names.Len()
			nkeys++
		}
		args = append(args, interval, tolerance, rl.Limit.Quota)
	}
	all := names.String()
	var keyBuf [2 * maxRules]string
	keys := keyBuf[:nkeys]
	for i, start := 0, 0; i < nkeys; i++ {
		keys[i] = all[start:ends[i]]
		start = ends[i]
	}
	res, err := gcraScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("limits: redis: %w", err)
	}
	if len(res) != 7 {
		return Decision{}, fmt.Errorf("limits: redis script answered %d values, not 7", len(res))
	}
	d := Decision{
		Allowed: res[0] == 1, QuotaExceeded: res[1] == 1, Rule: int(res[2]), Limit: res[3], Remaining: res[4],
		Reset: time.Duration(res[5]) * time.Microsecond, RetryAfter: time.Duration(res[6]) * time.Microsecond,
	}
	return d, nil
}

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

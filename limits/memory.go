package limits

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// Memory is a Limiter for one instance. Its state is a map per shard;
// a decision locks the shards of its rules in ascending order, so
// decisions over overlapping keys serialise and never deadlock.
//
// Its state is bounded: some keys come from requests before they are
// authenticated (the token endpoint's), so an attacker can make new ones
// at will. A shard that is full drops the entries that hold nothing and,
// if that is not enough, arbitrary ones: a key dropped starts afresh,
// which admits more than its limit, but memory stays bounded.
type Memory struct {
	// MaxKeys bounds the keys held, each for a rate and for a quota;
	// set it before the first decision.
	MaxKeys int

	now    func() time.Time
	seed   maphash.Seed
	shards [numShards]shard
}

const (
	numShards = 256
	// sweepEvery is how many decisions a shard takes between sweeps of
	// the entries that no longer hold anything (a TAT in the past, a
	// quota of an earlier day): idle keys cost nothing for long.
	sweepEvery = 4096
)

type shard struct {
	mu    sync.Mutex
	tat   map[ruleKey]int64
	quota map[ruleKey]dayCount
	ops   int
}

// ruleKey is a rule's key as the maps hold it: its two parts as given,
// so that neither a decision nor a new entry joins them.
type ruleKey struct{ key, id string }

type dayCount struct{ day, n int64 }

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter; now nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{MaxKeys: 1_000_000, now: now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].tat = make(map[ruleKey]int64)
		m.shards[i].quota = make(map[ruleKey]dayCount)
	}
	return m
}

// Allow implements Limiter. It never fails.
func (m *Memory) Allow(_ context.Context, rules []Rule) (Decision, error) {
	if len(rules) > maxRules {
		return Decision{}, errTooManyRules
	}
	var idxBuf [maxRules]int
	idx := idxBuf[:0]
	for _, r := range rules {
		idx = append(idx, int((maphash.String(m.seed, r.Key)^maphash.String(m.seed, r.ID))%numShards))
	}
	var lockBuf [maxRules]int
	locks := append(lockBuf[:0], idx...)
	slices.Sort(locks)
	locks = slices.Compact(locks)
	for _, i := range locks {
		m.shards[i].mu.Lock()
	}
	now := m.now().UnixMicro()
	d := m.decide(rules, idx, now)
	for _, i := range locks {
		s := &m.shards[i]
		if s.ops++; s.ops >= sweepEvery {
			s.sweep(now)
		}
		s.mu.Unlock()
	}
	return d, nil
}

// decide evaluates every rule, then commits them all when all admit.
// The caller holds the shards' locks.
func (m *Memory) decide(rules []Rule, idx []int, now int64) Decision {
	var tatBuf [maxRules]int64
	tats := tatBuf[:len(rules)]
	day, dayLeft := dayOf(now)
	best := Decision{Allowed: true, Rule: -1, Remaining: -1}
	consider := func(d Decision) {
		switch {
		case !d.Allowed && (best.Allowed || d.RetryAfter > best.RetryAfter):
			best = d
		case d.Allowed && best.Allowed && (best.Rule < 0 || d.Remaining < best.Remaining):
			best = d
		}
	}
	for i, r := range rules {
		s, k := &m.shards[idx[i]], ruleKey{r.Key, r.ID}
		if r.Limit.Rate > 0 {
			newTAT, ok, remaining, reset, retry := gcra(s.tat[k], now, r.Limit)
			tats[i] = newTAT
			consider(Decision{Allowed: ok, Rule: i, Limit: int64(r.Limit.Burst), Remaining: remaining, Reset: reset, RetryAfter: retry})
		}
		if r.Limit.Quota > 0 {
			c := s.quota[k]
			if c.day != day {
				c = dayCount{day: day}
			}
			if c.n >= r.Limit.Quota {
				consider(Decision{QuotaExceeded: true, Quota: true, Rule: i, Limit: r.Limit.Quota, Reset: dayLeft, RetryAfter: dayLeft})
			} else {
				consider(Decision{Allowed: true, Quota: true, Rule: i, Limit: r.Limit.Quota, Remaining: r.Limit.Quota - c.n - 1, Reset: dayLeft})
			}
		}
	}
	if !best.Allowed {
		return best
	}
	limit := max(1, m.MaxKeys/numShards)
	for i, r := range rules {
		s, k := &m.shards[idx[i]], ruleKey{r.Key, r.ID}
		if r.Limit.Rate > 0 {
			if _, ok := s.tat[k]; !ok && len(s.tat) >= limit {
				s.makeRoom(now, limit)
			}
			s.tat[k] = tats[i]
		}
		if r.Limit.Quota > 0 {
			c, ok := s.quota[k]
			if !ok && len(s.quota) >= limit {
				s.makeRoom(now, limit)
			}
			if c.day != day {
				c = dayCount{day: day}
			}
			c.n++
			s.quota[k] = c
		}
	}
	if best.Rule < 0 {
		best.Remaining = 0
	}
	return best
}

// makeRoom frees room for new keys in a shard that holds limit keys of a
// kind: it sweeps, then drops arbitrary entries of each map still full
// until an eighth of it is free, so that a flood of new keys costs one
// pass over the shard per eighth, not per key. The caller holds s.mu.
func (s *shard) makeRoom(now int64, limit int) {
	s.sweep(now)
	target := min(limit-1, limit-limit/8)
	for k := range s.tat {
		if len(s.tat) <= target {
			break
		}
		delete(s.tat, k)
	}
	for k := range s.quota {
		if len(s.quota) <= target {
			break
		}
		delete(s.quota, k)
	}
}

// sweep drops the entries that no longer constrain anything.
func (s *shard) sweep(now int64) {
	s.ops = 0
	day, _ := dayOf(now)
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	for k, c := range s.quota {
		if c.day != day {
			delete(s.quota, k)
		}
	}
}

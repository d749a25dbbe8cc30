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
// if that is not enough, arbitrary ones, never those of the decision
// making room: a key dropped starts afresh, which admits more than its
// limit, but memory stays bounded.
type Memory struct {
	// MaxKeys bounds the keys held, each for a rate and for a quota
	// (a shard may exceed its share by the keys of one decision); set
	// it before the first decision.
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
	mu     sync.Mutex
	states map[ruleKey]*ruleState
	ops    int
}

// ruleState is what a shard holds of one rule key: its rate's TAT and
// its quota's count of a day. One entry for both, reached by pointer, so
// that a decision looks each of its rules up once: map look-ups (hashing
// the key's two strings) were most of a decision's cost.
type ruleState struct {
	tat int64
	dayCount
}

// idle reports whether s holds nothing back at now, in day.
func (s *ruleState) idle(now, day int64) bool { return s.tat <= now && (s.day != day || s.n == 0) }

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
		m.shards[i].states = make(map[ruleKey]*ruleState)
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
		idx = append(idx, m.shardOf(r.Key, r.ID))
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

// shardOf returns the index of the shard that holds the rule key of key and id.
func (m *Memory) shardOf(key, id string) int {
	return int((maphash.String(m.seed, key) ^ maphash.String(m.seed, id)) % numShards)
}

// decide evaluates every rule, then commits them all when all admit.
// The caller holds the shards' locks.
func (m *Memory) decide(rules []Rule, idx []int, now int64) Decision {
	var tatBuf [maxRules]int64
	var stateBuf [maxRules]*ruleState
	tats, states := tatBuf[:len(rules)], stateBuf[:len(rules)]
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
		if r.Limit.Rate <= 0 && r.Limit.Quota <= 0 {
			continue
		}
		var st ruleState // what an absent entry holds
		if p := m.shards[idx[i]].states[ruleKey{r.Key, r.ID}]; p != nil {
			states[i], st = p, *p
		}
		if r.Limit.Rate > 0 {
			newTAT, ok, remaining, reset, retry := gcra(st.tat, now, r.Limit)
			tats[i] = newTAT
			consider(Decision{Allowed: ok, Rule: i, Limit: int64(r.Limit.Burst), Remaining: remaining, Reset: reset, RetryAfter: retry})
		}
		if r.Limit.Quota > 0 {
			n := st.n
			if st.day != day {
				n = 0
			}
			if n >= r.Limit.Quota {
				consider(Decision{QuotaExceeded: true, Quota: true, Rule: i, Limit: r.Limit.Quota, Reset: dayLeft, RetryAfter: dayLeft})
			} else {
				consider(Decision{Allowed: true, Quota: true, Rule: i, Limit: r.Limit.Quota, Remaining: r.Limit.Quota - n - 1, Reset: dayLeft})
			}
		}
	}
	if !best.Allowed {
		return best
	}
	limit := max(1, m.MaxKeys/numShards)
	for i, r := range rules {
		if r.Limit.Rate <= 0 && r.Limit.Quota <= 0 {
			continue
		}
		st := states[i]
		if st == nil {
			// A rule named twice in one decision finds the entry its
			// first mention created.
			s, k := &m.shards[idx[i]], ruleKey{r.Key, r.ID}
			if st = s.states[k]; st == nil {
				if len(s.states) >= limit {
					s.makeRoom(now, limit)
					m.keepHeld(rules, idx, states, idx[i])
				}
				st = new(ruleState)
				s.states[k] = st
			}
			states[i] = st
		}
		if r.Limit.Rate > 0 {
			st.tat = tats[i]
		}
		if r.Limit.Quota > 0 {
			if st.day != day {
				st.dayCount = dayCount{day: day}
			}
			st.n++
		}
	}
	if best.Rule < 0 {
		best.Remaining = 0
	}
	return best
}

// keepHeld puts back into shard sh, after makeRoom, the entries of this
// decision's rules there, which makeRoom may have dropped: the decision
// holds them by pointer, counted already or still to count, and a count
// made on a dropped entry would be lost with the count it held. So a
// decision never forgets the keys it decides on, and a shard holds at
// most maxRules entries more than its bound.
func (m *Memory) keepHeld(rules []Rule, idx []int, states []*ruleState, sh int) {
	s := &m.shards[sh]
	for j, st := range states {
		if st != nil && idx[j] == sh {
			s.states[ruleKey{rules[j].Key, rules[j].ID}] = st
		}
	}
}

// makeRoom frees room for new keys in a shard that holds limit keys: it
// sweeps, then drops entries while it is still full until an eighth of it
// is free, so that a flood of new keys costs one pass over the shard per
// eighth, not per key. It drops the entries that count no requests today
// first: a flood of keys with a rate only (the token endpoint's, named by
// unauthenticated clients) must not make a credential's daily quota
// start again; forgetting a TAT only forgives one burst. The caller
// holds s.mu.
func (s *shard) makeRoom(now int64, limit int) {
	s.sweep(now)
	target := min(limit-1, limit-limit/8)
	day, _ := dayOf(now)
	for _, rateOnly := range []bool{true, false} {
		for k, st := range s.states {
			if len(s.states) <= target {
				return
			}
			if !rateOnly || st.day != day || st.n == 0 {
				delete(s.states, k)
			}
		}
	}
}

// sweep drops the entries that no longer constrain anything.
func (s *shard) sweep(now int64) {
	s.ops = 0
	day, _ := dayOf(now)
	for k, st := range s.states {
		if st.idle(now, day) {
			delete(s.states, k)
		}
	}
}

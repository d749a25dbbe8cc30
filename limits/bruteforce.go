package limits

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// BruteForce tracks failed authentications per client address and per
// named credential, and locks a source out for a time that doubles with
// each lockout. IPv6 addresses count by their /64, the block one host
// usually holds, so that walking through its addresses gains nothing.
//
// Its state is per instance: an attacker spreading guesses over n
// instances gets n times the attempts, still under back-off. The state is
// bounded: idle sources are forgotten, and when full the oldest half is
// dropped.
type BruteForce struct {
	// Threshold failures within Window lock the source out.
	Threshold int
	Window    time.Duration
	// BaseLockout is the first lockout; each further lockout within
	// Forget doubles it, up to MaxLockout.
	BaseLockout time.Duration
	MaxLockout  time.Duration
	// Forget is how long a quiet source keeps its lockout history.
	Forget time.Duration
	// MaxSources bounds the sources tracked.
	MaxSources int

	now    func() time.Time
	seed   maphash.Seed
	shards [bfShards]bfShard
}

const bfShards = 64

type bfShard struct {
	mu sync.Mutex
	m  map[string]*bfState
}

type bfState struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time
	lockouts    int
	last        time.Time
}

// NewBruteForce returns a tracker with hrgate's defaults: 10 failures a
// minute lock a source out for 1 s, doubling per lockout up to 15 min.
func NewBruteForce(now func() time.Time) *BruteForce {
	if now == nil {
		now = time.Now
	}
	b := &BruteForce{
		Threshold: 10, Window: time.Minute, BaseLockout: time.Second, MaxLockout: 15 * time.Minute,
		Forget: time.Hour, MaxSources: 100_000, now: now, seed: maphash.MakeSeed(),
	}
	for i := range b.shards {
		b.shards[i].m = make(map[string]*bfState)
	}
	return b
}

// AddrSource returns the source key of a client address: the address
// itself for IPv4, its /64 for IPv6. Every API request asks for one, so it
// is written in place: one allocation.
func AddrSource(addr netip.Addr) string {
	addr = addr.Unmap()
	var buf [64]byte
	b := append(buf[:0], "addr:"...)
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		b = p.AppendTo(b)
	} else {
		b = addr.AppendTo(b)
	}
	return string(b)
}

// CredentialSource returns the source key of a named credential (an API
// key id or OAuth client id that was presented with a wrong secret).
func CredentialSource(id string) string { return "cred:" + id }

// Locked reports how long each of the sources is still locked out; zero
// when none is.
func (b *BruteForce) Locked(sources ...string) time.Duration {
	now := b.now()
	var wait time.Duration
	for _, src := range sources {
		s := b.shard(src)
		s.mu.Lock()
		if st := s.m[src]; st != nil && st.lockedUntil.After(now) {
			wait = max(wait, st.lockedUntil.Sub(now))
		}
		s.mu.Unlock()
	}
	return wait
}

// Fail records a failed authentication from each source. It returns the
// lockout that started, if any (zero otherwise), so that the caller can log
// and audit it once.
func (b *BruteForce) Fail(sources ...string) time.Duration {
	now := b.now()
	var started time.Duration
	for _, src := range sources {
		s := b.shard(src)
		s.mu.Lock()
		st := s.m[src]
		if st == nil {
			if limit := max(1, b.MaxSources/bfShards); len(s.m) >= limit {
				s.evict(now, b.Forget, limit)
			}
			st = &bfState{windowStart: now}
			s.m[src] = st
		}
		if now.Sub(st.last) > b.Forget {
			st.lockouts = 0
		}
		st.last = now
		if now.Sub(st.windowStart) > b.Window {
			st.failures, st.windowStart = 0, now
		}
		st.failures++
		if st.failures >= b.Threshold && !st.lockedUntil.After(now) {
			d := b.BaseLockout << min(st.lockouts, 30)
			if d <= 0 || d > b.MaxLockout {
				d = b.MaxLockout
			}
			st.lockedUntil = now.Add(d)
			st.lockouts++
			st.failures, st.windowStart = 0, now
			started = max(started, d)
		}
		s.mu.Unlock()
	}
	return started
}

func (b *BruteForce) shard(src string) *bfShard {
	return &b.shards[maphash.String(b.seed, src)%bfShards]
}

// evict forgets the sources idle for longer than forget and, if that
// leaves the shard still at its limit, those idle for longer than the
// average, then arbitrary ones, until an eighth of the shard is free.
// Sources locked out now go last, only when the shard is full of them
// (an attacker with many IPv6 networks can lock out as many as it likes,
// at Threshold failures each): a flood of fresh sources, one failure
// each, cannot end a lockout. A source forgotten while locked out may
// guess again sooner; the alternative is memory without bound. The
// caller holds s.mu.
func (s *bfShard) evict(now time.Time, forget time.Duration, limit int) {
	for k, st := range s.m {
		if now.Sub(st.last) > forget && !st.lockedUntil.After(now) {
			delete(s.m, k)
		}
	}
	if len(s.m) < limit {
		return
	}
	var total time.Duration
	for _, st := range s.m {
		total += now.Sub(st.last)
	}
	mean := total / time.Duration(len(s.m))
	for k, st := range s.m {
		if now.Sub(st.last) >= mean && !st.lockedUntil.After(now) {
			delete(s.m, k)
		}
	}
	target := min(limit-1, limit-limit/8)
	for _, lockedToo := range []bool{false, true} {
		for k, st := range s.m {
			if len(s.m) <= target {
				return
			}
			if lockedToo || !st.lockedUntil.After(now) {
				delete(s.m, k)
			}
		}
	}
}

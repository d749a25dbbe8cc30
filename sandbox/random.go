package sandbox

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/hrgate/hrgate"
)

// rng is the one source of randomness of a company's generation. The
// ChaCha8 stream serves both the math/rand helpers and hrgate.NewID, so ids
// are as reproducible as every other field while keeping the shape of real
// ids.
type rng struct {
	*rand.Rand
	src *rand.ChaCha8
}

// newRNG returns the generator of company number company under seed. Each
// company has its own stream, so the data of one company does not depend on
// how many employees the companies before it have.
func newRNG(seed int64, company int) *rng {
	var key [32]byte
	copy(key[:16], "hrgate/sandbox/1")
	binary.LittleEndian.PutUint64(key[16:], uint64(seed))
	binary.LittleEndian.PutUint64(key[24:], uint64(company))
	src := rand.NewChaCha8(key)
	return &rng{Rand: rand.New(src), src: src} // #nosec G404 -- synthetic data must be reproducible from its seed; it protects nothing.
}

// id returns a new id with the given prefix.
func (r *rng) id(prefix string) string {
	id, err := hrgate.NewID(prefix, r.src)
	if err != nil {
		// ChaCha8.Read is documented to always fill the buffer and return
		// a nil error, so this is unreachable short of a bug.
		panic("sandbox: " + err.Error())
	}
	return id
}

// between returns a uniform integer in [lo, hi]; hi < lo yields lo.
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// between64 is between for int64.
func (r *rng) between64(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int64N(hi-lo+1)
}

// chance reports true with probability perMille/1000.
func (r *rng) chance(perMille int) bool { return r.IntN(1000) < perMille }

// pick returns a uniformly chosen element of s, which must not be empty.
func pick[T any](r *rng, s []T) T { return s[r.IntN(len(s))] }

// weighted is a table for choosing an index with given integer weights.
type weighted struct {
	cum []int
}

// newWeighted returns the table for the weights w, which must sum to more
// than zero.
func newWeighted(w ...int) weighted {
	cum := make([]int, len(w))
	total := 0
	for i, x := range w {
		total += x
		cum[i] = total
	}
	return weighted{cum: cum}
}

// pick returns an index with probability proportional to its weight.
func (w weighted) pick(r *rng) int {
	x := r.IntN(w.cum[len(w.cum)-1])
	for i, c := range w.cum {
		if x < c {
			return i
		}
	}
	return len(w.cum) - 1
}

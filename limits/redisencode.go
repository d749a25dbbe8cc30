package limits

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// A check is one limit of a decision, on one key: a rule's rate
// (interval > 0, bound its burst tolerance, both in microseconds) or its
// daily quota (interval 0, bound the quota).
type check struct {
	key             string
	interval, bound int64
	rule            uint8
}

// limitSpec is a check's limit as the script's table of limits holds it.
type limitSpec struct{ interval, bound int64 }

// groupKey is a decision's checks as the layout writes them: decisions
// with equal keys are identical, and the script decides them as one group.
// solo, when not 0, keeps a decision out of every group (see encode).
type groupKey struct {
	n      int
	solo   int
	checks [2 * maxRules]uint64
}

// encoder turns a batch of decisions into the script's arguments (see
// gcra.lua): each key and each limit once, however many decisions name
// it, and identical decisions as one group with a count. In Redis, which
// runs one script at a time on the same cores as hrgate in small
// deployments, every argument and every decision the script walks costs
// more than the few map lookups that spare them here.
type encoder struct {
	keys       map[string]uint16 // index among the keys of its kind, from 1
	tat, quota []string
	limits     map[limitSpec]uint16 // index in limitArgs/2, from 1
	limitArgs  []int64
	groups     map[groupKey]int
	group      []groupKey // by group
	size       []int      // decisions per group
	of         []int      // group of each call
	seen       []int      // per group, its decisions answered so far
	layout     []byte
}

var encoders = sync.Pool{New: func() any {
	return &encoder{keys: make(map[string]uint16), limits: make(map[limitSpec]uint16), groups: make(map[groupKey]int)}
}}

// errLayout is a batch the layout cannot describe; the batcher's bounds
// (maxBatch, maxBatchKeys, maxRules) keep every batch within it.
var errLayout = errors.New("limits: a batch beyond the script's layout")

// encode builds the arguments of calls: args, starting with "evalsha" and
// the script's SHA, then the keys and ARGV.
func (e *encoder) encode(calls []*call, args []any) ([]any, error) {
	e.reset()
	for i, c := range calls {
		var g groupKey
		g.n = c.nkeys
		for j, ch := range c.checks[:c.nkeys] {
			idx, ok := e.keys[ch.key]
			if !ok {
				if ch.interval > 0 {
					e.tat = append(e.tat, ch.key)
					idx = uint16(len(e.tat))
				} else {
					e.quota = append(e.quota, ch.key)
					idx = uint16(len(e.quota))
				}
				e.keys[ch.key] = idx
			}
			spec := limitSpec{ch.interval, ch.bound}
			lim, ok := e.limits[spec]
			if !ok {
				e.limitArgs = append(e.limitArgs, ch.interval, ch.bound)
				lim = uint16(len(e.limitArgs) / 2)
				e.limits[spec] = lim
			}
			g.checks[j] = uint64(idx)<<24 | uint64(lim)<<8 | uint64(ch.rule)
			// A decision naming one key twice reads it once for both
			// checks: grouped, the closed form would be wrong for it.
			for _, prev := range c.checks[:j] {
				if prev.key == ch.key {
					g.solo = i + 1
				}
			}
		}
		gi, ok := e.groups[g]
		if !ok {
			gi = len(e.group)
			e.groups[g] = gi
			e.group = append(e.group, g)
			e.size = append(e.size, 0)
			e.seen = append(e.seen, 0)
		}
		e.size[gi]++
		e.of = append(e.of, gi)
	}
	if len(e.tat) > 0xffff || len(e.quota) > 0xffff || len(e.limitArgs)/2 > 0xffff {
		return args, errLayout
	}
	for gi, g := range e.group {
		if e.size[gi] > 0xff || g.n > 0xff {
			return args, errLayout
		}
		e.layout = append(e.layout, byte(e.size[gi]), byte(g.n))
		for _, c := range g.checks[:g.n] {
			key, lim := uint16(c>>24), uint16(c>>8)
			e.layout = append(e.layout, byte(key>>8), byte(key), byte(lim>>8), byte(lim), byte(c))
		}
	}
	args = append(args, "evalsha", gcraSHA, len(e.tat)+len(e.quota))
	for _, k := range e.tat {
		args = append(args, k)
	}
	for _, k := range e.quota {
		args = append(args, k)
	}
	args = append(args, e.layout, len(e.tat))
	for _, a := range e.limitArgs {
		args = append(args, a)
	}
	return args, nil
}

// decode sets each call's answer from the script's reply to encode's
// arguments.
func (e *encoder) decode(calls []*call, res []int64) error {
	// The answers of each group, in the order the groups were written.
	type answer struct {
		admitted                       int64
		flags, limit, remaining, reset int64
		step                           int64
		rflags, rlimit, rreset, retry  int64
	}
	var buf [maxBatch]answer
	answers := buf[:0]
	for gi := range e.group {
		var a answer
		if len(res) < 1 {
			return errShortReply
		}
		a.admitted, res = res[0], res[1:]
		if a.admitted < 0 || a.admitted > int64(e.size[gi]) {
			return fmt.Errorf("limits: redis script admitted %d of %d decisions", a.admitted, e.size[gi])
		}
		if a.admitted > 0 {
			if len(res) < 5 {
				return errShortReply
			}
			a.flags, a.limit, a.remaining, a.reset, a.step, res = res[0], res[1], res[2], res[3], res[4], res[5:]
		}
		if a.admitted < int64(e.size[gi]) {
			if len(res) < 4 {
				return errShortReply
			}
			a.rflags, a.rlimit, a.rreset, a.retry, res = res[0], res[1], res[2], res[3], res[4:]
		}
		answers = append(answers, a)
	}
	if len(res) != 0 {
		return fmt.Errorf("limits: redis script answered %d values too many", len(res))
	}
	for i, c := range calls {
		gi := e.of[i]
		a, k := &answers[gi], int64(e.seen[gi])
		e.seen[gi]++
		if k < a.admitted {
			// Each admission takes one from every check's room and, for
			// a rate, moves its TAT one interval on: the check that
			// decided the first still decides.
			c.d = Decision{Allowed: true, Quota: a.flags&1 == 1, Rule: int(a.flags>>1) - 1, Limit: a.limit,
				Remaining: a.remaining - k, Reset: time.Duration(a.reset+k*a.step) * time.Microsecond}
		} else {
			c.d = Decision{Quota: a.rflags&1 == 1, QuotaExceeded: a.rflags&1 == 1, Rule: int(a.rflags>>1) - 1, Limit: a.rlimit,
				Reset: time.Duration(a.rreset) * time.Microsecond, RetryAfter: time.Duration(a.retry) * time.Microsecond}
		}
		if c.d.Rule < 0 {
			c.d.Remaining = 0
		}
		c.err = nil
	}
	return nil
}

var errShortReply = errors.New("limits: redis script answered too few values")

func (e *encoder) reset() {
	clear(e.keys)
	clear(e.limits)
	clear(e.groups)
	clear(e.tat)
	clear(e.quota)
	e.tat, e.quota, e.limitArgs = e.tat[:0], e.quota[:0], e.limitArgs[:0]
	e.group, e.size, e.of, e.seen, e.layout = e.group[:0], e.size[:0], e.of[:0], e.seen[:0], e.layout[:0]
}

package limits

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestMemoryBounded makes many more keys than MaxKeys, with a rate slow
// enough and a quota that keep every one of them alive: the limiter must
// drop some rather than grow.
func TestMemoryBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(func() time.Time { return now })
	m.MaxKeys = 4 * numShards
	lim := Limit{Rate: 1.0 / 3600, Burst: 10, Quota: 100}
	for i := range 50 * numShards {
		if _, err := m.Allow(context.Background(), []Rule{{Key: "route:token:" + strconv.Itoa(i), Limit: lim}}); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for i := range m.shards {
		held += len(m.shards[i].states)
	}
	if held == 0 || held > m.MaxKeys {
		t.Fatalf("%d keys held; MaxKeys is %d", held, m.MaxKeys)
	}
}

// Entries that hold nothing back any more (a TAT in the past and no count
// of today) are swept; one that still counts today's quota, or whose TAT
// lies ahead, stays.
func TestMemorySweep(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(func() time.Time { return now })
	allow := func(key string, lim Limit) {
		t.Helper()
		if d, err := m.Allow(context.Background(), []Rule{{Key: key, Limit: lim}}); err != nil || !d.Allowed {
			t.Fatalf("%s: %+v %v", key, d, err)
		}
	}
	allow("rate", Limit{Rate: 1, Burst: 1})
	allow("quota", Limit{Quota: 5})
	allow("both", Limit{Rate: 1, Burst: 1, Quota: 5})
	held := func() map[string]bool {
		keys := map[string]bool{}
		for i := range m.shards {
			m.shards[i].sweep(now.UnixMicro())
			for k := range m.shards[i].states {
				keys[k.key] = true
			}
		}
		return keys
	}
	if got := held(); len(got) != 3 {
		t.Fatalf("held right after: %v", got)
	}
	now = now.Add(2 * time.Second) // the TATs have passed, the day has not
	if got := held(); len(got) != 2 || !got["quota"] || !got["both"] {
		t.Fatalf("held after the TATs passed: %v", got)
	}
	now = now.Add(24 * time.Hour) // another day
	if got := held(); len(got) != 0 {
		t.Fatalf("held a day later: %v", got)
	}
}

// TestMemoryKeepsHeldKeys: a decision that makes a new key in a full
// shard must not lose the count of another of its keys in that shard,
// whether that rule comes before the new one (counted already) or after
// it (still to count): makeRoom may drop any entry of the shard.
func TestMemoryKeepsHeldKeys(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(func() time.Time { return now })
	m.MaxKeys = 1 // one key per shard: making room drops every other one
	lim := Limit{Quota: 10}
	old := Rule{Key: "route:token", ID: "held", Limit: lim}
	sh := m.shardOf(old.Key, old.ID)
	var fresh []Rule
	for i := 0; len(fresh) < 2; i++ {
		if r := (Rule{Key: "route:token", ID: "new" + strconv.Itoa(i), Limit: lim}); m.shardOf(r.Key, r.ID) == sh {
			fresh = append(fresh, r)
		}
	}
	allow := func(rules ...Rule) Decision {
		t.Helper()
		d, err := m.Allow(context.Background(), rules)
		if err != nil || !d.Allowed {
			t.Fatalf("%+v %v", d, err)
		}
		return d
	}
	for range 3 {
		allow(old)
	}
	if m.shards[sh].states[ruleKey{old.Key, old.ID}] == nil {
		t.Fatalf("the key is not in shard %d", sh)
	}
	allow(old, fresh[0]) // counted, then its shard is made room in
	allow(fresh[1], old) // its shard is made room in, then counted
	if d := allow(old); d.Remaining != lim.Quota-6 {
		t.Fatalf("after six requests, %d of a quota of %d remain", d.Remaining, lim.Quota)
	}
}

// TestMemoryFloodKeepsQuotas: a flood of keys with a rate only (as
// unauthenticated clients make at the token endpoint) fills a shard that
// holds a credential's daily quota count: making room drops the flood's
// entries, never the count, so the quota does not start again.
func TestMemoryFloodKeepsQuotas(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := NewMemory(func() time.Time { return now })
	m.MaxKeys = 4 * numShards // four keys per shard
	quota := Rule{Key: "cred:", ID: "key_1", Limit: Limit{Quota: 10}}
	sh := m.shardOf(quota.Key, quota.ID)
	allow := func(r Rule) Decision {
		t.Helper()
		d, err := m.Allow(context.Background(), []Rule{r})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for range 4 {
		allow(quota)
	}
	flood := 0
	for i := 0; flood < 50; i++ {
		// A slow rate: each entry holds a TAT far in the future, which
		// no sweep removes.
		if r := (Rule{Key: "route:token:", ID: "addr:" + strconv.Itoa(i), Limit: Limit{Rate: 1.0 / 3600, Burst: 1}}); m.shardOf(r.Key, r.ID) == sh {
			allow(r)
			flood++
		}
	}
	if n := len(m.shards[sh].states); n > 4+maxRules {
		t.Fatalf("the shard holds %d keys; its bound is 4", n)
	}
	if d := allow(quota); !d.Allowed || d.Remaining != 10-5 {
		t.Fatalf("after 5 requests and a flood of other keys, %+v: the quota started again", d)
	}
}

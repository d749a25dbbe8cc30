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
	tats, quotas := 0, 0
	for i := range m.shards {
		tats += len(m.shards[i].tat)
		quotas += len(m.shards[i].quota)
	}
	if tats > m.MaxKeys || quotas > m.MaxKeys {
		t.Fatalf("%d rate and %d quota keys held; MaxKeys is %d", tats, quotas, m.MaxKeys)
	}
}

package limits

import (
	"testing"
	"time"
)

// TestRedisClientPool: the client keeps open only the connections the
// batcher's round trips use, and has room for the Failover's probe
// besides, whatever the number of CPUs.
func TestRedisClientPool(t *testing.T) {
	client, err := NewRedisClient("redis://127.0.0.1:6379/0", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	opts := client.Options()
	if opts.MinIdleConns != maxInFlight || opts.PoolSize != maxInFlight+1 {
		t.Fatalf("MinIdleConns %d, PoolSize %d; want %d and %d: the round trips in flight, and one more for the probe",
			opts.MinIdleConns, opts.PoolSize, maxInFlight, maxInFlight+1)
	}
}

package limits

import (
	"net/netip"
	"testing"
	"time"
)

// TestBruteForceBoundedUnderLockouts locks out many more sources than
// MaxSources (one failure each, from distinct IPv6 networks): sources
// locked out must not let the state grow past its bound.
func TestBruteForceBoundedUnderLockouts(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	b := NewBruteForce(func() time.Time { return now })
	b.Threshold, b.MaxSources = 1, 4*bfShards
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := range 50 * bfShards {
		a := base
		a[4], a[5] = byte(i>>8), byte(i)
		b.Fail(AddrSource(netip.AddrFrom16(a)))
	}
	n := 0
	for i := range b.shards {
		n += len(b.shards[i].m)
	}
	if n > b.MaxSources {
		t.Fatalf("%d sources held; MaxSources is %d", n, b.MaxSources)
	}
}

// TestBruteForceFloodKeepsLockouts: an attacker locked out cannot free
// itself by flooding the tracker with fresh sources (one failure each,
// from many IPv6 networks, none locked out): a full shard drops sources
// that are not locked out first.
func TestBruteForceFloodKeepsLockouts(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	b := NewBruteForce(func() time.Time { return now })
	b.MaxSources = 4 * bfShards
	b.BaseLockout, b.MaxLockout = time.Hour, time.Hour
	attacker := AddrSource(netip.MustParseAddr("192.0.2.66"))
	for range b.Threshold {
		b.Fail(attacker)
	}
	if b.Locked(attacker) == 0 {
		t.Fatal("the attacker is not locked out")
	}
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := range 50 * bfShards {
		now = now.Add(time.Millisecond)
		a := base
		a[4], a[5] = byte(i>>8), byte(i)
		b.Fail(AddrSource(netip.AddrFrom16(a)))
	}
	if b.Locked(attacker) == 0 {
		t.Fatal("a flood of fresh sources ended the attacker's lockout")
	}
	n := 0
	for i := range b.shards {
		n += len(b.shards[i].m)
	}
	if n > b.MaxSources {
		t.Fatalf("%d sources held; MaxSources is %d", n, b.MaxSources)
	}
}

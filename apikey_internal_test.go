package hrgate

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"testing"
)

// The uint32 checksum must write the same digits as the big-integer
// encoding keys were issued with, or issued keys would stop checking.
func TestChecksumMatchesBase62(t *testing.T) {
	for i := range 2000 {
		s := "hrg_live_" + strconv.Itoa(i*7919)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(s)))
		got := apiKeyChecksum(s)
		if want := base62(b[:], apiKeyChecksumLen); string(got[:]) != want {
			t.Fatalf("checksum of %q = %s, want %s", s, got[:], want)
		}
	}
}

func BenchmarkCheckAPIKey(b *testing.B) {
	key := "hrg_live_" + base62([]byte("0123456789abcdef0123456789abcdef"), apiKeyBodyLen)
	sum := apiKeyChecksum(key)
	key += string(sum[:])
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := CheckAPIKey(key); !ok {
			b.Fatal("key does not check")
		}
	}
}

package keyring_test

import (
	"fmt"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
)

// fieldValue is the size of a typical sealed group: a bank account or a
// salary group in the store's codec is 40–80 bytes.
var fieldValue = []byte("DE89370400440532013000|COBADEFFXXX|Commerzbank|checking|EUR|")

// BenchmarkSeal and BenchmarkOpen measure one field with the owner's data
// key in the cache, which is the read and write path once a key is loaded.
func BenchmarkSeal(b *testing.B) {
	k := mustOpen(b, storetest.OpenKeyStore(b, storetest.SQLite(b)), provider(b, 1), keyring.Options{})
	ref := hrgate.FieldRef{Table: "employees", RecordID: "emp_1", Field: "g_banking"}
	if _, err := k.Seal(ctx, "emp_1", ref, fieldValue); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(fieldValue)))
	for b.Loop() {
		if _, err := k.Seal(ctx, "emp_1", ref, fieldValue); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustOpen(b, storetest.OpenKeyStore(b, storetest.SQLite(b)), provider(b, 1), keyring.Options{})
	ref := hrgate.FieldRef{Table: "employees", RecordID: "emp_1", Field: "g_banking"}
	sealed, err := k.Seal(ctx, "emp_1", ref, fieldValue)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(fieldValue)))
	for b.Loop() {
		if _, err := k.Open(ctx, "emp_1", ref, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewrap re-wraps rewrapKeys data keys after a rotation, on each
// database; one iteration is one rotation and the whole re-wrap. It
// reports data keys per second.
func BenchmarkRewrap(b *testing.B) {
	const rewrapKeys = 50_000
	for name, dsn := range storetest.DSNs() {
		b.Run(name, func(b *testing.B) {
			k := mustOpen(b, storetest.OpenKeyStore(b, dsn(b)), provider(b, 1), keyring.Options{})
			owners := make([]string, rewrapKeys)
			for i := range owners {
				owners[i] = fmt.Sprintf("emp_%08d", i)
			}
			for i := 0; i < len(owners); i += 5000 {
				if err := k.CreateDataKeys(ctx, owners[i:min(i+5000, len(owners))]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			total := 0
			for b.Loop() {
				if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
					b.Fatal(err)
				}
				n, err := k.Rewrap(ctx)
				if err != nil || n != rewrapKeys {
					b.Fatalf("Rewrap = %d, %v", n, err)
				}
				total += n
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

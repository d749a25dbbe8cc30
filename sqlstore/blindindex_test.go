package sqlstore_test

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// indexCounter counts the blind indexes computed under index keys older
// than the active one.
type indexCounter struct {
	sqlstore.FieldCipher
	older atomic.Int64
}

func (c *indexCounter) BlindIndex(kind, value string) [][]byte {
	hs := c.FieldCipher.BlindIndex(kind, value)
	if len(hs) > 1 {
		c.older.Add(int64(len(hs) - 1))
	}
	return hs
}

// TestInsertIndexesUnderActiveKeyOnly: while an index-key rotation runs,
// searches hash under every key in use, but an insert stores the hash
// under the active key alone and computes no other.
func TestInsertIndexesUnderActiveKeyOnly(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		kr := storetest.Keyring(t, storetest.KeysDSN(dsn))
		c := &indexCounter{FieldCipher: kr}
		db := openWithCipher(t, dsn, c)
		before := staff(t, db, 81, 2)
		if _, err := kr.Rotate(ctx, hrgate.PurposeIndex); err != nil {
			t.Fatal(err)
		}

		c.older.Store(0)
		es := staff(t, db, 82, 3)
		if n := c.older.Load(); n != 0 {
			t.Fatalf("inserting 3 employees hashed %d values under an older index key; want 0", n)
		}
		for _, e := range es {
			stored, err := db.QueryBytesForTest(ctx, `SELECT bi_national_id FROM employees WHERE id = ?`, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			hs := kr.BlindIndex(keyring.IndexNationalID, e.GovernmentID.Value)
			if len(hs) != 2 || !bytes.Equal(stored, hs[0]) || bytes.Equal(stored, hs[1]) {
				t.Fatalf("employee %s stores the index %x; want %x, under the active key of %d", e.ID, stored, hs[0], len(hs))
			}
		}
		if n, _ := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM employees WHERE bi_version = 2`); n != 3 {
			t.Fatalf("%d rows at index version 2; want the 3 inserted after the rotation", n)
		}
		// Both generations are found while the rotation runs.
		for _, e := range []*hrgate.Employee{before[0], es[1]} {
			if got := search(t, db, hrgate.EmployeeFilter{NationalID: e.GovernmentID.Value}); !slices.Equal(got, []string{e.ID}) {
				t.Fatalf("searching for %s found %v", e.ID, got)
			}
		}
	})
}

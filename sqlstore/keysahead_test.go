package sqlstore_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// TestPrepareAndDiscardEmployeeKeys: keys made before the transaction
// that inserts their employees are in the key store and cached; once
// discarded, those of ids no employee took are gone from the key store,
// while an employee's own keys stay, whoever asks to discard them.
func TestPrepareAndDiscardEmployeeKeys(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		env := openEnc(t, dsn, sqlstore.Options{})
		ks := storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))
		taken := staff(t, env.db, 83, 1)[0]
		var unused []string
		for range 2 {
			id, err := hrgate.NewID(hrgate.PrefixEmployee, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			unused = append(unused, id)
		}
		if err := env.db.PrepareEmployeeKeys(ctx, unused); err != nil {
			t.Fatal(err)
		}
		keys, err := ks.DataKeys(ctx, unused)
		if err != nil || len(keys) != 2 {
			t.Fatalf("prepared keys in the key store: %d, %v", len(keys), err)
		}
		for _, id := range unused {
			if !env.kr.Cached(id) {
				t.Fatalf("the key of %s is not cached", id)
			}
		}

		if err := env.db.DiscardEmployeeKeys(ctx, append([]string{taken.ID}, unused...)); err != nil {
			t.Fatal(err)
		}
		if keys, err := ks.DataKeys(ctx, unused); err != nil || len(keys) != 0 {
			t.Fatalf("discarded keys left in the key store: %d, %v", len(keys), err)
		}
		if keys, err := ks.DataKeys(ctx, []string{taken.ID}); err != nil || len(keys) != 1 {
			t.Fatalf("the employee's own key: %d, %v", len(keys), err)
		}
		mustReadAll(t, env.db, []*hrgate.Employee{taken})

		if err := env.db.PrepareEmployeeKeys(ctx, []string{"cmp_x"}); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("an id that is not an employee's: %v", err)
		}
	})
}

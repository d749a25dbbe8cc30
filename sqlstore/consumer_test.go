package sqlstore_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

func newConsumer(t *testing.T, g *ids, name string) *hrgate.Consumer {
	t.Helper()
	return &hrgate.Consumer{
		ID:          g.new(t, hrgate.PrefixConsumer),
		Name:        name,
		Description: "Lohnbuchhaltung – payroll ✓",
		Scopes:      []string{"employees:read:identity", "companies:read"},
		CreatedAt:   ts(1),
		ModifiedAt:  ts(2),
	}
}

func TestConsumers(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(21)
		payroll := newConsumer(t, g, "payroll")
		benefits := newConsumer(t, g, "benefits")
		benefits.Scopes = nil
		for _, c := range []*hrgate.Consumer{payroll, benefits} {
			if err := db.CreateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("FindByIDAndName", func(t *testing.T) {
			for _, key := range []string{payroll.ID, "payroll"} {
				got, err := db.FindConsumer(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, payroll) {
					t.Fatalf("FindConsumer(%q) = %+v, want %+v", key, got, payroll)
				}
			}
			got, err := db.FindConsumer(ctx, "benefits")
			if err != nil || got.Scopes != nil {
				t.Fatalf("empty scopes came back as %#v, %v", got, err)
			}
			_, err = db.FindConsumer(ctx, "nobody")
			wantCode(t, err, hrgate.ENOTFOUND)
		})

		t.Run("List", func(t *testing.T) {
			got, err := db.ListConsumers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if names := idsOf(got, func(c *hrgate.Consumer) string { return c.Name }); !slices.Equal(names, []string{"benefits", "payroll"}) {
				t.Fatalf("names = %v", names)
			}
		})

		t.Run("ErrNameTaken", func(t *testing.T) {
			err := db.CreateConsumer(ctx, newConsumer(t, g, "payroll"))
			wantCode(t, err, hrgate.ECONFLICT)
			if got := hrgate.ErrorMessage(err); got != "A consumer with this name already exists." {
				t.Errorf("message = %q (%v)", got, err)
			}
		})

		t.Run("ErrNameIsAnotherID", func(t *testing.T) {
			err := db.CreateConsumer(ctx, newConsumer(t, g, payroll.ID))
			wantCode(t, err, hrgate.ECONFLICT)
			// Any id-shaped name, not only a taken id: the other consumer
			// may be created after this one.
			err = db.CreateConsumer(ctx, newConsumer(t, g, g.new(t, hrgate.PrefixConsumer)))
			wantCode(t, err, hrgate.ECONFLICT)
			got, err := db.FindConsumer(ctx, payroll.ID)
			if err != nil || got.ID != payroll.ID {
				t.Fatalf("FindConsumer(id) = %v, %v", got, err)
			}
		})

		t.Run("Update", func(t *testing.T) {
			up := *payroll
			up.Name = "ignored"
			up.Description = "new"
			up.Scopes = []string{"companies:read"}
			up.ModifiedAt = ts(50)
			if err := db.UpdateConsumer(ctx, &up); err != nil {
				t.Fatal(err)
			}
			got, err := db.FindConsumer(ctx, payroll.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := *payroll
			want.Description, want.Scopes, want.ModifiedAt = "new", []string{"companies:read"}, ts(50)
			if !reflect.DeepEqual(got, &want) {
				t.Fatalf("after update = %+v, want %+v", got, want)
			}
			gone := newConsumer(t, g, "gone")
			wantCode(t, db.UpdateConsumer(ctx, gone), hrgate.ENOTFOUND)
		})

		t.Run("Delete", func(t *testing.T) {
			if err := db.DeleteConsumer(ctx, benefits.ID); err != nil {
				t.Fatal(err)
			}
			_, err := db.FindConsumer(ctx, benefits.ID)
			wantCode(t, err, hrgate.ENOTFOUND)
			wantCode(t, db.DeleteConsumer(ctx, benefits.ID), hrgate.ENOTFOUND)
		})
	})
}

func TestAPIKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(31)
		payroll := newConsumer(t, g, "payroll")
		benefits := newConsumer(t, g, "benefits")
		for _, c := range []*hrgate.Consumer{payroll, benefits} {
			if err := db.CreateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		newKey := func(c *hrgate.Consumer, n int) *hrgate.APIKey {
			secret, err := hrgate.GenerateAPIKey(hrgate.KeyLive, g.r)
			if err != nil {
				t.Fatal(err)
			}
			return &hrgate.APIKey{
				ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive,
				Hash: hrgate.HashAPIKey(secret), Description: "clé n°1",
				Scopes: []string{"employees:read"}, AllowCIDRs: []string{"10.0.0.0/8", "2001:db8::/32"},
				CreatedAt: ts(10 - n), ExpiresAt: ts(1000), ReplacedByID: "key_next",
			}
		}
		k1, k2, k3 := newKey(payroll, 1), newKey(payroll, 2), newKey(benefits, 3)
		k2.Env, k2.AllowCIDRs, k2.Scopes, k2.ExpiresAt, k2.ReplacedByID = hrgate.KeyTest, nil, nil, ts(0).AddDate(-60, 0, 0), ""
		for _, k := range []*hrgate.APIKey{k1, k2, k3} {
			if err := db.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("Find", func(t *testing.T) {
			for _, k := range []*hrgate.APIKey{k1, k2} {
				got, err := db.FindAPIKeyByHash(ctx, k.Hash)
				if err != nil || !reflect.DeepEqual(got, k) {
					t.Fatalf("FindAPIKeyByHash = %+v, %v; want %+v", got, err, k)
				}
				got, err = db.FindAPIKey(ctx, k.ID)
				if err != nil || !reflect.DeepEqual(got, k) {
					t.Fatalf("FindAPIKey = %+v, %v; want %+v", got, err, k)
				}
			}
			_, err := db.FindAPIKeyByHash(ctx, hrgate.HashAPIKey("nope"))
			wantCode(t, err, hrgate.ENOTFOUND)
			_, err = db.FindAPIKeyByHash(ctx, nil)
			wantCode(t, err, hrgate.ENOTFOUND)
			_, err = db.FindAPIKey(ctx, "key_nope")
			wantCode(t, err, hrgate.ENOTFOUND)
		})

		t.Run("ErrCreate", func(t *testing.T) {
			orphan := newKey(&hrgate.Consumer{ID: "con_missing"}, 0)
			wantCode(t, db.CreateAPIKey(ctx, orphan), hrgate.ENOTFOUND)
			dup := newKey(payroll, 0)
			dup.Hash = k1.Hash
			err := db.CreateAPIKey(ctx, dup)
			wantCode(t, err, hrgate.ECONFLICT)
			if got := hrgate.ErrorMessage(err); got != "An API key with this hash already exists." {
				t.Errorf("message = %q (%v)", got, err)
			}
		})

		t.Run("List", func(t *testing.T) {
			all, err := db.ListAPIKeys(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			// CreatedAt is ts(10-n): k3 first, then k2, then k1.
			if got := idsOf(all, func(k *hrgate.APIKey) string { return k.ID }); !slices.Equal(got, []string{k3.ID, k2.ID, k1.ID}) {
				t.Fatalf("ListAPIKeys(\"\") = %v", got)
			}
			mine, err := db.ListAPIKeys(ctx, payroll.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := idsOf(mine, func(k *hrgate.APIKey) string { return k.ID }); !slices.Equal(got, []string{k2.ID, k1.ID}) {
				t.Fatalf("ListAPIKeys(payroll) = %v", got)
			}
			none, err := db.ListAPIKeys(ctx, "con_nobody")
			if err != nil || none == nil || len(none) != 0 {
				t.Fatalf("ListAPIKeys(nobody) = %#v, %v", none, err)
			}
		})

		t.Run("Revoke", func(t *testing.T) {
			before := epoch(t, db)
			if err := db.RevokeAPIKey(ctx, k1.ID, ts(500)); err != nil {
				t.Fatal(err)
			}
			revoked := epoch(t, db)
			if revoked <= before {
				t.Fatal("a revocation left the credential epoch unchanged")
			}
			if err := db.RevokeAPIKey(ctx, k1.ID, ts(600)); err != nil {
				t.Fatal(err)
			}
			got, err := db.FindAPIKey(ctx, k1.ID)
			if err != nil || !got.RevokedAt.Equal(ts(500)) {
				t.Fatalf("RevokedAt = %v, %v; want the first time %v", got.RevokedAt, err, ts(500))
			}
			wantCode(t, db.RevokeAPIKey(ctx, "key_nope", ts(500)), hrgate.ENOTFOUND)
			if epoch(t, db) != revoked {
				t.Fatal("a revocation that changed nothing bumped the credential epoch")
			}
		})

		t.Run("Touch", func(t *testing.T) {
			if err := db.TouchAPIKey(ctx, k2.ID, ts(700), "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			// An older use reported late does not move the time back.
			if err := db.TouchAPIKey(ctx, k2.ID, ts(650), "192.0.2.9"); err != nil {
				t.Fatal(err)
			}
			got, err := db.FindAPIKey(ctx, k2.ID)
			if err != nil || !got.LastUsedAt.Equal(ts(700)) || got.LastUsedAddr != "192.0.2.1" {
				t.Fatalf("after touch: %+v, %v", got, err)
			}
			if err := db.TouchAPIKey(ctx, k2.ID, ts(800), "2001:db8::1"); err != nil {
				t.Fatal(err)
			}
			got, err = db.FindAPIKey(ctx, k2.ID)
			if err != nil || !got.LastUsedAt.Equal(ts(800)) || got.LastUsedAddr != "2001:db8::1" {
				t.Fatalf("after second touch: %+v, %v", got, err)
			}
		})

		t.Run("DeleteConsumerCascades", func(t *testing.T) {
			if err := db.DeleteConsumer(ctx, payroll.ID); err != nil {
				t.Fatal(err)
			}
			for _, k := range []*hrgate.APIKey{k1, k2} {
				_, err := db.FindAPIKeyByHash(ctx, k.Hash)
				wantCode(t, err, hrgate.ENOTFOUND)
			}
			if _, err := db.FindAPIKey(ctx, k3.ID); err != nil {
				t.Fatalf("key of another consumer: %v", err)
			}
		})
	})
}

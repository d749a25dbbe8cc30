package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"reflect"
	"slices"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

func newClient(t *testing.T, g *ids, consumerID string, sec int) *hrgate.OAuthClient {
	t.Helper()
	h := sha256.Sum256([]byte(g.new(t, "secret")))
	return &hrgate.OAuthClient{
		ID:          g.new(t, hrgate.PrefixClient),
		ConsumerID:  consumerID,
		Description: "Lohnlauf ✓",
		AuthMethod:  hrgate.AuthClientSecret,
		SecretHash:  h[:],
		Scopes:      []string{"employees:read:identity"},
		AllowCIDRs:  []string{"10.0.0.0/8", "2001:db8::/32"},
		CreatedAt:   ts(sec),
	}
}

func epoch(t *testing.T, db *sqlstore.DB) int64 {
	t.Helper()
	e, err := db.CredentialEpoch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOAuthClients(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(41)
		payroll := newConsumer(t, g, "payroll")
		benefits := newConsumer(t, g, "benefits")
		for _, c := range []*hrgate.Consumer{payroll, benefits} {
			if err := db.CreateConsumer(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		secretClient := newClient(t, g, payroll.ID, 5)
		jwkClient := newClient(t, g, payroll.ID, 6)
		jwkClient.AuthMethod, jwkClient.SecretHash = hrgate.AuthPrivateKeyJWT, nil
		jwkClient.PublicJWK = []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)
		jwkClient.AllowCIDRs = nil
		other := newClient(t, g, benefits.ID, 7)
		for _, c := range []*hrgate.OAuthClient{secretClient, jwkClient, other} {
			if err := db.CreateClient(ctx, c); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("RoundTrip", func(t *testing.T) {
			for _, want := range []*hrgate.OAuthClient{secretClient, jwkClient} {
				got, err := db.FindClient(ctx, want.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("FindClient = %+v, want %+v", got, want)
				}
			}
			_, err := db.FindClient(ctx, "cli_nope")
			wantCode(t, err, hrgate.ENOTFOUND)
		})

		t.Run("List", func(t *testing.T) {
			got, err := db.ListClients(ctx, payroll.ID)
			if err != nil {
				t.Fatal(err)
			}
			id := func(c *hrgate.OAuthClient) string { return c.ID }
			if !slices.Equal(idsOf(got, id), []string{secretClient.ID, jwkClient.ID}) {
				t.Fatalf("payroll's clients = %v", idsOf(got, id))
			}
			all, err := db.ListClients(ctx, "")
			if err != nil || len(all) != 3 {
				t.Fatalf("all clients: %d, %v", len(all), err)
			}
		})

		t.Run("ErrUnknownConsumer", func(t *testing.T) {
			err := db.CreateClient(ctx, newClient(t, g, "con_gone", 8))
			wantCode(t, err, hrgate.ENOTFOUND)
		})

		t.Run("ErrCredentialDoesNotMatchMethod", func(t *testing.T) {
			both := newClient(t, g, payroll.ID, 9)
			both.PublicJWK = jwkClient.PublicJWK
			wantCode(t, db.CreateClient(ctx, both), hrgate.EINVALID)
			none := newClient(t, g, payroll.ID, 9)
			none.AuthMethod, none.SecretHash = hrgate.AuthPrivateKeyJWT, nil
			wantCode(t, db.CreateClient(ctx, none), hrgate.EINVALID)
			short := newClient(t, g, payroll.ID, 9)
			short.SecretHash = short.SecretHash[:16]
			wantCode(t, db.CreateClient(ctx, short), hrgate.EINVALID)
		})

		t.Run("ErrIDTaken", func(t *testing.T) {
			dup := newClient(t, g, payroll.ID, 10)
			dup.ID = secretClient.ID
			wantCode(t, db.CreateClient(ctx, dup), hrgate.ECONFLICT)
		})

		t.Run("DeleteBumpsEpoch", func(t *testing.T) {
			before := epoch(t, db)
			if err := db.DeleteClient(ctx, jwkClient.ID); err != nil {
				t.Fatal(err)
			}
			if epoch(t, db) == before {
				t.Fatal("deleting a client left the credential epoch unchanged")
			}
			_, err := db.FindClient(ctx, jwkClient.ID)
			wantCode(t, err, hrgate.ENOTFOUND)
			wantCode(t, db.DeleteClient(ctx, jwkClient.ID), hrgate.ENOTFOUND)
		})

		t.Run("ConsumerDeletionCascades", func(t *testing.T) {
			before := epoch(t, db)
			if err := db.DeleteConsumer(ctx, payroll.ID); err != nil {
				t.Fatal(err)
			}
			if epoch(t, db) == before {
				t.Fatal("deleting a consumer left the credential epoch unchanged")
			}
			_, err := db.FindClient(ctx, secretClient.ID)
			wantCode(t, err, hrgate.ENOTFOUND)
			if _, err := db.FindClient(ctx, other.ID); err != nil {
				t.Fatalf("another consumer's client went too: %v", err)
			}
		})
	})
}

func TestSigningKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		key := func(gen int64, id string, activates, retires int) *hrgate.SigningKey {
			return &hrgate.SigningKey{
				ID: id, Generation: gen, Algorithm: "EdDSA", PrivateKey: bytes.Repeat([]byte{byte(gen)}, 48),
				CreatedAt: ts(activates - 10), ActivatesAt: ts(activates), RetiresAt: ts(retires),
			}
		}
		k2, k1 := key(2, "kid-b", 100, 200), key(1, "kid-a", 0, 100)
		for _, k := range []*hrgate.SigningKey{k2, k1} {
			if err := db.InsertSigningKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !reflect.DeepEqual(got[0], k1) || !reflect.DeepEqual(got[1], k2) {
			t.Fatalf("SigningKeys = %+v, want generations 1, 2", got)
		}

		t.Run("ErrGenerationTaken", func(t *testing.T) {
			err := db.InsertSigningKey(ctx, key(2, "kid-c", 100, 200))
			wantCode(t, err, hrgate.ECONFLICT)
			if msg := hrgate.ErrorMessage(err); msg != "A signing key with this generation already exists." {
				t.Errorf("message %q", msg)
			}
		})
		t.Run("ErrActivationAfterRetirement", func(t *testing.T) {
			wantCode(t, db.InsertSigningKey(ctx, key(3, "kid-d", 300, 300)), hrgate.EINVALID)
		})
		t.Run("DeleteRetired", func(t *testing.T) {
			n, err := db.DeleteSigningKeys(ctx, ts(150))
			if err != nil || n != 1 {
				t.Fatalf("deleted %d, %v; want 1", n, err)
			}
			left, err := db.SigningKeys(ctx)
			if err != nil || len(left) != 1 || left[0].ID != "kid-b" {
				t.Fatalf("left %+v, %v", left, err)
			}
		})
	})
}

func TestTokenState(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()

		t.Run("RevokeBumpsEpochAndExpires", func(t *testing.T) {
			revocations := func() int64 {
				t.Helper()
				e, err := db.RevocationEpoch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			credentials, before := epoch(t, db), revocations()
			if err := db.RevokeToken(ctx, "tok_a", ts(100)); err != nil {
				t.Fatal(err)
			}
			once := revocations()
			for range 3 {
				if err := db.RevokeToken(ctx, "tok_a", ts(100)); err != nil {
					t.Fatalf("repeated revocation: %v", err)
				}
			}
			if revocations() != once {
				t.Fatal("a repeated revocation bumped the revocation epoch")
			}
			if err := db.RevokeToken(ctx, "tok_b", ts(200)); err != nil {
				t.Fatal(err)
			}
			if revocations() == before {
				t.Fatal("revoking a token left the revocation epoch unchanged")
			}
			if epoch(t, db) != credentials {
				t.Fatal("revoking a token bumped the credential epoch: any client could flush every instance's credential caches")
			}
			for _, tc := range []struct {
				now  int
				want []string
			}{{50, []string{"tok_a", "tok_b"}}, {100, []string{"tok_b"}}, {200, []string{}}} {
				got, err := db.RevokedTokens(ctx, ts(tc.now))
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("RevokedTokens(%d) = %v, %v; want %v", tc.now, got, err, tc.want)
				}
			}
		})

		t.Run("AssertionReplay", func(t *testing.T) {
			if err := db.UseAssertionID(ctx, "cli_x:jti-1", ts(100)); err != nil {
				t.Fatal(err)
			}
			wantCode(t, db.UseAssertionID(ctx, "cli_x:jti-1", ts(100)), hrgate.ECONFLICT)
			if err := db.UseAssertionID(ctx, "cli_y:jti-1", ts(100)); err != nil {
				t.Fatalf("another client's assertion id: %v", err)
			}
		})

		t.Run("Purge", func(t *testing.T) {
			if err := db.PurgeTokens(ctx, ts(150)); err != nil {
				t.Fatal(err)
			}
			got, err := db.RevokedTokens(ctx, ts(0))
			if err != nil || !slices.Equal(got, []string{"tok_b"}) {
				t.Fatalf("after purge: %v, %v", got, err)
			}
			// A purged assertion id can be recorded again: its assertion
			// expired, so a replay fails on expiry before it gets here.
			if err := db.UseAssertionID(ctx, "cli_x:jti-1", ts(300)); err != nil {
				t.Fatalf("purged id: %v", err)
			}
		})
	})
}

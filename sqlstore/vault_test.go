package sqlstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// planted are known secret values written through every path that
// stores one.
type planted struct {
	secret, put, signingKey, webhook []byte
	delivery                         string
	deliveryKeyID                    string
	sourceID                         string
}

// plant writes a secret (Secret and PutSecret), a token signing key, a key
// delivery and a webhook source's secret with recognisable values.
func plant(t *testing.T, db *sqlstore.DB, seed byte) *planted {
	t.Helper()
	ctx := context.Background()
	g := newIDs(seed)
	p := &planted{
		secret:     []byte("planted-cursor-secret-5f1e9a7c3b"),
		put:        []byte("planted-admin-digest-c0ffee4269a1"),
		signingKey: []byte("planted-pkcs8-private-key-8d2b6e04a9f1"),
		delivery:   "hrg_live_plantedDeliverySecret7Hq2Zx9Lm4Rt8Wv1",
		webhook:    []byte("planted-webhook-signing-key-3e7a91d04c"),
	}
	if v, err := db.Secret(ctx, "planted", func() ([]byte, error) { return p.secret, nil }); err != nil || !bytes.Equal(v, p.secret) {
		t.Fatalf("Secret = %q, %v", v, err)
	}
	if err := db.PutSecret(ctx, "planted_put", p.put); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertSigningKey(ctx, &hrgate.SigningKey{ID: "kid-planted", Generation: 1, Algorithm: "EdDSA",
		PrivateKey: p.signingKey, CreatedAt: ts(0), ActivatesAt: ts(1), RetiresAt: ts(100)}); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, g, "planted")
	if err := db.CreateConsumer(ctx, c); err != nil {
		t.Fatal(err)
	}
	old := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive, Hash: []byte("h-old"),
		CreatedAt: ts(1), ExpiresAt: ts(1000)}
	if err := db.CreateAPIKey(ctx, old); err != nil {
		t.Fatal(err)
	}
	next := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive, Hash: []byte("h-next"),
		CreatedAt: ts(2), ExpiresAt: ts(2000)}
	p.deliveryKeyID = next.ID
	if err := db.RotateAPIKey(ctx, old.ID, next, ts(50), &hrgate.KeyDelivery{KeyID: next.ID, Secret: p.delivery, CreatedAt: ts(2)}); err != nil {
		t.Fatal(err)
	}
	co := newCompany(t, g, fmt.Sprintf("planted%d", seed), false)
	mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
	src := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "planted-hook", Type: hrgate.SourceWebhook, CreatedAt: ts(3)}
	if err := db.CreateSource(ctx, src, p.webhook); err != nil {
		t.Fatal(err)
	}
	p.sourceID = src.ID
	return p
}

// values returns the planted values by name.
func (p *planted) values() map[string][]byte {
	return map[string][]byte{"secret": p.secret, "put secret": p.put, "signing key": p.signingKey, "key delivery": []byte(p.delivery),
		"webhook secret": p.webhook}
}

// foundIn returns the names of the planted values that dump holds in the
// clear, raw or in hex (pg_dump writes bytea columns in hex).
func (p *planted) foundIn(dump []byte) []string {
	var found []string
	for name, v := range p.values() {
		if bytes.Contains(dump, v) || bytes.Contains(dump, []byte(hex.EncodeToString(v))) {
			found = append(found, name)
		}
	}
	return found
}

// check fails the test unless every planted value reads back.
func (p *planted) check(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	if v, err := db.Secret(ctx, "planted", func() ([]byte, error) { return nil, errors.New("exists") }); err != nil || !bytes.Equal(v, p.secret) {
		t.Fatalf("Secret = %q, %v", v, err)
	}
	if v, err := db.FindSecret(ctx, "planted_put"); err != nil || !bytes.Equal(v, p.put) {
		t.Fatalf("FindSecret = %q, %v", v, err)
	}
	ks, err := db.SigningKeys(ctx)
	if err != nil || len(ks) != 1 || !bytes.Equal(ks[0].PrivateKey, p.signingKey) {
		t.Fatalf("SigningKeys = %+v, %v", ks, err)
	}
	if pending, err := db.PendingKeyDeliveries(ctx); err != nil || !pending[p.deliveryKeyID] {
		t.Fatalf("PendingKeyDeliveries = %v, %v", pending, err)
	}
	if v, err := db.SourceSecret(ctx, p.sourceID); err != nil || !bytes.Equal(v, p.webhook) {
		t.Fatalf("SourceSecret = %q, %v", v, err)
	}
}

// take fails the test unless the planted delivery is handed out.
func (p *planted) take(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	ds, err := db.TakeKeyDeliveries(context.Background(), "")
	if err != nil || len(ds) != 1 || ds[0].Secret != p.delivery || ds[0].KeyID != p.deliveryKeyID {
		t.Fatalf("TakeKeyDeliveries = %+v, %v", ds, err)
	}
}

func openPlain(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{AutoMigrate: true, InsecurePlaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// No secret hrgate keeps is in the database files or a dump in the clear,
// and each still reads back. The same values written by a store opened in
// the clear are found, which proves the search looks in the right place.
func TestVault_NoSecretAtRest(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		db := MustOpenDB(t, dsn)
		p := plant(t, db, 1)
		if found := p.foundIn(storetest.Dump(t, dsn)); len(found) > 0 {
			t.Fatalf("stored in the clear: %v", found)
		}
		p.check(t, db)
		p.take(t, db)

		t.Run("Control", func(t *testing.T) {
			dsn := dsnLike(t, dsn)
			plain := openPlain(t, dsn)
			defer plain.Close()
			p := plant(t, plain, 2)
			if found := p.foundIn(storetest.Dump(t, dsn)); len(found) != 5 {
				t.Fatalf("the search found only %v of the values stored in the clear", found)
			}
		})
	})
}

// dsnLike returns a fresh database of the same kind as dsn.
func dsnLike(t *testing.T, dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return postgresDSN(t)
	}
	return sqliteDSN(t)
}

// A sealed secret is bound to its row: copied to another row it does not
// open, and neither does one with a flipped bit. The error says which row
// and that its integrity check failed, never the value.
func TestVault_MovedOrChangedSecretFails(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		p := plant(t, db, 3)
		wantIntegrity := func(t *testing.T, err error) {
			t.Helper()
			if !errors.Is(err, hrgate.ErrIntegrity) || hrgate.ErrorCode(err) != hrgate.EINTERNAL {
				t.Fatalf("err = %v; want an internal error wrapping ErrIntegrity", err)
			}
			for name, v := range p.values() {
				if strings.Contains(err.Error(), string(v)) {
					t.Fatalf("the error carries the %s: %v", name, err)
				}
			}
		}

		t.Run("Secret", func(t *testing.T) {
			must(t, db.PutSecret(ctx, "other", []byte("another secret value")))
			must(t, db.ExecForTest(ctx, `UPDATE secrets SET value = (SELECT value FROM secrets WHERE name = 'planted') WHERE name = 'other'`))
			_, err := db.FindSecret(ctx, "other")
			wantIntegrity(t, err)
			_, err = db.Secret(ctx, "other", func() ([]byte, error) { return []byte("x"), nil })
			wantIntegrity(t, err)
		})
		t.Run("SecretBitFlipped", func(t *testing.T) {
			v, err := db.QueryBytesForTest(ctx, `SELECT value FROM secrets WHERE name = 'planted_put'`)
			must(t, err)
			v[len(v)-1] ^= 1
			must(t, db.ExecForTest(ctx, `UPDATE secrets SET value = ? WHERE name = 'planted_put'`, v))
			_, err = db.FindSecret(ctx, "planted_put")
			wantIntegrity(t, err)
		})
		t.Run("SigningKey", func(t *testing.T) {
			must(t, db.InsertSigningKey(ctx, &hrgate.SigningKey{ID: "kid-other", Generation: 2, Algorithm: "EdDSA",
				PrivateKey: []byte("another private key"), CreatedAt: ts(0), ActivatesAt: ts(100), RetiresAt: ts(200)}))
			must(t, db.ExecForTest(ctx, `UPDATE oauth_signing_keys SET private_key = `+
				`(SELECT private_key FROM oauth_signing_keys WHERE id = 'kid-planted') WHERE id = 'kid-other'`))
			_, err := db.SigningKeys(ctx)
			wantIntegrity(t, err)
		})
		t.Run("KeyDelivery", func(t *testing.T) {
			// A second delivery, then the planted secret copied onto it.
			g := newIDs(33)
			c := newConsumer(t, g, "other")
			must(t, db.CreateConsumer(ctx, c))
			old := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive, Hash: []byte("h-o1"), ExpiresAt: ts(9)}
			next := &hrgate.APIKey{ID: g.new(t, hrgate.PrefixAPIKey), ConsumerID: c.ID, Env: hrgate.KeyLive, Hash: []byte("h-o2"), ExpiresAt: ts(9)}
			must(t, db.CreateAPIKey(ctx, old))
			must(t, db.RotateAPIKey(ctx, old.ID, next, ts(5), &hrgate.KeyDelivery{KeyID: next.ID, Secret: "hrg_live_other", CreatedAt: ts(3)}))
			must(t, db.ExecForTest(ctx, `UPDATE key_deliveries SET secret = (SELECT secret FROM key_deliveries WHERE key_id = ?) WHERE key_id = ?`,
				p.deliveryKeyID, next.ID))
			_, err := db.TakeKeyDeliveries(ctx, "")
			wantIntegrity(t, err)
			// Nothing was handed out, so nothing was deleted.
			if pending, err := db.PendingKeyDeliveries(ctx); err != nil || len(pending) != 2 {
				t.Fatalf("after a failed fetch the queue holds %v, %v; want both", pending, err)
			}
			// The consumer whose secret is intact still gets it.
			ds, err := db.TakeKeyDeliveries(ctx, p.deliveryKeyConsumer(t, db))
			if err != nil || len(ds) != 1 || ds[0].Secret != p.delivery {
				t.Fatalf("TakeKeyDeliveries = %+v, %v", ds, err)
			}
		})
	})
}

// deliveryKeyConsumer returns the consumer of the planted delivery.
func (p *planted) deliveryKeyConsumer(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	k, err := db.FindAPIKey(context.Background(), p.deliveryKeyID)
	must(t, err)
	return k.ConsumerID
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// Secrets an earlier hrgate stored in the clear are sealed when the store
// is first opened with a keyring, once: a second open changes nothing.
func TestVault_SealsSecretsStoredInTheClear(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		plain := openPlain(t, dsn)
		p := plant(t, plain, 4)
		// On PostgreSQL a dump shows live rows only, so the compaction is
		// checked by its effect: VACUUM FULL gives each table it rewrites
		// a new file node, and every table holding secrets must get one.
		vaultTables := []string{"secrets", "key_deliveries", "oauth_signing_keys", "source_secrets", "webhook_secrets"}
		fileNodes := func(db *sqlstore.DB) map[string]int {
			out := map[string]int{}
			if !strings.HasPrefix(dsn, "postgres") {
				return out
			}
			for _, table := range vaultTables {
				n, err := db.QueryIntForTest(ctx, `SELECT pg_relation_filenode(CAST(? AS regclass))::bigint`, table)
				must(t, err)
				out[table] = n
			}
			return out
		}
		before := fileNodes(plain)
		must(t, plain.Close())
		if found := p.foundIn(storetest.Dump(t, dsn)); len(found) != 5 {
			t.Fatalf("the legacy store holds only %v in the clear", found)
		}

		var logs bytes.Buffer
		open := func() *sqlstore.DB {
			db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, Cipher: storetest.Keyring(t, storetest.KeysDSN(dsn)),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			must(t, err)
			return db
		}
		db := open()
		if found := p.foundIn(storetest.Dump(t, dsn)); len(found) > 0 {
			t.Fatalf("still in the clear after sealing: %v", found)
		}
		if !strings.Contains(logs.String(), "count=5") {
			t.Fatalf("the log does not report 5 sealed secrets:\n%s", logs.String())
		}
		// The old row versions holding the secrets in the clear were
		// removed: the compaction after sealing did not fail.
		if strings.Contains(logs.String(), "could not remove the old copies") {
			t.Fatalf("the compaction after sealing failed:\n%s", logs.String())
		}
		for table, node := range fileNodes(db) {
			if node == before[table] {
				t.Fatalf("the compaction after sealing did not rewrite %s, whose old row versions keep its secrets in the clear", table)
			}
		}
		for name, v := range p.values() {
			if strings.Contains(logs.String(), string(v)) {
				t.Fatalf("the log carries the %s", name)
			}
		}
		p.check(t, db)
		must(t, db.Close())

		// Opening again seals nothing twice: every value still reads back.
		logs.Reset()
		db = open()
		defer db.Close()
		if strings.Contains(logs.String(), "sealed") {
			t.Fatalf("the second open sealed again:\n%s", logs.String())
		}
		p.check(t, db)
		p.take(t, db)

		// A store opened in the clear is now refused at open, rather
		// than misread the sealed secrets or add plaintext beside them.
		again, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, InsecurePlaintext: true})
		if err == nil {
			_ = again.Close()
			t.Fatal("a sealed store opened in the clear")
		}
		if !strings.Contains(err.Error(), "InsecurePlaintext") {
			t.Fatalf("opening a sealed store in the clear: %v", err)
		}
	})
}

// failingCipher fails its n-th Seal.
type failingCipher struct {
	sqlstore.FieldCipher
	n int
}

func (c *failingCipher) Seal(ctx context.Context, owner string, ref hrgate.FieldRef, plain []byte) ([]byte, error) {
	if c.n--; c.n == 0 {
		return nil, errors.New("seal failed on purpose")
	}
	return c.FieldCipher.Seal(ctx, owner, ref, plain)
}

// Sealing the secrets of an earlier hrgate is all or nothing: when it
// fails half-way, the store does not open and every secret is as it was.
func TestVault_SealingIsAtomic(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		plain := openPlain(t, dsn)
		p := plant(t, plain, 5)
		must(t, plain.Close())

		// Seal 1 is the marker, 2 and 3 the first two secrets.
		_, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, Cipher: &failingCipher{FieldCipher: storetest.Keyring(t, storetest.KeysDSN(dsn)), n: 3}})
		if err == nil || !strings.Contains(err.Error(), "on purpose") {
			t.Fatalf("Open with a failing cipher: %v", err)
		}
		plain = openPlain(t, dsn)
		p.check(t, plain) // every value still in the clear, and no marker
		must(t, plain.Close())

		db := MustOpenDB(t, dsn)
		p.check(t, db)
	})
}

// A store sealed under one keyring does not open with another, and a
// store opened without a keyring handles no secret at all.
func TestVault_Refusals(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		plant(t, db, 6)

		t.Run("ErrOtherKeyring", func(t *testing.T) {
			// A key store of its own: the same master key, another keyring.
			other := storetest.Keyring(t, filepath.Join(t.TempDir(), "x.db"))
			if strings.HasPrefix(dsn, "postgres") {
				other = storetest.Keyring(t, postgresDSN(t))
			}
			_, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Cipher: other})
			if err == nil || !strings.Contains(err.Error(), "another keyring") {
				t.Fatalf("Open with another keyring: %v", err)
			}
		})
		t.Run("ErrNoKeyring", func(t *testing.T) {
			bare, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
			must(t, err)
			defer bare.Close()
			_, err = bare.FindSecret(ctx, "planted_put")
			wantCode(t, err, hrgate.EINTERNAL)
			_, err = bare.Secret(ctx, "fresh", func() ([]byte, error) { return []byte("v"), nil })
			wantCode(t, err, hrgate.EINTERNAL)
			err = bare.InsertSigningKey(ctx, &hrgate.SigningKey{ID: "kid-bare", Generation: 9, Algorithm: "EdDSA",
				PrivateKey: []byte("k"), CreatedAt: ts(0), ActivatesAt: ts(1), RetiresAt: ts(2)})
			wantCode(t, err, hrgate.EINTERNAL)
			if _, err := db.FindSecret(ctx, "fresh"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
				t.Fatalf("a store without a keyring wrote a secret: %v", err)
			}
		})
		t.Run("ErrReservedName", func(t *testing.T) {
			_, err := db.FindSecret(ctx, "vault_sealed")
			wantCode(t, err, hrgate.EINVALID)
			wantCode(t, db.PutSecret(ctx, "vault_sealed", []byte("x")), hrgate.EINVALID)
		})
	})
}

// PutSecret replaces a secret and moves the credential epoch with it.
func TestPutSecret(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		_, err := db.FindSecret(ctx, "admin")
		wantCode(t, err, hrgate.ENOTFOUND)
		before, _ := db.CredentialEpoch(ctx)
		must(t, db.PutSecret(ctx, "admin", []byte("one")))
		must(t, db.PutSecret(ctx, "admin", []byte("two")))
		if v, err := db.FindSecret(ctx, "admin"); err != nil || string(v) != "two" {
			t.Fatalf("FindSecret = %q, %v", v, err)
		}
		if after, _ := db.CredentialEpoch(ctx); after != before+2 {
			t.Fatalf("epoch %d -> %d; want two bumps", before, after)
		}
		wantCode(t, db.PutSecret(ctx, "admin", nil), hrgate.EINVALID)
	})
}

// Instances starting at once on a store an earlier hrgate wrote agree:
// one seals the secrets, the others find them sealed, and none seals a
// value twice.
func TestVault_ConcurrentOpens(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		plain := openPlain(t, dsn)
		p := plant(t, plain, 7)
		must(t, plain.Close())

		const n = 4
		dbs := make([]*sqlstore.DB, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			cipher := storetest.Keyring(t, storetest.KeysDSN(dsn))
			wg.Go(func() {
				dbs[i], errs[i] = sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, Cipher: cipher})
			})
		}
		wg.Wait()
		for i := range n {
			must(t, errs[i])
			defer dbs[i].Close()
		}
		for _, db := range dbs {
			p.check(t, db)
		}
	})
}

// HoldsKeyringData tells a data store that was opened with a keyring from
// one that was not, and creates no file to answer.
func TestHoldsKeyringData(t *testing.T) {
	ctx := context.Background()
	t.Run("MissingSQLiteFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hrgate.db")
		if held, err := sqlstore.HoldsKeyringData(ctx, path); err != nil || held {
			t.Fatalf("HoldsKeyringData = %v, %v; want false", held, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the database file was created (%v)", err)
		}
	})
	forEachDSN(t, func(t *testing.T, dsn string) {
		if held, err := sqlstore.HoldsKeyringData(ctx, dsn); err != nil || held {
			t.Fatalf("new store: HoldsKeyringData = %v, %v; want false", held, err)
		}
		plain, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, InsecurePlaintext: true})
		if err != nil {
			t.Fatal(err)
		}
		plain.Close()
		if held, err := sqlstore.HoldsKeyringData(ctx, dsn); err != nil || held {
			t.Fatalf("store opened without a keyring: HoldsKeyringData = %v, %v; want false", held, err)
		}
		MustOpenDB(t, dsn)
		if held, err := sqlstore.HoldsKeyringData(ctx, dsn); err != nil || !held {
			t.Fatalf("store opened with a keyring: HoldsKeyringData = %v, %v; want true", held, err)
		}
	})
}

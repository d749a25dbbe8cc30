package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

var ctx = context.Background()

func masterKey(b byte) []byte { return bytes.Repeat([]byte{b}, keyring.MasterKeySize) }

func provider(tb testing.TB, b byte) keyring.KeyProvider {
	tb.Helper()
	p, err := keyring.NewLocalProvider(masterKey(b), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// forEachKeyStore runs fn on a fresh key store per database.
func forEachKeyStore(t *testing.T, fn func(t *testing.T, ks *sqlstore.KeyStore)) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) { fn(t, storetest.OpenKeyStore(t, dsn(t))) })
	}
}

func mustOpen(tb testing.TB, ks hrgate.KeyringStore, p keyring.KeyProvider, opts keyring.Options) *keyring.Keyring {
	tb.Helper()
	k, err := keyring.Open(ctx, ks, p, opts)
	if err != nil {
		tb.Fatalf("open keyring: %v", err)
	}
	return k
}

var ssnRef = hrgate.FieldRef{Table: "employees", RecordID: "emp_1", Field: "g_government_id"}

func TestSealOpen(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		plain := []byte("078-05-1120")
		sealed, err := k.Seal(ctx, "emp_1", ssnRef, plain)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, plain) || !keyring.IsSealed(sealed) {
			t.Fatalf("sealed value %x holds the plaintext or lacks the format byte", sealed)
		}
		got, err := k.Open(ctx, "emp_1", ssnRef, sealed)
		if err != nil || string(got) != string(plain) {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
		again, _ := k.Seal(ctx, "emp_1", ssnRef, plain)
		if bytes.Equal(again, sealed) {
			t.Fatal("two seals of one value are equal: the nonce is not fresh")
		}

		// A second keyring on the same store (another instance) opens it.
		k2 := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if got, err := k2.Open(ctx, "emp_1", ssnRef, sealed); err != nil || string(got) != string(plain) {
			t.Fatalf("other instance Open = %q, %v", got, err)
		}
	})
}

func TestOpenRefusesMovedOrChangedCiphertext(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		sealed, err := k.Seal(ctx, "emp_1", ssnRef, []byte("078-05-1120"))
		if err != nil {
			t.Fatal(err)
		}
		if err := k.CreateDataKeys(ctx, []string{"emp_2"}); err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(sealed)
		flipped[len(flipped)-5] ^= 0x01
		tests := []struct {
			name   string
			owner  string
			ref    hrgate.FieldRef
			sealed []byte
		}{
			{"OtherRecord", "emp_1", hrgate.FieldRef{Table: "employees", RecordID: "emp_2", Field: "g_government_id"}, sealed},
			{"OtherOwner", "emp_2", hrgate.FieldRef{Table: "employees", RecordID: "emp_2", Field: "g_government_id"}, sealed},
			{"OtherField", "emp_1", hrgate.FieldRef{Table: "employees", RecordID: "emp_1", Field: "g_banking"}, sealed},
			{"OtherTable", "emp_1", hrgate.FieldRef{Table: "secrets", RecordID: "emp_1", Field: "g_government_id"}, sealed},
			{"FlippedBit", "emp_1", ssnRef, flipped},
			{"Truncated", "emp_1", ssnRef, sealed[:len(sealed)-1]},
			{"Plaintext", "emp_1", ssnRef, []byte("\x01078-05-1120")},
			{"Empty", "emp_1", ssnRef, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := k.Open(ctx, tt.owner, tt.ref, tt.sealed)
				if !errors.Is(err, hrgate.ErrIntegrity) {
					t.Fatalf("Open = %q, %v; want ErrIntegrity", got, err)
				}
				if strings.Contains(err.Error(), "078-05-1120") {
					t.Fatalf("the error repeats the value: %v", err)
				}
			})
		}
	})
}

func TestErase(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		now := time.Unix(1_800_000_000, 0)
		clock := func() time.Time { return now }
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{Now: clock, CacheTTL: time.Minute})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{Now: clock, CacheTTL: time.Minute})
		sealed, err := k.Seal(ctx, "emp_1", ssnRef, []byte("078-05-1120"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Open(ctx, "emp_1", ssnRef, sealed); err != nil {
			t.Fatal(err)
		}
		if err := k.Erase(ctx, "emp_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Open(ctx, "emp_1", ssnRef, sealed); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("Open after Erase = %v; want ErrKeyErased", err)
		}
		// Another instance trusts its cache for at most the TTL.
		now = now.Add(time.Minute)
		if _, err := other.Open(ctx, "emp_1", ssnRef, sealed); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("other instance Open after the TTL = %v; want ErrKeyErased", err)
		}
		// A fresh keyring on the same store cannot open it either.
		fresh := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if _, err := fresh.Open(ctx, "emp_1", ssnRef, sealed); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("fresh keyring Open after Erase = %v; want ErrKeyErased", err)
		}
	})
}

func TestWrongMasterKeyIsRefusedAndWritesNothing(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if _, err := k.Seal(ctx, "emp_1", ssnRef, []byte("x")); err != nil {
			t.Fatal(err)
		}
		before, _ := k.Status(ctx)
		_, err := keyring.Open(ctx, ks, provider(t, 2), keyring.Options{})
		if err == nil || !strings.Contains(err.Error(), "master key") {
			t.Fatalf("Open with another master key = %v; want an error naming the master key", err)
		}
		after, _ := k.Status(ctx)
		if len(after.Keys) != len(before.Keys) || after.KeyringID != before.KeyringID {
			t.Fatalf("a refused open changed the key store: %+v, then %+v", before, after)
		}
	})
}

// impostor is a provider whose ID claims another root key than the one it
// holds, as a KMS provider misconfigured to another key would: the ID is
// a label, and only unwrapping proves the key.
type impostor struct {
	keyring.KeyProvider
	id string
}

func (p impostor) ID() string { return p.id }

// A wrong master key is refused because its unwraps fail, not only
// because its ID differs, and nothing is written; the right key still
// opens every value.
func TestWrongMasterKeyWithTheRightIDIsRefused(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		sealed, err := k.Seal(ctx, "emp_1", ssnRef, []byte("078-05-1120"))
		if err != nil {
			t.Fatal(err)
		}
		before, _ := k.Status(ctx)
		wrong := impostor{KeyProvider: provider(t, 2), id: provider(t, 1).ID()}
		if _, err := keyring.Open(ctx, ks, wrong, keyring.Options{}); err == nil || !strings.Contains(err.Error(), "does not open") {
			t.Fatalf("Open with another master key under the right ID = %v; want a refusal", err)
		}
		if err := keyring.Rekey(ctx, ks, wrong, provider(t, 3)); err == nil {
			t.Fatal("Rekey from another master key under the right ID succeeded")
		}
		after, _ := k.Status(ctx)
		if len(after.Keys) != len(before.Keys) || after.Root != before.Root || after.KeyringID != before.KeyringID {
			t.Fatalf("a refused open changed the key store: %+v, then %+v", before, after)
		}
		fresh := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if got, err := fresh.Open(ctx, "emp_1", ssnRef, sealed); err != nil || string(got) != "078-05-1120" {
			t.Fatalf("Open with the right key after the refusals = %q, %v", got, err)
		}
	})
}

func TestRotateRewrapRetire(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		stale := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		owners := make([]string, 2500)
		sealed := make([][]byte, len(owners))
		for i := range owners {
			owners[i] = "emp_" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i)
		}
		if err := k.CreateDataKeys(ctx, owners); err != nil {
			t.Fatal(err)
		}
		for i, o := range owners {
			var err error
			if sealed[i], err = k.Seal(ctx, o, hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_banking"}, []byte(o)); err != nil {
				t.Fatal(err)
			}
		}
		v, err := k.Rotate(ctx, hrgate.PurposeKEK)
		if err != nil || v != 2 {
			t.Fatalf("Rotate = %d, %v; want version 2", v, err)
		}
		if err := k.RetireKEK(ctx, 1); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("RetireKEK with data keys left = %v; want ECONFLICT", err)
		}
		// An instance that has not seen the rotation creates a key: the
		// store refuses the old KEK and the keyring retries under the new.
		if err := stale.CreateDataKeys(ctx, []string{"emp_late"}); err != nil {
			t.Fatalf("stale CreateDataKeys: %v", err)
		}
		st, err := k.Status(ctx)
		if err != nil || st.Pending != len(owners) {
			t.Fatalf("Status pending = %d, %v; want %d", st.Pending, err, len(owners))
		}
		n, err := k.Rewrap(ctx)
		if err != nil || n != len(owners) {
			t.Fatalf("Rewrap = %d, %v; want %d", n, err, len(owners))
		}
		if st, _ := k.Status(ctx); st.Pending != 0 {
			t.Fatalf("pending after Rewrap = %d", st.Pending)
		}
		if err := k.RetireKEK(ctx, 2); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("RetireKEK of the active version = %v; want ECONFLICT", err)
		}
		if err := k.RetireKEK(ctx, 1); err != nil {
			t.Fatalf("RetireKEK(1): %v", err)
		}
		// Every value still opens, through a fresh instance that never
		// held version 1.
		fresh := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		for i, o := range owners {
			got, err := fresh.Open(ctx, o, hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_banking"}, sealed[i])
			if err != nil || string(got) != o {
				t.Fatalf("Open %s after rotation = %q, %v", o, got, err)
			}
		}
	})
}

func TestRewrapConcurrentWithSeal(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					o := "emp_w" + itoa(w) + "_" + itoa(i)
					ref := hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_banking"}
					s, err := other.Seal(ctx, o, ref, []byte(o))
					if err == nil {
						var got []byte
						got, err = k.Open(ctx, o, ref, s)
						if err == nil && string(got) != o {
							err = errors.New("wrong plaintext")
						}
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		for range 5 {
			if _, err := k.Rewrap(ctx); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if _, err := k.Rewrap(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := k.Status(ctx); st.Pending != 0 {
			t.Fatalf("pending = %d after the last Rewrap", st.Pending)
		}
	})
}

func TestBlindIndex(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		a := k.BlindIndex(keyring.IndexNationalID, "078-05-1120")
		b := k.BlindIndex(keyring.IndexNationalID, " 078 05 1120")
		if len(a) != 1 || !bytes.Equal(a[0], b[0]) {
			t.Fatalf("national ids differing only in separators index differently: %x %x", a, b)
		}
		if c := k.BlindIndex(keyring.IndexPersonalEmail, "078-05-1120"); bytes.Equal(c[0], a[0]) {
			t.Fatal("the same value of two kinds has the same index")
		}
		if e := k.BlindIndex(keyring.IndexPersonalEmail, " Ada@Example.ORG "); !bytes.Equal(e[0], k.BlindIndex(keyring.IndexPersonalEmail, "ada@example.org")[0]) {
			t.Fatal("e-mail index is not case-insensitive")
		}
		if k.BlindIndex(keyring.IndexNationalID, " - ") != nil {
			t.Fatal("an empty normalised value has an index")
		}
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if _, err := k.Rotate(ctx, hrgate.PurposeIndex); err != nil {
			t.Fatal(err)
		}
		after := k.BlindIndex(keyring.IndexNationalID, "078-05-1120")
		if len(after) != 2 || !bytes.Equal(after[1], a[0]) || bytes.Equal(after[0], a[0]) {
			t.Fatalf("after rotation the index is %x; want a new one, then the old %x", after, a[0])
		}
		if err := other.Refresh(ctx); err != nil || k.IndexVersion() != 2 || other.IndexVersion() != 2 {
			t.Fatalf("index version = %d/%d, %v; want 2", k.IndexVersion(), other.IndexVersion(), err)
		}
	})
}

func TestMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if _, err := keyring.LoadMasterKey(path, ""); !errors.Is(err, keyring.ErrNoMasterKey) {
		t.Fatalf("LoadMasterKey of a missing file = %v; want ErrNoMasterKey", err)
	}
	mk, err := keyring.CreateMasterKey(path, nil)
	if err != nil || !mk.Created || len(mk.Key) != keyring.MasterKeySize {
		t.Fatalf("CreateMasterKey = %+v, %v", mk, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v; want 0600", st.Mode().Perm())
	}
	again, err := keyring.CreateMasterKey(path, nil)
	if err != nil || again.Created || !bytes.Equal(again.Key, mk.Key) {
		t.Fatalf("second CreateMasterKey = %+v, %v; want the existing key", again, err)
	}
	if env, err := keyring.LoadMasterKey(path, keyring.EncodeMasterKey(masterKey(7))); err != nil || !bytes.Equal(env.Key, masterKey(7)) {
		t.Fatalf("LoadMasterKey from the variable = %v, %v", env, err)
	}

	bad := []struct{ name, content string }{
		{"Short", keyring.EncodeMasterKey([]byte("short"))},
		{"NotBase64", "!!!!"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := keyring.LoadMasterKey(path, tt.content)
			if err == nil || strings.Contains(err.Error(), tt.content) {
				t.Fatalf("LoadMasterKey(%q) = %v; want an error that does not repeat it", tt.content, err)
			}
		})
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.LoadMasterKey(path, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadMasterKey of a world-readable file = %v; want a refusal", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestRotateDataKeys(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		old, err := k.Seal(ctx, "emp_1", ssnRef, []byte("078-05-1120"))
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := keyring.SealedKeyVersion(old); !ok || v != 1 {
			t.Fatalf("SealedKeyVersion = %d, %v; want 1", v, ok)
		}
		if err := k.RotateDataKeys(ctx, []string{"emp_1", "emp_unknown"}); err != nil {
			t.Fatal(err)
		}
		// An owner without a key gets none: an erased owner stays erased.
		if dks, _ := ks.DataKeys(ctx, []string{"emp_unknown"}); len(dks) != 0 {
			t.Fatalf("RotateDataKeys created %d keys for an owner without one", len(dks))
		}
		fresh, err := k.Seal(ctx, "emp_1", ssnRef, []byte("078-05-1120"))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := keyring.SealedKeyVersion(fresh); v != 2 {
			t.Fatalf("a seal after rotation uses version %d; want 2", v)
		}
		// Both versions open, here and on an instance that cached only
		// version 1.
		for _, kr := range []*keyring.Keyring{k, other} {
			for _, s := range [][]byte{old, fresh} {
				if got, err := kr.Open(ctx, "emp_1", ssnRef, s); err != nil || string(got) != "078-05-1120" {
					t.Fatalf("Open = %q, %v", got, err)
				}
			}
		}
		if n, err := k.DeleteDataKeysBelow(ctx, "emp_1", 2); err != nil || n != 1 {
			t.Fatalf("DeleteDataKeysBelow = %d, %v; want 1", n, err)
		}
		if _, err := k.Open(ctx, "emp_1", ssnRef, old); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("Open under a deleted version = %v; want ErrKeyErased", err)
		}
		buf := []byte("prefix:")
		out, err := k.OpenAppend(ctx, buf, "emp_1", ssnRef, fresh)
		if err != nil || string(out) != "prefix:078-05-1120" {
			t.Fatalf("OpenAppend = %q, %v", out, err)
		}
	})
}

// BenchmarkSealOpen measures sealing and opening one field group of the
// size of a typical banking group (about 80 bytes of codec) under a cached
// data key.
func BenchmarkSealOpen(b *testing.B) {
	ks := storetest.OpenKeyStore(b, storetest.SQLite(b))
	k := mustOpen(b, ks, provider(b, 1), keyring.Options{})
	ref := hrgate.FieldRef{Table: "employees", RecordID: "emp_01hv3k8m2c9x7q5r4t6y8z0a1b", Field: "g_banking"}
	plain := []byte("\x01\x0fBanque Populaire\x0bZoe Orsted\x1bFR7630006000011234567890189\x0b12345678901\x0530006")
	sealed, err := k.Seal(ctx, ref.RecordID, ref, plain)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := k.Open(ctx, ref.RecordID, ref, sealed); err != nil { // builds the cached AES-GCM
		b.Fatal(err)
	}
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := k.Seal(ctx, ref.RecordID, ref, plain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := k.Open(ctx, ref.RecordID, ref, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenAppend", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		buf := make([]byte, 0, 256)
		for b.Loop() {
			if _, err := k.OpenAppend(ctx, buf, ref.RecordID, ref, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// racingStore runs before once, just ahead of the first InsertDataKeys:
// another instance's writes landing between this one's look-up and its
// insert.
type racingStore struct {
	hrgate.KeyringStore
	once   sync.Once
	before func()
}

func (s *racingStore) InsertDataKeys(ctx context.Context, ks []*hrgate.DataKey) ([]*hrgate.DataKey, error) {
	s.once.Do(s.before)
	return s.KeyringStore.InsertDataKeys(ctx, ks)
}

// TestCreateDataKeysKeepsTheKeyAnotherInstanceStoredFirst: the keys an
// instance generates are cached without being read back only where the
// store took them; where another instance stored an owner's key first,
// both must seal and open with that one.
func TestCreateDataKeysKeepsTheKeyAnotherInstanceStoredFirst(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		owners := []string{"emp_a", "emp_b", "emp_c", "emp_d"}
		race := &racingStore{KeyringStore: ks, before: func() {
			if err := other.CreateDataKeys(ctx, owners[:2]); err != nil {
				t.Error(err)
			}
		}}
		k := mustOpen(t, race, provider(t, 1), keyring.Options{})
		if err := k.CreateDataKeys(ctx, owners); err != nil {
			t.Fatal(err)
		}
		for _, o := range owners {
			ref := hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_identity"}
			for _, pair := range [][2]*keyring.Keyring{{k, other}, {other, k}} {
				sealed, err := pair[0].Seal(ctx, o, ref, []byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				if got, err := pair[1].Open(ctx, o, ref, sealed); err != nil || string(got) != "x" {
					t.Fatalf("%s: sealed by one instance, the other opens %q, %v", o, got, err)
				}
			}
		}
		dks, err := ks.DataKeys(ctx, owners)
		if err != nil || len(dks) != len(owners) {
			t.Fatalf("stored keys = %d, %v; want one per owner", len(dks), err)
		}
	})
}

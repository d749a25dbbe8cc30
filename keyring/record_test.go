package keyring_test

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// openFunc is a constructor of RecordOpener: OpenRecord or OpenRecordOnce.
type openFunc func(k *keyring.Keyring, owner, table, record string) keyring.RecordOpener

// forEachOpener runs fn on a fresh key store per database, once with
// OpenRecord and once with OpenRecordOnce, which must open and refuse
// alike.
func forEachOpener(t *testing.T, fn func(t *testing.T, ks *sqlstore.KeyStore, open openFunc)) {
	for _, o := range []struct {
		name string
		open openFunc
	}{
		{"OpenRecord", (*keyring.Keyring).OpenRecord},
		{"OpenRecordOnce", (*keyring.Keyring).OpenRecordOnce},
	} {
		t.Run(o.name, func(t *testing.T) {
			forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) { fn(t, ks, o.open) })
		})
	}
}

// sealFields seals one value per field of record emp_1 of employees.
func sealFields(t *testing.T, k *keyring.Keyring, fields ...string) [][]byte {
	t.Helper()
	out := make([][]byte, len(fields))
	for i, f := range fields {
		s, err := k.Seal(ctx, "emp_1", hrgate.FieldRef{Table: "employees", RecordID: "emp_1", Field: f}, []byte("value of "+f))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func TestRecordOpenerOpensEachFieldIntoOneBuffer(t *testing.T) {
	forEachOpener(t, func(t *testing.T, ks *sqlstore.KeyStore, open openFunc) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		fields := []string{"g_contact", "g_banking", "g_government_id"}
		sealed := sealFields(t, k, fields...)
		r := open(k, "emp_1", "employees", "emp_1")
		defer r.Close()
		var buf []byte
		var err error
		for i, f := range fields {
			if buf, err = r.OpenAppend(ctx, buf, f, sealed[i]); err != nil {
				t.Fatalf("open %s: %v", f, err)
			}
		}
		if want := "value of g_contactvalue of g_bankingvalue of g_government_id"; string(buf) != want {
			t.Fatalf("buffer = %q; want %q", buf, want)
		}
		// Closed, the opener starts over.
		r.Close()
		if got, err := r.OpenAppend(ctx, nil, "g_banking", sealed[1]); err != nil || string(got) != "value of g_banking" {
			t.Fatalf("open after Close = %q, %v", got, err)
		}
	})
}

func TestRecordOpenerRefusesWhatWasNotSealedForIt(t *testing.T) {
	forEachOpener(t, func(t *testing.T, ks *sqlstore.KeyStore, open openFunc) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		sealed := sealFields(t, k, "g_banking", "g_government_id")
		other, err := k.Seal(ctx, "emp_2", hrgate.FieldRef{Table: "employees", RecordID: "emp_2", Field: "g_banking"}, []byte("value of g_banking"))
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(sealed[0])
		flipped[len(flipped)-3] ^= 0x10
		for _, tt := range []struct {
			name   string
			field  string
			sealed []byte
		}{
			{"OtherField", "g_banking", sealed[1]},
			{"OtherRecord", "g_banking", other},
			{"FlippedBit", "g_banking", flipped},
			{"Truncated", "g_banking", sealed[0][:len(sealed[0])-1]},
			{"HeaderOnly", "g_banking", sealed[0][:2]},
			{"Plaintext", "g_banking", []byte("\x01value of g_banking")},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := open(k, "emp_1", "employees", "emp_1")
				defer r.Close()
				// A field that opens first, so that the keys and the
				// associated data are those of the record when the bad
				// one comes.
				if _, err := r.OpenAppend(ctx, nil, "g_government_id", sealed[1]); err != nil {
					t.Fatal(err)
				}
				dst := []byte("kept")
				got, err := r.OpenAppend(ctx, dst, tt.field, tt.sealed)
				if !errors.Is(err, hrgate.ErrIntegrity) || string(got) != "kept" {
					t.Fatalf("OpenAppend = %q, %v; want %q and ErrIntegrity", got, err, dst)
				}
				// The opener still opens the record's own fields after.
				if got, err := r.OpenAppend(ctx, nil, "g_banking", sealed[0]); err != nil || string(got) != "value of g_banking" {
					t.Fatalf("OpenAppend after a refusal = %q, %v", got, err)
				}
			})
		}
		// The same ciphertext opened as another record's is refused from
		// the first field on.
		r := open(k, "emp_2", "employees", "emp_2")
		defer r.Close()
		if _, err := r.OpenAppend(ctx, nil, "g_banking", sealed[0]); !errors.Is(err, hrgate.ErrIntegrity) {
			t.Fatalf("emp_1's value opened as emp_2's: %v; want ErrIntegrity", err)
		}
	})
}

func TestRecordOpenerRefusesAnErasedKey(t *testing.T) {
	forEachOpener(t, func(t *testing.T, ks *sqlstore.KeyStore, open openFunc) {
		now := time.Unix(1_800_000_000, 0)
		clock := func() time.Time { return now }
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{Now: clock, CacheTTL: time.Minute})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{Now: clock, CacheTTL: time.Minute})
		sealed := sealFields(t, k, "g_banking")
		if _, err := other.Open(ctx, "emp_1", hrgate.FieldRef{Table: "employees", RecordID: "emp_1", Field: "g_banking"}, sealed[0]); err != nil {
			t.Fatal(err)
		}
		if err := k.Erase(ctx, "emp_1"); err != nil {
			t.Fatal(err)
		}
		r := open(k, "emp_1", "employees", "emp_1")
		defer r.Close()
		if got, err := r.OpenAppend(ctx, nil, "g_banking", sealed[0]); !errors.Is(err, hrgate.ErrKeyErased) || got != nil {
			t.Fatalf("OpenAppend after Erase = %q, %v; want ErrKeyErased", got, err)
		}
		// Another instance trusts its cached key for the cache lifetime,
		// and no longer.
		now = now.Add(time.Minute)
		o := open(other, "emp_1", "employees", "emp_1")
		defer o.Close()
		if _, err := o.OpenAppend(ctx, nil, "g_banking", sealed[0]); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("other instance OpenAppend after the lifetime = %v; want ErrKeyErased", err)
		}
	})
}

// An opener that has the owner's keys in hand meets a field sealed under
// a version another instance created meanwhile: it reads the store again
// and opens it; a version deleted from the store is refused.
func TestRecordOpenerLearnsAVersionRotatedElsewhere(t *testing.T) {
	forEachOpener(t, func(t *testing.T, ks *sqlstore.KeyStore, open openFunc) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		old := sealFields(t, k, "g_banking")[0]
		r := open(k, "emp_1", "employees", "emp_1")
		defer r.Close()
		if _, err := r.OpenAppend(ctx, nil, "g_banking", old); err != nil {
			t.Fatal(err)
		}
		if err := other.RotateDataKeys(ctx, []string{"emp_1"}); err != nil {
			t.Fatal(err)
		}
		fresh := sealFields(t, other, "g_government_id")[0]
		if v, _ := keyring.SealedKeyVersion(fresh); v != 2 {
			t.Fatalf("the other instance sealed under version %d; want 2", v)
		}
		got, err := r.OpenAppend(ctx, nil, "g_government_id", fresh)
		if err != nil || string(got) != "value of g_government_id" {
			t.Fatalf("OpenAppend of a version rotated elsewhere = %q, %v", got, err)
		}
		if got, err := r.OpenAppend(ctx, nil, "g_banking", old); err != nil || string(got) != "value of g_banking" {
			t.Fatalf("OpenAppend of the old version after the reload = %q, %v", got, err)
		}
		if n, err := other.DeleteDataKeysBelow(ctx, "emp_1", 2); err != nil || n != 1 {
			t.Fatalf("DeleteDataKeysBelow = %d, %v", n, err)
		}
		// A version this instance never saw and the store no longer has.
		r.Close()
		stale := open(k, "emp_1", "employees", "emp_1")
		defer stale.Close()
		if _, err := stale.OpenAppend(ctx, nil, "g_government_id", fresh); err != nil {
			t.Fatal(err)
		}
		unknown := bytes.Clone(fresh)
		unknown[1] = 3
		if _, err := stale.OpenAppend(ctx, nil, "g_government_id", unknown); !errors.Is(err, hrgate.ErrKeyErased) {
			t.Fatalf("OpenAppend under a version the store lacks = %v; want ErrKeyErased", err)
		}
	})
}

// A once-opener opens what OpenRecord opens and refuses what it refuses,
// with the same error, builds one AES-GCM instance for all the fields of
// its record, and leaves none in the cache; OpenRecord, after it, keeps
// one.
func TestOpenRecordOnceOpensAsOpenRecordAndKeepsNoAEAD(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		fields := []string{"g_contact", "g_banking", "g_government_id"}
		sealed := sealFields(t, k, fields...)
		flipped := bytes.Clone(sealed[1])
		flipped[len(flipped)-3] ^= 0x10
		unknown := bytes.Clone(sealed[1])
		unknown[1] = 3
		type result struct {
			plain string
			err   error
		}
		cases := []struct {
			name   string
			field  string
			sealed []byte
		}{
			{"Contact", "g_contact", sealed[0]},
			{"Banking", "g_banking", sealed[1]},
			{"GovernmentID", "g_government_id", sealed[2]},
			{"OtherField", "g_contact", sealed[1]},
			{"FlippedBit", "g_banking", flipped},
			{"Truncated", "g_banking", sealed[1][:len(sealed[1])-1]},
			{"HeaderOnly", "g_banking", sealed[1][:2]},
			{"Plaintext", "g_banking", []byte("\x01value of g_banking")},
			{"VersionGone", "g_banking", unknown},
			{"BankingAgain", "g_banking", sealed[1]},
		}
		openAll := func(r *keyring.RecordOpener, each func(name string)) []result {
			out := make([]result, len(cases))
			for i, c := range cases {
				got, err := r.OpenAppend(ctx, nil, c.field, c.sealed)
				out[i] = result{string(got), err}
				each(c.name)
			}
			return out
		}

		if a := k.KeptAEADForTest("emp_1", 1); a != nil {
			t.Fatal("Seal kept an AES-GCM instance")
		}
		once := k.OpenRecordOnce("emp_1", "employees", "emp_1")
		var built cipher.AEAD
		onceGot := openAll(&once, func(name string) {
			a := once.OnceAEADForTest()
			switch {
			case name == "VersionGone":
				// It read the keys anew; the fields after it open
				// with those.
				built = nil
			case built == nil:
				built = a
			case a != built:
				t.Errorf("%s: the once-opener built another AES-GCM instance for a field of the same record and key", name)
			}
			if k.KeptAEADForTest("emp_1", 1) != nil {
				t.Error("the once-opener kept an AES-GCM instance in the cache")
			}
		})
		once.Close()

		r := k.OpenRecord("emp_1", "employees", "emp_1")
		defer r.Close()
		got := openAll(&r, func(string) {})
		for i, c := range cases {
			o, w := onceGot[i], got[i]
			if o.plain != w.plain || (o.err == nil) != (w.err == nil) || (o.err != nil && o.err.Error() != w.err.Error()) ||
				errors.Is(o.err, hrgate.ErrIntegrity) != errors.Is(w.err, hrgate.ErrIntegrity) ||
				errors.Is(o.err, hrgate.ErrKeyErased) != errors.Is(w.err, hrgate.ErrKeyErased) {
				t.Errorf("%s: OpenRecordOnce = %q, %v; OpenRecord = %q, %v", c.name, o.plain, o.err, w.plain, w.err)
			}
		}
		if onceGot[0].err != nil || onceGot[0].plain != "value of g_contact" || !errors.Is(onceGot[4].err, hrgate.ErrIntegrity) ||
			!errors.Is(onceGot[8].err, hrgate.ErrKeyErased) || onceGot[9].plain != "value of g_banking" {
			t.Fatalf("OpenRecordOnce results = %v", onceGot)
		}
		if k.KeptAEADForTest("emp_1", 1) == nil {
			t.Fatal("OpenRecord kept no AES-GCM instance")
		}
	})
}

// An owner whose data key already keeps an AES-GCM instance is opened
// with it: the once-opener builds none.
func TestOpenRecordOnceUsesTheKeptAEAD(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		sealed := sealFields(t, k, "g_banking", "g_contact")
		r := k.OpenRecord("emp_1", "employees", "emp_1")
		if _, err := r.OpenAppend(ctx, nil, "g_banking", sealed[0]); err != nil {
			t.Fatal(err)
		}
		r.Close()
		kept := k.KeptAEADForTest("emp_1", 1)
		if kept == nil {
			t.Fatal("OpenRecord kept no AES-GCM instance")
		}
		once := k.OpenRecordOnce("emp_1", "employees", "emp_1")
		defer once.Close()
		for i, f := range []string{"g_banking", "g_contact"} {
			if got, err := once.OpenAppend(ctx, nil, f, sealed[i]); err != nil || string(got) != "value of "+f {
				t.Fatalf("OpenAppend %s = %q, %v", f, got, err)
			}
			if once.OnceAEADForTest() != kept {
				t.Fatalf("the once-opener opened %s with an instance of its own, not the kept one", f)
			}
		}
		if k.KeptAEADForTest("emp_1", 1) != kept {
			t.Fatal("the kept AES-GCM instance changed")
		}
	})
}

// A once-opener whose record holds fields under two data key versions,
// one of them rotated by another instance, opens both and keeps neither.
func TestOpenRecordOnceAcrossVersionsKeepsNoAEAD(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		old := sealFields(t, k, "g_banking")[0]
		once := k.OpenRecordOnce("emp_1", "employees", "emp_1")
		defer once.Close()
		if _, err := once.OpenAppend(ctx, nil, "g_banking", old); err != nil {
			t.Fatal(err)
		}
		if err := other.RotateDataKeys(ctx, []string{"emp_1"}); err != nil {
			t.Fatal(err)
		}
		fresh := sealFields(t, other, "g_government_id")[0]
		for _, f := range []struct {
			name   string
			sealed []byte
		}{{"g_government_id", fresh}, {"g_banking", old}, {"g_government_id", fresh}} {
			if got, err := once.OpenAppend(ctx, nil, f.name, f.sealed); err != nil || string(got) != "value of "+f.name {
				t.Fatalf("OpenAppend %s = %q, %v", f.name, got, err)
			}
		}
		for v := 1; v <= 2; v++ {
			if k.KeptAEADForTest("emp_1", v) != nil {
				t.Fatalf("the once-opener kept an AES-GCM instance for version %d", v)
			}
		}
	})
}

package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// forEachDSN runs fn per database with the address of a fresh key store,
// for tests that open it more than once, as several instances would.
func forEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) { fn(t, dsn(t)) })
	}
}

// hookStore is a key store that runs hooks before some calls, to stage
// crashes and races at exact points.
type hookStore struct {
	*sqlstore.KeyStore
	insertKey  func(k *hrgate.WrappedKey) error
	notUnder   func()
	rewrapKeys func() error
}

func (h *hookStore) InsertKey(ctx context.Context, k *hrgate.WrappedKey) error {
	if h.insertKey != nil {
		if err := h.insertKey(k); err != nil {
			return err
		}
	}
	return h.KeyStore.InsertKey(ctx, k)
}

func (h *hookStore) DataKeysBelow(ctx context.Context, kek int, after *hrgate.DataKey, limit int) ([]*hrgate.DataKey, error) {
	if h.notUnder != nil {
		h.notUnder()
	}
	return h.KeyStore.DataKeysBelow(ctx, kek, after, limit)
}

func (h *hookStore) RewrapKeys(ctx context.Context, ks []*hrgate.WrappedKey, from string) error {
	if h.rewrapKeys != nil {
		if err := h.rewrapKeys(); err != nil {
			return err
		}
	}
	return h.KeyStore.RewrapKeys(ctx, ks, from)
}

func keyStates(t *testing.T, ks hrgate.KeyringStore, purpose string) string {
	t.Helper()
	ws, err := ks.Keys(ctx, purpose)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%d:%s", w.Version, w.State))
	}
	return strings.Join(parts, " ")
}

func TestOpenFinishesAnInterruptedFirstStart(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		crash := &hookStore{KeyStore: ks, insertKey: func(k *hrgate.WrappedKey) error {
			if k.Purpose == hrgate.PurposeIndex {
				return errors.New("killed")
			}
			return nil
		}}
		if _, err := keyring.Open(ctx, crash, provider(t, 1), keyring.Options{}); err == nil {
			t.Fatal("Open succeeded although the index key could not be stored")
		}
		// Another root key finds the KEK it cannot open and adds nothing.
		if _, err := keyring.Open(ctx, ks, provider(t, 2), keyring.Options{}); err == nil || !strings.Contains(err.Error(), "master key") {
			t.Fatalf("Open with another master key = %v; want a refusal naming the master key", err)
		}
		if got := keyStates(t, ks, hrgate.PurposeIndex); got != "" {
			t.Fatalf("a refused open added index keys: %s", got)
		}
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if got := keyStates(t, ks, hrgate.PurposeIndex); got != "1:active" || k.IndexVersion() != 1 {
			t.Fatalf("index keys after the second start: %q", got)
		}
		if _, err := k.Seal(ctx, "emp_1", ssnRef, []byte("x")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRotateLeavesOneActiveVersion(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		for range 2 {
			if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
				t.Fatal(err)
			}
		}
		if got := keyStates(t, ks, hrgate.PurposeKEK); got != "1:decrypt_only 2:decrypt_only 3:active" {
			t.Fatalf("KEK states = %q", got)
		}
		if got := keyStates(t, ks, hrgate.PurposeIndex); got != "1:active" {
			t.Fatalf("index states = %q", got)
		}
		if _, err := k.Rotate(ctx, "dek"); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("Rotate of an unknown purpose = %v; want EINVALID", err)
		}
	})
}

// TestStoreRefusesWritesUnderAnInactiveKEK checks the store's own guards,
// which hold whatever a stale instance believes.
func TestStoreRefusesWritesUnderAnInactiveKEK(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		if err := k.CreateDataKeys(ctx, []string{"emp_1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		dks, err := ks.DataKeys(ctx, []string{"emp_1"})
		if err != nil || len(dks) != 1 {
			t.Fatalf("DataKeys = %v, %v", dks, err)
		}
		before := string(dks[0].Wrapped)
		moved := *dks[0]
		moved.Wrapped = []byte("wrapped under version 1 again")
		if n, err := ks.RewrapDataKeys(ctx, []*hrgate.DataKey{&moved}, []int{1}); hrgate.ErrorCode(err) != hrgate.ECONFLICT || n != 0 {
			t.Fatalf("RewrapDataKeys onto a decrypt-only KEK = %d, %v; want ECONFLICT", n, err)
		}
		_, err = ks.InsertDataKeys(ctx, []*hrgate.DataKey{{Owner: "emp_2", Version: 1, KEKVersion: 1, Wrapped: []byte("w")}})
		if hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("InsertDataKeys under a decrypt-only KEK = %v; want ECONFLICT", err)
		}
		if err := ks.SetKeyState(ctx, hrgate.PurposeKEK, 2, hrgate.KeyRetired, time.Now()); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("retiring the active KEK = %v; want ECONFLICT", err)
		}
		if err := ks.SetKeyState(ctx, hrgate.PurposeKEK, 1, hrgate.KeyRetired, time.Now()); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("retiring a KEK that wraps a data key = %v; want ECONFLICT", err)
		}
		if err := ks.SetKeyState(ctx, hrgate.PurposeKEK, 9, hrgate.KeyRetired, time.Now()); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Fatalf("retiring a missing version = %v; want ENOTFOUND", err)
		}
		if got := keyStates(t, ks, hrgate.PurposeKEK); got != "1:decrypt_only 2:active" {
			t.Fatalf("KEK states after refused changes = %q", got)
		}
		if dks, _ := ks.DataKeys(ctx, []string{"emp_1", "emp_2"}); len(dks) != 1 || string(dks[0].Wrapped) != before {
			t.Fatalf("a refused write changed the data keys: %+v", dks)
		}
		// A key wrapped by another root is refused: the store would need
		// two master keys.
		err = ks.InsertKey(ctx, &hrgate.WrappedKey{Purpose: hrgate.PurposeKEK, Version: 3, WrappedBy: "local:other", Wrapped: []byte("w"), State: hrgate.KeyActive})
		if hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("InsertKey under another root = %v; want ECONFLICT", err)
		}
	})
}

// TestRewrapCatchesUpWithARotationMidRun: an instance re-wrapping under
// version 2 while another rotates to 3 must not land keys on version 2,
// which may be retired next; it learns version 3 and finishes under it.
func TestRewrapCatchesUpWithARotationMidRun(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ks := storetest.OpenKeyStore(t, dsn)
		op := mustOpen(t, storetest.OpenKeyStore(t, dsn), provider(t, 1), keyring.Options{})
		owners := ownerNames(300)
		sealed := sealAll(t, op, owners)
		if _, err := op.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		hooked := &hookStore{KeyStore: ks}
		k := mustOpen(t, hooked, provider(t, 1), keyring.Options{RewrapBatch: 50})
		hooked.notUnder = func() {
			if calls.Add(1) == 2 {
				if _, err := op.Rotate(ctx, hrgate.PurposeKEK); err != nil {
					t.Error(err)
				}
			}
		}
		if _, err := k.Rewrap(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := op.Status(ctx)
		if err != nil || st.Pending != 0 || st.ActiveKEK != 3 {
			t.Fatalf("status after the re-wrap = %+v, %v; want nothing pending under version 3", st, err)
		}
		for _, v := range []int{1, 2} {
			if err := op.RetireKEK(ctx, v); err != nil {
				t.Fatalf("RetireKEK(%d): %v", v, err)
			}
		}
		openAll(t, mustOpen(t, ks, provider(t, 1), keyring.Options{}), owners, sealed)
	})
}

func TestRewrapSkipsAKeyThatDoesNotUnwrap(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		// Another instance rotates once mid-run, so the walk starts over
		// and meets the broken key twice: it is still counted once.
		hooked := &hookStore{KeyStore: ks}
		k := mustOpen(t, hooked, provider(t, 1), keyring.Options{RewrapBatch: 7})
		other := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		var calls atomic.Int32
		hooked.notUnder = func() {
			if calls.Add(1) == 3 {
				if _, err := other.Rotate(ctx, hrgate.PurposeKEK); err != nil {
					t.Error(err)
				}
			}
		}
		owners := ownerNames(40)
		sealed := sealAll(t, k, owners)
		stored, err := ks.InsertDataKeys(ctx, []*hrgate.DataKey{{Owner: "emp_broken", Version: 1, KEKVersion: 1, Wrapped: make([]byte, 60)}})
		if err != nil || len(stored) != 1 {
			t.Fatal(stored, err)
		}
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		n, err := k.Rewrap(ctx)
		// Keys moved under version 2 before the rotation was noticed are
		// moved again: n counts both.
		if n < len(owners) || err == nil || !strings.Contains(err.Error(), "1 data keys could not be unwrapped") {
			t.Fatalf("Rewrap = %d, %v; want at least %d and an error counting the broken key once", n, err, len(owners))
		}
		if st, _ := k.Status(ctx); st.Pending != 1 || st.ActiveKEK != 3 {
			t.Fatalf("status = %+v; want the broken key only pending, under version 3", st)
		}
		if err := k.RetireKEK(ctx, 2); err != nil {
			t.Fatalf("RetireKEK(2): %v", err)
		}
		if err := k.RetireKEK(ctx, 1); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			t.Fatalf("RetireKEK under the broken key = %v; want ECONFLICT", err)
		}
		openAll(t, k, owners, sealed)
	})
}

func TestRewrapResumesAfterAnInterruption(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{RewrapBatch: 10})
		owners := ownerNames(95)
		sealed := sealAll(t, k, owners)
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		var seen []keyring.RewrapProgress
		n, err := k.RewrapReport(cctx, func(p keyring.RewrapProgress) {
			seen = append(seen, p)
			if p.Done >= 30 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || n != 30 {
			t.Fatalf("interrupted Rewrap = %d, %v; want 30 and context.Canceled", n, err)
		}
		if last := seen[len(seen)-1]; last.Pending != 65 || last.KEKVersion != 2 {
			t.Fatalf("last progress = %+v; want 65 pending under version 2", last)
		}
		if st, _ := k.Status(ctx); st.Pending != 65 {
			t.Fatalf("pending after the interruption = %d; want 65", st.Pending)
		}
		if n, err := k.Rewrap(ctx); err != nil || n != 65 {
			t.Fatalf("resumed Rewrap = %d, %v; want 65", n, err)
		}
		if err := k.RetireKEK(ctx, 1); err != nil {
			t.Fatal(err)
		}
		openAll(t, mustOpen(t, ks, provider(t, 1), keyring.Options{}), owners, sealed)
	})
}

// TestRotationUnderConcurrentWrites rotates, re-wraps and retires while
// other instances create data keys, and then checks that every value still
// opens: no data key may end up under a retired version.
func TestRotationUnderConcurrentWrites(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		op := mustOpen(t, storetest.OpenKeyStore(t, dsn), provider(t, 1), keyring.Options{RewrapBatch: 25})
		type value struct {
			owner  string
			sealed []byte
		}
		var (
			mu     sync.Mutex
			values []value
			stop   atomic.Bool
			wg     sync.WaitGroup
		)
		for w := range 3 {
			writer := mustOpen(t, storetest.OpenKeyStore(t, dsn), provider(t, 1), keyring.Options{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					o := fmt.Sprintf("emp_w%d_%d", w, i)
					s, err := writer.Seal(ctx, o, hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_banking"}, []byte(o))
					if err != nil {
						t.Errorf("Seal %s: %v", o, err)
						return
					}
					mu.Lock()
					values = append(values, value{o, s})
					mu.Unlock()
				}
			}()
		}
		for round := range 3 {
			v, err := op.Rotate(ctx, hrgate.PurposeKEK)
			if err != nil {
				t.Fatal(err)
			}
			// Retiring can lose the race with a writer that has not seen
			// the rotation yet; re-wrap and try again.
			var retireErr error
			for range 50 {
				if _, err := op.Rewrap(ctx); err != nil {
					t.Fatal(err)
				}
				if retireErr = op.RetireKEK(ctx, v-1); hrgate.ErrorCode(retireErr) != hrgate.ECONFLICT {
					break
				}
			}
			if retireErr != nil {
				t.Fatalf("round %d: RetireKEK(%d): %v", round, v-1, retireErr)
			}
		}
		stop.Store(true)
		wg.Wait()
		st, err := op.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, vs := range st.Keys {
			if vs.State == hrgate.KeyRetired && vs.DataKeys > 0 {
				t.Fatalf("%d data keys are under retired version %d", vs.DataKeys, vs.Version)
			}
		}
		fresh := mustOpen(t, storetest.OpenKeyStore(t, dsn), provider(t, 1), keyring.Options{})
		for _, v := range values {
			got, err := fresh.Open(ctx, v.owner, hrgate.FieldRef{Table: "employees", RecordID: v.owner, Field: "g_banking"}, v.sealed)
			if err != nil || string(got) != v.owner {
				t.Fatalf("Open %s = %q, %v", v.owner, got, err)
			}
		}
		t.Logf("%d values sealed during 3 rotations", len(values))
	})
}

func TestRekey(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		owners := ownerNames(20)
		sealed := sealAll(t, k, owners)
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Rotate(ctx, hrgate.PurposeIndex); err != nil {
			t.Fatal(err)
		}
		index := k.BlindIndex(keyring.IndexNationalID, "078-05-1120")

		if err := keyring.Rekey(ctx, ks, provider(t, 1), provider(t, 1)); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("Rekey to the same key = %v; want EINVALID", err)
		}
		if err := keyring.Rekey(ctx, ks, provider(t, 3), provider(t, 2)); err == nil || !strings.Contains(err.Error(), "master key") {
			t.Fatalf("Rekey from a wrong key = %v; want a refusal naming the master key", err)
		}
		// A failure in the store's transaction leaves the old root.
		failing := &hookStore{KeyStore: ks, rewrapKeys: func() error { return errors.New("killed") }}
		if err := keyring.Rekey(ctx, failing, provider(t, 1), provider(t, 2)); err == nil {
			t.Fatal("Rekey reported success although the store failed")
		}
		mustOpen(t, ks, provider(t, 1), keyring.Options{})

		if err := keyring.Rekey(ctx, ks, provider(t, 1), provider(t, 2)); err != nil {
			t.Fatal(err)
		}
		if _, err := keyring.Open(ctx, ks, provider(t, 1), keyring.Options{}); err == nil || !strings.Contains(err.Error(), provider(t, 2).ID()) {
			t.Fatalf("Open with the old master key after Rekey = %v; want a refusal naming the new one", err)
		}
		// The instance still holding the old root cannot rotate.
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err == nil {
			t.Fatal("an instance with the old master key rotated after Rekey")
		}
		nk := mustOpen(t, ks, provider(t, 2), keyring.Options{})
		openAll(t, nk, owners, sealed)
		if got := nk.BlindIndex(keyring.IndexNationalID, "078-05-1120"); len(got) != 2 || string(got[0]) != string(index[0]) {
			t.Fatal("the blind index changed with the master key")
		}
		if got := keyStates(t, ks, hrgate.PurposeKEK); got != "1:decrypt_only 2:active" {
			t.Fatalf("KEK states after Rekey = %q", got)
		}
	})
}

func TestRunRewrapStopsWithItsContext(t *testing.T) {
	forEachKeyStore(t, func(t *testing.T, ks *sqlstore.KeyStore) {
		k := mustOpen(t, ks, provider(t, 1), keyring.Options{})
		owners := ownerNames(10)
		sealAll(t, k, owners)
		if _, err := k.Rotate(ctx, hrgate.PurposeKEK); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			k.RunRewrap(cctx, 0) // 0 means the default, not a panic
			close(done)
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := k.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("RunRewrap left %d keys pending", st.Pending)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
	})
}

func ownerNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("emp_%04d", i)
	}
	return out
}

func sealAll(t *testing.T, k *keyring.Keyring, owners []string) [][]byte {
	t.Helper()
	out := make([][]byte, len(owners))
	for i, o := range owners {
		var err error
		if out[i], err = k.Seal(ctx, o, hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_banking"}, []byte(o)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func openAll(t *testing.T, k *keyring.Keyring, owners []string, sealed [][]byte) {
	t.Helper()
	for i, o := range owners {
		got, err := k.Open(ctx, o, hrgate.FieldRef{Table: "employees", RecordID: o, Field: "g_banking"}, sealed[i])
		if err != nil || string(got) != o {
			t.Fatalf("Open %s = %q, %v", o, got, err)
		}
	}
}

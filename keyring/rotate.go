package keyring

import (
	"context"
	"fmt"
	"time"

	"github.com/hrgate/hrgate"
)

// Rotate creates a new version of the purpose's key (hrgate.PurposeKEK or
// hrgate.PurposeIndex), makes it the active one, and turns the previous
// active versions decrypt-only. Data keys are then re-wrapped under the new
// KEK by Rewrap, and blind indexes recomputed by the stores' re-index job;
// the old version can be retired once nothing uses it. It returns the new
// version.
func (k *Keyring) Rotate(ctx context.Context, purpose string) (int, error) {
	if purpose != hrgate.PurposeKEK && purpose != hrgate.PurposeIndex {
		return 0, hrgate.Errorf(hrgate.EINVALID, "Unknown key purpose %q; use %s or %s.", purpose, hrgate.PurposeKEK, hrgate.PurposeIndex)
	}
	ws, err := k.store.Keys(ctx, purpose)
	if err != nil {
		return 0, hrgate.Wrap(err, "keyring.Rotate")
	}
	next := 1
	for _, w := range ws {
		next = max(next, w.Version+1)
	}
	// Insert first: if this fails nothing changed, and if it succeeds the
	// highest active version wins even before the old one is demoted.
	if err := k.insertKey(ctx, purpose, next); err != nil {
		if hrgate.ErrorCode(err) == hrgate.ECONFLICT {
			return 0, hrgate.Errorf(hrgate.ECONFLICT, "Another rotation of the %s key is under way; try again.", purpose)
		}
		return 0, hrgate.Wrap(err, "keyring.Rotate")
	}
	for _, w := range ws {
		if w.State == hrgate.KeyActive {
			if err := k.store.SetKeyState(ctx, purpose, w.Version, hrgate.KeyDecryptOnly, k.now()); err != nil {
				return 0, hrgate.Wrap(err, "keyring.Rotate")
			}
		}
	}
	if err := k.Refresh(ctx); err != nil {
		return 0, err
	}
	k.log.Info("rotated a keyring key", "purpose", purpose, "version", next)
	return next, nil
}

// rewrapBatch is how many data keys Rewrap moves per transaction.
const rewrapBatch = 1000

// Rewrap re-wraps data keys that are under an older KEK version with the
// active one, batch by batch, until none is left or ctx ends. Each batch is
// its own transaction, so a crash loses at most the batch under way, and
// the next run carries on from what is left: the job is resumable by
// construction. Two instances rewrapping at once do not undo each other,
// because each update checks the KEK version it read. It returns how many
// keys it re-wrapped.
func (k *Keyring) Rewrap(ctx context.Context) (int, error) {
	if err := k.Refresh(ctx); err != nil {
		return 0, err
	}
	total := 0
	for ctx.Err() == nil {
		k.mu.RLock()
		active, kek := k.kek, k.keks[k.kek]
		k.mu.RUnlock()
		dks, err := k.store.DataKeysNotUnder(ctx, active, rewrapBatch)
		if err != nil {
			return total, hrgate.Wrap(err, "keyring.Rewrap")
		}
		if len(dks) == 0 {
			return total, nil
		}
		from := make([]int, len(dks))
		for i, dk := range dks {
			raw, err := k.unwrapRaw(ctx, dk)
			if err != nil {
				return total, err
			}
			from[i] = dk.KEKVersion
			w, err := seal(kek, k.random, raw, dataKeyAAD(dk.Owner, dk.Version, active))
			if err != nil {
				return total, err
			}
			dk.KEKVersion, dk.Wrapped = active, w
		}
		n, err := k.store.RewrapDataKeys(ctx, dks, from)
		if err != nil {
			return total, hrgate.Wrap(err, "keyring.Rewrap")
		}
		total += n
	}
	return total, ctx.Err()
}

// unwrapRaw returns the plaintext of a data key.
func (k *Keyring) unwrapRaw(ctx context.Context, dk *hrgate.DataKey) ([]byte, error) {
	k.mu.RLock()
	kek, ok := k.keks[dk.KEKVersion]
	k.mu.RUnlock()
	if !ok {
		if err := k.Refresh(ctx); err != nil {
			return nil, err
		}
		k.mu.RLock()
		kek, ok = k.keks[dk.KEKVersion]
		k.mu.RUnlock()
		if !ok {
			return nil, hrgate.Wrap(fmt.Errorf("data key of %s needs retired key-encryption key version %d: %w",
				dk.Owner, dk.KEKVersion, hrgate.ErrIntegrity), "keyring.Rewrap")
		}
	}
	raw, err := open(kek, dk.Wrapped, dataKeyAAD(dk.Owner, dk.Version, dk.KEKVersion))
	if err != nil {
		return nil, hrgate.Wrap(fmt.Errorf("data key of %s version %d: %w", dk.Owner, dk.Version, err), "keyring.Rewrap")
	}
	return raw, nil
}

// RunRewrap re-wraps data keys every interval until ctx ends, so that a
// rotation started by any instance, or interrupted by a crash, completes
// without an operator. Failures are logged and retried next time.
func (k *Keyring) RunRewrap(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := k.Rewrap(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			k.log.Error("re-wrapping data keys failed; will retry", "err", err)
		case n > 0:
			k.log.Info("re-wrapped data keys under the active key-encryption key", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// VersionStatus is one key version and how many data keys it wraps.
type VersionStatus struct {
	Purpose   string          `json:"purpose"`
	Version   int             `json:"version"`
	State     hrgate.KeyState `json:"state"`
	CreatedAt time.Time       `json:"created_at"`
	RetiredAt *time.Time      `json:"retired_at,omitempty"`
	// DataKeys is how many data keys the version wraps (KEKs only).
	DataKeys int `json:"data_keys"`
}

// Status describes every key version, for `hrgate keyring status`.
type Status struct {
	KeyringID string          `json:"keyring_id"`
	Root      string          `json:"root"`
	Keys      []VersionStatus `json:"keys"`
	// Pending is how many data keys still wait to be re-wrapped under the
	// active KEK.
	Pending int `json:"pending_rewrap"`
}

// Status reports the key versions and the progress of re-wrapping.
func (k *Keyring) Status(ctx context.Context) (*Status, error) {
	counts, err := k.store.CountDataKeys(ctx)
	if err != nil {
		return nil, hrgate.Wrap(err, "keyring.Status")
	}
	st := &Status{KeyringID: k.id, Root: k.provider.ID(), Keys: []VersionStatus{}}
	for _, purpose := range []string{hrgate.PurposeKEK, hrgate.PurposeIndex} {
		ws, err := k.store.Keys(ctx, purpose)
		if err != nil {
			return nil, hrgate.Wrap(err, "keyring.Status")
		}
		active := 0
		for _, w := range ws {
			if w.State == hrgate.KeyActive {
				active = max(active, w.Version)
			}
		}
		for _, w := range ws {
			vs := VersionStatus{Purpose: purpose, Version: w.Version, State: w.State, CreatedAt: w.CreatedAt.UTC()}
			if !w.RetiredAt.IsZero() {
				t := w.RetiredAt.UTC()
				vs.RetiredAt = &t
			}
			if purpose == hrgate.PurposeKEK {
				vs.DataKeys = counts[w.Version]
				if w.Version != active {
					st.Pending += counts[w.Version]
				}
			}
			st.Keys = append(st.Keys, vs)
		}
	}
	return st, nil
}

// RetireKEK destroys a KEK version that no data key uses any more. The
// active version cannot be retired.
func (k *Keyring) RetireKEK(ctx context.Context, version int) error {
	ws, err := k.store.Keys(ctx, hrgate.PurposeKEK)
	if err != nil {
		return hrgate.Wrap(err, "keyring.Retire")
	}
	var w *hrgate.WrappedKey
	for _, x := range ws {
		if x.Version == version {
			w = x
		}
	}
	switch {
	case w == nil:
		return hrgate.Errorf(hrgate.ENOTFOUND, "There is no key-encryption key version %d.", version)
	case w.State == hrgate.KeyRetired:
		return nil
	case w.State == hrgate.KeyActive:
		return hrgate.Errorf(hrgate.ECONFLICT, "Version %d is the active key-encryption key; rotate first, then retire it once re-wrapping is done.", version)
	}
	counts, err := k.store.CountDataKeys(ctx)
	if err != nil {
		return hrgate.Wrap(err, "keyring.Retire")
	}
	if n := counts[version]; n > 0 {
		return hrgate.Errorf(hrgate.ECONFLICT, "Version %d still wraps %d data keys; wait for re-wrapping to finish (hrgate keyring status).", version, n)
	}
	if err := k.store.SetKeyState(ctx, hrgate.PurposeKEK, version, hrgate.KeyRetired, k.now()); err != nil {
		return hrgate.Wrap(err, "keyring.Retire")
	}
	return k.Refresh(ctx)
}

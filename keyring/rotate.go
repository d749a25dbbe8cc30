package keyring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hrgate/hrgate"
)

// Rotate creates a new version of the purpose's key (hrgate.PurposeKEK or
// hrgate.PurposeIndex), makes it the active one, and turns the previous
// active version decrypt-only, in one transaction. Data keys are then
// re-wrapped under the new KEK by Rewrap, and blind indexes recomputed by
// the stores' re-index job; the old version can be retired once nothing
// uses it. It returns the new version.
func (k *Keyring) Rotate(ctx context.Context, purpose string) (int, error) {
	if purpose != hrgate.PurposeKEK && purpose != hrgate.PurposeIndex {
		return 0, hrgate.Errorf(hrgate.EINVALID, "Unknown key purpose %q; use %s or %s.", purpose, hrgate.PurposeKEK, hrgate.PurposeIndex)
	}
	// Check first that this keyring's root opens every key of the store,
	// so that a rotation never adds a key another root cannot open. (Not
	// Refresh: it refuses a store without an active KEK, which a rotation
	// repairs.)
	if err := k.check(ctx); err != nil {
		return 0, err
	}
	ws, err := k.store.Keys(ctx, purpose)
	if err != nil {
		return 0, hrgate.Wrap(err, "keyring.Rotate")
	}
	next := 1
	for _, w := range ws {
		next = max(next, w.Version+1)
	}
	if err := k.insertKey(ctx, purpose, next); err != nil {
		if hrgate.ErrorCode(err) == hrgate.ECONFLICT {
			return 0, hrgate.Errorf(hrgate.ECONFLICT, "Version %d of the %s key could not be added (another rotation may be under way; try again): %s",
				next, purpose, hrgate.ErrorMessage(err))
		}
		return 0, hrgate.Wrap(err, "keyring.Rotate")
	}
	if err := k.Refresh(ctx); err != nil {
		return 0, err
	}
	k.log.Info("rotated a keyring key", "purpose", purpose, "version", next)
	return next, nil
}

// DefaultRewrapBatch is how many data keys Rewrap moves per transaction
// unless Options.RewrapBatch says otherwise.
const DefaultRewrapBatch = 2000

// maxFailureLogs bounds the data keys one Rewrap logs one by one; the
// error it returns counts them all.
const maxFailureLogs = 10

// maxRewrapConflicts bounds how often one Rewrap starts over because the
// active KEK changed under it.
const maxRewrapConflicts = 5

// RewrapProgress is what Rewrap has done so far.
type RewrapProgress struct {
	// Done is how many data keys this run re-wrapped.
	Done int
	// Pending estimates how many still wait: those waiting when the run
	// started, less those it re-wrapped.
	Pending int
	// Failed is how many could not be unwrapped and were left as they
	// are (see Rewrap).
	Failed int
	// KEKVersion is the version they are re-wrapped under.
	KEKVersion int
}

// Rewrap re-wraps data keys that are under an older KEK version with the
// active one, batch by batch, until none is left or ctx ends. It returns
// how many keys it re-wrapped.
//
// Each batch is its own transaction, so a crash loses at most the batch
// under way, and the next run carries on from what is left: the job is
// resumable by construction. Two instances rewrapping at once do not undo
// each other, because each update checks the KEK version it read, and a
// batch wrapped under a version that is no longer active is refused by the
// store, after which Rewrap learns the new version and goes on.
//
// A data key that does not unwrap (damaged, or under a retired version) is
// left as it is, counted, and reported in the error Rewrap returns after
// it has done the rest; it stays pending, and its KEK version cannot be
// retired.
func (k *Keyring) Rewrap(ctx context.Context) (int, error) {
	return k.RewrapReport(ctx, nil)
}

// RewrapReport is Rewrap calling report, when not nil, after every batch.
func (k *Keyring) RewrapReport(ctx context.Context, report func(RewrapProgress)) (int, error) {
	if err := k.Refresh(ctx); err != nil {
		return 0, err
	}
	var (
		p         RewrapProgress
		after     *hrgate.DataKey
		conflicts int
		firstErr  error
		failed    = map[string]bool{} // owner and version: a restart of the walk meets them again
		start     = k.now()
		waiting   = -1 // counted once there is work: serve calls Rewrap every interval
	)
	for {
		if err := ctx.Err(); err != nil {
			return p.Done, err
		}
		k.mu.RLock()
		active, kek := k.kek, k.keks[k.kek]
		k.mu.RUnlock()
		dks, err := k.store.DataKeysBelow(ctx, active, after, k.rewrapBatch)
		if err != nil {
			return p.Done, hrgate.Wrap(err, "keyring.Rewrap")
		}
		if len(dks) == 0 {
			break
		}
		if waiting < 0 {
			counts, err := k.store.CountDataKeys(ctx)
			if err != nil {
				return p.Done, hrgate.Wrap(err, "keyring.Rewrap")
			}
			waiting = pendingOf(counts, active)
		}
		last := dks[len(dks)-1]
		after = &hrgate.DataKey{Owner: last.Owner, Version: last.Version, KEKVersion: last.KEKVersion}
		batch := dks[:0]
		from := make([]int, 0, len(dks))
		for _, dk := range dks {
			raw, err := k.unwrapDataKey(ctx, dk)
			if err != nil {
				if !errors.Is(err, hrgate.ErrIntegrity) {
					return p.Done, err
				}
				if id := dk.Owner + "/" + strconv.Itoa(dk.Version); !failed[id] {
					failed[id] = true
					p.Failed++
					if firstErr == nil {
						firstErr = err
					}
					if p.Failed <= maxFailureLogs {
						k.log.Error("a data key could not be unwrapped to be re-wrapped; it is left under its old key-encryption key",
							"owner", dk.Owner, "version", dk.Version, "kek_version", dk.KEKVersion, "err", err)
					}
				}
				continue
			}
			w, err := seal(kek, k.random, raw, dataKeyAAD(dk.Owner, dk.Version, active))
			clear(raw)
			if err != nil {
				return p.Done, err
			}
			from = append(from, dk.KEKVersion)
			dk.KEKVersion, dk.Wrapped = active, w
			batch = append(batch, dk)
		}
		n, err := k.store.RewrapDataKeys(ctx, batch, from)
		if hrgate.ErrorCode(err) == hrgate.ECONFLICT && conflicts < maxRewrapConflicts {
			// Another instance rotated the KEK: learn the new version and
			// walk the keys again from the start.
			conflicts++
			if err := k.Refresh(ctx); err != nil {
				return p.Done, err
			}
			after = nil
			continue
		}
		if err != nil {
			return p.Done, hrgate.Wrap(err, "keyring.Rewrap")
		}
		p.Done += n
		p.Pending = max(waiting-p.Done, 0)
		p.KEKVersion = active
		if report != nil {
			report(p)
		}
		if err := k.throttle(ctx, start, p.Done+p.Failed); err != nil {
			return p.Done, err
		}
	}
	if p.Failed > 0 {
		return p.Done, fmt.Errorf("keyring: %d data keys could not be unwrapped and stay under their old key-encryption key; the first: %w", p.Failed, firstErr)
	}
	return p.Done, nil
}

// throttle sleeps until done keys are no more than Options.RewrapRate per
// second since start.
func (k *Keyring) throttle(ctx context.Context, start time.Time, done int) error {
	if k.rewrapRate <= 0 {
		return nil
	}
	due := start.Add(time.Duration(float64(done) / float64(k.rewrapRate) * float64(time.Second)))
	wait := due.Sub(k.now())
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RunRewrap re-wraps data keys every interval until ctx ends, so that a
// rotation started by any instance, or interrupted by a crash, completes
// without an operator. Failures are logged and retried next time. An
// interval of 0 or less means one minute.
func (k *Keyring) RunRewrap(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := k.Rewrap(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			k.log.Error("re-wrapping data keys failed; will retry", "err", err, "rewrapped", n)
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
	KeyringID string `json:"keyring_id"`
	// Root is the ID of the root key (KeyProvider.ID) that wraps the
	// keyring's keys.
	Root string          `json:"root"`
	Keys []VersionStatus `json:"keys"`
	// ActiveKEK and ActiveIndex are the active versions.
	ActiveKEK   int `json:"active_kek"`
	ActiveIndex int `json:"active_index"`
	// DataKeys is how many data keys the store holds.
	DataKeys int `json:"data_keys"`
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
		active := activeVersion(ws)
		for _, w := range ws {
			vs := VersionStatus{Purpose: purpose, Version: w.Version, State: w.State, CreatedAt: w.CreatedAt.UTC()}
			if !w.RetiredAt.IsZero() {
				t := w.RetiredAt.UTC()
				vs.RetiredAt = &t
			}
			if purpose == hrgate.PurposeKEK {
				vs.DataKeys = counts[w.Version]
			}
			st.Keys = append(st.Keys, vs)
		}
		if purpose == hrgate.PurposeKEK {
			st.ActiveKEK = active
			// Keys under a version the store does not list count as
			// pending too: they would never be re-wrapped unnoticed.
			st.Pending = pendingOf(counts, active)
		} else {
			st.ActiveIndex = active
		}
	}
	for _, n := range counts {
		st.DataKeys += n
	}
	return st, nil
}

// activeVersion returns the highest active version of ws, or 0.
func activeVersion(ws []*hrgate.WrappedKey) int {
	active := 0
	for _, w := range ws {
		if w.State == hrgate.KeyActive {
			active = max(active, w.Version)
		}
	}
	return active
}

// pendingOf sums the data keys of every KEK version but active.
func pendingOf(counts map[int]int, active int) int {
	n := 0
	for v, c := range counts {
		if v != active {
			n += c
		}
	}
	return n
}

// RetireKEK destroys a KEK version that no data key uses any more. The
// active version cannot be retired. Retiring a retired version does
// nothing.
func (k *Keyring) RetireKEK(ctx context.Context, version int) error {
	ws, err := k.store.Keys(ctx, hrgate.PurposeKEK)
	if err != nil {
		return hrgate.Wrap(err, "keyring.RetireKEK")
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
		return hrgate.Errorf(hrgate.ECONFLICT, "Version %d is the active key-encryption key; rotate first (hrgate keyring rotate), then retire it once re-wrapping is done.", version)
	}
	counts, err := k.store.CountDataKeys(ctx)
	if err != nil {
		return hrgate.Wrap(err, "keyring.RetireKEK")
	}
	if n := counts[version]; n > 0 {
		return hrgate.Errorf(hrgate.ECONFLICT, "Key-encryption key version %d still wraps %d data keys; wait until re-wrapping is done (hrgate keyring status), or run hrgate keyring rewrap.", version, n)
	}
	if err := k.store.SetKeyState(ctx, hrgate.PurposeKEK, version, hrgate.KeyRetired, k.now()); err != nil {
		if hrgate.ErrorCode(err) == hrgate.ECONFLICT {
			return hrgate.Errorf(hrgate.ECONFLICT, "Key-encryption key version %d is in use again (a data key was wrapped under it meanwhile); run hrgate keyring rewrap, then retire it.", version)
		}
		return hrgate.Wrap(err, "keyring.RetireKEK")
	}
	k.log.Info("retired a key-encryption key version", "version", version)
	return k.Refresh(ctx)
}

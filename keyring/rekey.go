package keyring

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hrgate/hrgate"
)

// Rekey moves the keyring in store from the root key from to the root key
// to: every key-encryption and index key version that is not retired is
// unwrapped with from and wrapped with to, and the store replaces all of
// them in one transaction, so that the keyring is never half under one
// root and half under the other. Data keys and fields do not change: they
// are wrapped by the key-encryption keys, whose values stay the same.
//
// Afterwards the keyring opens with to only. Instances still running with
// from keep the keys they hold but cannot read new versions; they must be
// restarted with to. A backup of the key store taken before the rekey
// still needs from.
func Rekey(ctx context.Context, store hrgate.KeyringStore, from, to KeyProvider) error {
	if from.ID() == to.ID() {
		return hrgate.Errorf(hrgate.EINVALID, "The new master key is the one the key store is already wrapped by (%s).", from.ID())
	}
	id, err := store.KeyringID(ctx, "")
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return hrgate.Errorf(hrgate.ENOTFOUND, "The key store holds no keyring yet; there is nothing to re-wrap.")
	}
	if err != nil {
		return fmt.Errorf("keyring: read keyring id: %w", err)
	}
	old := &Keyring{store: store, provider: from, id: id}
	var out []*hrgate.WrappedKey
	for _, purpose := range []string{hrgate.PurposeKEK, hrgate.PurposeIndex} {
		us, err := old.unwrapAll(ctx, purpose)
		if err != nil {
			return err
		}
		for _, u := range us {
			aad := old.keyAAD(purpose, u.version)
			w, err := to.Wrap(ctx, u.raw, aad)
			if err != nil {
				return fmt.Errorf("keyring: wrap %s key version %d with the new master key: %w", purpose, u.version, err)
			}
			// Prove the new wrapping opens before the old one is replaced.
			back, err := to.Unwrap(ctx, w, aad)
			if err != nil || !bytes.Equal(back, u.raw) {
				return fmt.Errorf("keyring: the new master key does not open its own wrapping of %s key version %d; nothing was changed", purpose, u.version)
			}
			clear(back)
			clear(u.raw)
			out = append(out, &hrgate.WrappedKey{Purpose: purpose, Version: u.version, WrappedBy: to.ID(), Wrapped: w, State: u.state})
		}
	}
	if len(out) == 0 {
		return hrgate.Errorf(hrgate.ENOTFOUND, "The key store holds no keyring yet; there is nothing to re-wrap.")
	}
	if err := store.RewrapKeys(ctx, out, from.ID()); err != nil {
		if hrgate.ErrorCode(err) == hrgate.ECONFLICT {
			return err
		}
		return hrgate.Wrap(err, "keyring.Rekey")
	}
	return nil
}

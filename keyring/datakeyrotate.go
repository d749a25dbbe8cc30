package keyring

import (
	"context"
	"encoding/binary"

	"github.com/hrgate/hrgate"
)

// SealedKeyVersion returns the data key version a sealed value was sealed
// under, read from its header, and false when b is not a sealed value.
// Stores use it to tell when no value of an owner needs an old version any
// more, so that the version can be deleted.
func SealedKeyVersion(b []byte) (int, bool) {
	v, _, ok := sealedHeader(b)
	return v, ok
}

// sealedHeader returns the data key version of a sealed value and the
// length of its header (format byte and version).
func sealedHeader(b []byte) (version, n int, ok bool) {
	if !IsSealed(b) {
		return 0, 0, false
	}
	if len(b) > 1 && b[1] > 0 && b[1] < 0x80 {
		// A version below 128, one byte: every value until the owner's
		// key has been rotated 127 times.
		return int(b[1]), 2, true
	}
	v, k := binary.Uvarint(b[1:])
	if k <= 0 || v == 0 || v > 1<<31 {
		return 0, 0, false
	}
	return int(v), 1 + k, true
}

// RotateDataKeys gives each owner a new data key version, one above its
// newest, wrapped by the active key-encryption key, in one write to the
// key store. Seal uses the new version from then on; the old versions
// still open what they sealed until DeleteDataKeysBelow removes them,
// which the caller does only once every value is re-sealed. An owner
// without a data key is left without one: its key was erased, and a new
// one would seal nothing that should exist. Two instances rotating the same
// owner at once create one new version, not two: the store keeps the
// first and the other is read back.
func (k *Keyring) RotateDataKeys(ctx context.Context, owners []string) error {
	return k.rotateDataKeys(ctx, owners, false)
}

func (k *Keyring) rotateDataKeys(ctx context.Context, owners []string, retried bool) error {
	if len(owners) == 0 {
		return nil
	}
	// Read the store, not the cache: the newest version must be the
	// store's, or the new key would collide with one another instance
	// made.
	if err := k.load(ctx, owners); err != nil {
		return err
	}
	k.mu.RLock()
	kekVersion, kek := k.kek, k.keks[k.kek]
	k.mu.RUnlock()
	now := k.now()
	fresh := make([]*hrgate.DataKey, 0, len(owners))
	var rotated []string
	for _, o := range owners {
		keys, ok := k.cache.Get(o)
		if !ok {
			continue
		}
		dk, raw, err := k.newDataKey(o, keys.newest().version+1, kekVersion, kek, now)
		if err != nil {
			return err
		}
		// Read back below with the owner's other versions: another
		// instance may have rotated the same owner first.
		clear(raw)
		fresh = append(fresh, dk)
		rotated = append(rotated, o)
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := k.store.InsertDataKeys(ctx, fresh); err != nil {
		if hrgate.ErrorCode(err) != hrgate.ECONFLICT || retried {
			return hrgate.Wrap(err, "keyring.RotateDataKeys")
		}
		// The KEK was rotated by another instance: wrap under the new one.
		if err := k.Refresh(ctx); err != nil {
			return err
		}
		return k.rotateDataKeys(ctx, rotated, true)
	}
	return k.load(ctx, rotated)
}

// DeleteDataKeysBelow deletes owner's data key versions older than
// version and returns how many it deleted. Whatever they sealed can no
// longer be opened, here or in any copy of the data; the caller must have
// re-sealed every value under version or newer first.
func (k *Keyring) DeleteDataKeysBelow(ctx context.Context, owner string, version int) (int, error) {
	if version <= 1 {
		return 0, nil
	}
	n, err := k.store.DeleteDataKeys(ctx, owner, version)
	if err != nil {
		return 0, hrgate.Wrap(err, "keyring.DeleteDataKeysBelow")
	}
	k.cache.Delete(owner)
	return n, nil
}

// Cached reports whether owner's data keys are in memory and fresh, so
// that opening a value of it reads nothing from the key store. A store
// decoding a page decrypts the rows whose keys are cached as it reads
// them, and fetches the keys of the others with one Prefetch.
func (k *Keyring) Cached(owner string) bool {
	o, ok := k.cache.Get(owner)
	return ok && o.fresh(k.now())
}

// OpenAppend is Open that appends the plaintext to dst, so that a store
// decrypting many fields into one buffer allocates nothing per field. A
// store opening several fields of one record uses OpenRecord, which looks
// the owner's keys up once for all of them.
func (k *Keyring) OpenAppend(ctx context.Context, dst []byte, owner string, ref hrgate.FieldRef, sealed []byte) ([]byte, error) {
	r := k.OpenRecord(owner, ref.Table, ref.RecordID)
	defer r.Close()
	return r.OpenAppend(ctx, dst, ref.Field, sealed)
}

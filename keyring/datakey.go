package keyring

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
)

// SealedFormat is the first byte of every value Seal returns. The rest is
// the data key version (uvarint), a 12-byte nonce and the AES-256-GCM
// ciphertext with its tag. The associated data, which is not stored,
// binds the value to its owner, table, record, field and data key version.
// Stores tell a sealed value from their own plaintext encodings by this
// byte, so theirs must not start with it.
const SealedFormat byte = 0x02

// MinSealedOverhead is the least by which a value Seal returns is longer
// than its plaintext: the format byte, a one-byte version, the nonce and
// the tag.
const MinSealedOverhead = 1 + 1 + gcmNonceSize + gcmTagSize

// IsSealed reports whether b is a value Seal produced.
func IsSealed(b []byte) bool { return len(b) > 0 && b[0] == SealedFormat }

// maxFetch bounds the owners read from the key store in one query.
const maxFetch = 500

// Seal implements hrgate.Cipher.
func (k *Keyring) Seal(ctx context.Context, owner string, ref hrgate.FieldRef, plaintext []byte) ([]byte, error) {
	keys, err := k.ownerKeys(ctx, owner, true)
	if err != nil {
		return nil, err
	}
	dk := keys.newest()
	aead, err := dk.sealer()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, 1+binary.MaxVarintLen64+12+len(plaintext)+16)
	out[0] = SealedFormat
	out = binary.AppendUvarint(out, uint64(dk.version))
	head := len(out)
	out = out[:head+aead.NonceSize()]
	if _, err := io.ReadFull(k.random, out[head:]); err != nil {
		return nil, fmt.Errorf("keyring: read random nonce: %w", err)
	}
	buf := aadPool.Get().(*[]byte)
	aad := fieldAAD((*buf)[:0], owner, ref, dk.version)
	out = aead.Seal(out, out[head:], plaintext, aad)
	putAAD(buf, aad)
	return out, nil
}

// Open implements hrgate.Cipher.
func (k *Keyring) Open(ctx context.Context, owner string, ref hrgate.FieldRef, sealed []byte) ([]byte, error) {
	return k.OpenAppend(ctx, nil, owner, ref, sealed)
}

// aadPool holds buffers for the associated data of fields: handed to the
// AEAD through an interface, a buffer on the stack would escape to the
// heap on every Seal and Open.
var aadPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// putAAD returns a buffer to aadPool, keeping it if it grew. AAD is not
// secret: it names the owner, table, record and field.
func putAAD(buf *[]byte, aad []byte) {
	if cap(aad) <= 4096 {
		*buf = aad[:0]
		aadPool.Put(buf)
	}
}

// fieldAADLabel starts the associated data of every sealed field.
const fieldAADLabel = "hrgate/field/v1"

// fieldAAD is the associated data of a sealed field. RecordOpener builds
// the same bytes in two parts, the owner, table and record once per
// record and the rest (appendFieldAAD) per field.
func fieldAAD(dst []byte, owner string, ref hrgate.FieldRef, version int) []byte {
	dst = appendParts(dst, fieldAADLabel, owner, ref.Table, ref.RecordID)
	return appendFieldAAD(dst, ref.Field, version)
}

// dataKeyAAD binds a wrapped data key to its owner and versions.
func dataKeyAAD(owner string, version, kek int) []byte {
	return appendParts(nil, "hrgate/datakey/v1", owner, strconv.Itoa(version), strconv.Itoa(kek))
}

// ownerKeys returns owner's unwrapped data keys, from the cache while
// they are fresh, else from the store. When the owner has none, create
// makes one; otherwise the answer is ErrKeyErased, since every record
// written through the keyring got its owner's key first.
func (k *Keyring) ownerKeys(ctx context.Context, owner string, create bool) (*ownerKeys, error) {
	if o, ok := k.cache.Get(owner); ok && o.fresh(k.now()) {
		return o, nil
	}
	if err := k.load(ctx, []string{owner}); err != nil {
		return nil, err
	}
	if o, ok := k.cache.Get(owner); ok {
		return o, nil
	}
	if !create {
		return nil, fmt.Errorf("data key of %s: %w", owner, hrgate.ErrKeyErased)
	}
	if err := k.CreateDataKeys(ctx, []string{owner}); err != nil {
		return nil, err
	}
	if o, ok := k.cache.Get(owner); ok {
		return o, nil
	}
	return nil, fmt.Errorf("keyring: the data key of %s vanished as it was created", owner)
}

// load reads the data keys of owners from the store, unwraps them and
// caches them. Owners without keys are dropped from the cache: their keys
// were erased.
func (k *Keyring) load(ctx context.Context, owners []string) error {
	for len(owners) > 0 {
		chunk := owners[:min(len(owners), maxFetch)]
		owners = owners[len(chunk):]
		dks, err := k.store.DataKeys(ctx, chunk)
		if err != nil {
			return hrgate.Wrap(err, "keyring.load")
		}
		found, err := k.cacheKeys(ctx, dks)
		if err != nil {
			return err
		}
		for _, o := range chunk {
			if !found[o] {
				k.cache.Delete(o)
			}
		}
	}
	return nil
}

// cacheKeys unwraps dks and caches them by owner, returning the owners.
func (k *Keyring) cacheKeys(ctx context.Context, dks []*hrgate.DataKey) (map[string]bool, error) {
	now := k.now()
	byOwner := make(map[string]*ownerKeys)
	for _, dk := range dks {
		raw, err := k.unwrapDataKey(ctx, dk)
		if err != nil {
			return nil, err
		}
		o := byOwner[dk.Owner]
		if o == nil {
			o = &ownerKeys{expires: now.Add(k.ttl)}
			byOwner[dk.Owner] = o
		}
		// Keep versions ascending whatever order the store used.
		i := len(o.keys)
		for i > 0 && o.keys[i-1].version > dk.Version {
			i--
		}
		o.keys = append(o.keys, nil)
		copy(o.keys[i+1:], o.keys[i:])
		o.keys[i] = &versionKey{version: dk.Version, raw: raw}
	}
	found := make(map[string]bool, len(byOwner))
	for owner, o := range byOwner {
		k.cache.Put(owner, o)
		found[owner] = true
	}
	return found, nil
}

// unwrapDataKey unwraps one data key with the KEK version that wrapped it,
// reading the keyring again once when that version is unknown here. It
// serves both the read path (load) and Rewrap. A key that does not unwrap
// is an error wrapping hrgate.ErrIntegrity.
func (k *Keyring) unwrapDataKey(ctx context.Context, dk *hrgate.DataKey) ([]byte, error) {
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
			return nil, hrgate.Wrap(fmt.Errorf("data key of %s version %d is wrapped by key-encryption key version %d, which is retired or unknown: %w",
				dk.Owner, dk.Version, dk.KEKVersion, hrgate.ErrIntegrity), "keyring.unwrap")
		}
	}
	raw, err := open(kek, dk.Wrapped, dataKeyAAD(dk.Owner, dk.Version, dk.KEKVersion))
	if err != nil {
		return nil, hrgate.Wrap(fmt.Errorf("data key of %s version %d: %w", dk.Owner, dk.Version, err), "keyring.unwrap")
	}
	if len(raw) != 32 {
		return nil, hrgate.Wrap(fmt.Errorf("data key of %s version %d is %d bytes: %w", dk.Owner, dk.Version, len(raw), hrgate.ErrIntegrity), "keyring.unwrap")
	}
	return raw, nil
}

// Prefetch implements hrgate.Cipher.
func (k *Keyring) Prefetch(ctx context.Context, owners []string) error {
	now := k.now()
	var missing []string
	for _, o := range owners {
		if c, ok := k.cache.Get(o); !ok || !c.fresh(now) {
			missing = append(missing, o)
		}
	}
	return k.load(ctx, missing)
}

// CreateDataKeys implements hrgate.Cipher. Owners that have a key keep it.
func (k *Keyring) CreateDataKeys(ctx context.Context, owners []string) error {
	return k.createDataKeys(ctx, owners, true, 0)
}

// CreateNewDataKeys is CreateDataKeys for owners that were just given
// their ids and are not expected to have keys (new employees): it does not
// look their keys up in the key store first, which for new owners reads
// nothing at the cost of a query. An owner that has a key keeps it all the
// same: the store refuses a second key and the keyring reads the first.
func (k *Keyring) CreateNewDataKeys(ctx context.Context, owners []string) error {
	return k.createDataKeys(ctx, owners, false, 0)
}

// maxCreateRetries bounds how often createDataKeys wraps again after
// finding that the KEK it used was rotated meanwhile.
const maxCreateRetries = 3

func (k *Keyring) createDataKeys(ctx context.Context, owners []string, lookUp bool, retries int) error {
	if lookUp {
		if err := k.Prefetch(ctx, owners); err != nil {
			return err
		}
	}
	k.mu.RLock()
	kekVersion, kek := k.kek, k.keks[k.kek]
	k.mu.RUnlock()
	var fresh []*hrgate.DataKey
	var raws [][]byte
	// Until cached, the keys generated are wiped on every way out.
	defer func() {
		for _, raw := range raws {
			clear(raw)
		}
	}()
	now := k.now()
	for _, o := range owners {
		if _, ok := k.cache.Get(o); ok {
			continue
		}
		dk, raw, err := k.newDataKey(o, 1, kekVersion, kek, now)
		if err != nil {
			return err
		}
		fresh = append(fresh, dk)
		raws = append(raws, raw)
	}
	if len(fresh) == 0 {
		return nil
	}
	stored, err := k.store.InsertDataKeys(ctx, fresh)
	if err != nil {
		if hrgate.ErrorCode(err) != hrgate.ECONFLICT || retries >= maxCreateRetries {
			return hrgate.Wrap(err, "keyring.CreateDataKeys")
		}
		// Another instance rotated the KEK: learn the new version and
		// wrap under it.
		if err := k.Refresh(ctx); err != nil {
			return err
		}
		return k.createDataKeys(ctx, owners, lookUp, retries+1)
	}
	// The keys the store took are cached as generated, without reading
	// them back; where another instance created an owner's key first,
	// the store kept that one, which is read.
	won := make(map[*hrgate.DataKey]bool, len(stored))
	for _, dk := range stored {
		won[dk] = true
	}
	var lost []string
	expires := now.Add(k.ttl)
	for i, dk := range fresh {
		if !won[dk] {
			lost = append(lost, dk.Owner)
			continue
		}
		k.cache.Put(dk.Owner, &ownerKeys{expires: expires, keys: []*versionKey{{version: dk.Version, raw: raws[i]}}})
		raws[i] = nil // the cache owns it now
	}
	return k.load(ctx, lost)
}

// newDataKey generates version version of owner's data key, wrapped by
// kek, the key-encryption key version kekVersion. It returns the key
// itself too, which the caller wipes unless it caches it.
func (k *Keyring) newDataKey(owner string, version, kekVersion int, kek cipher.AEAD, now time.Time) (*hrgate.DataKey, []byte, error) {
	raw := make([]byte, 32)
	if _, err := io.ReadFull(k.random, raw); err != nil {
		return nil, nil, fmt.Errorf("keyring: generate data key: %w", err)
	}
	wrapped, err := seal(kek, k.random, raw, dataKeyAAD(owner, version, kekVersion))
	if err != nil {
		clear(raw)
		return nil, nil, err
	}
	return &hrgate.DataKey{Owner: owner, Version: version, KEKVersion: kekVersion, Wrapped: wrapped, CreatedAt: now}, raw, nil
}

// Erase implements hrgate.Cipher.
func (k *Keyring) Erase(ctx context.Context, owner string) error {
	return k.EraseOwners(ctx, []string{owner})
}

// EraseOwners is Erase for many owners at once, in one deletion.
func (k *Keyring) EraseOwners(ctx context.Context, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	if _, err := k.store.EraseDataKeys(ctx, owners); err != nil {
		return hrgate.Wrap(err, "keyring.Erase")
	}
	for _, o := range owners {
		k.cache.Delete(o)
	}
	return nil
}

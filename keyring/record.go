package keyring

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/hrgate/hrgate"
)

// RecordOpener opens the sealed fields of one record of one owner. A
// store decoding a row of several sealed fields would otherwise look the
// owner's data keys up in the cache, check their lifetime and build the
// associated data from scratch for every field; a RecordOpener does the
// look-up once, on its first open, and builds the part of the associated
// data that names the owner, table and record once. Each field is still
// authenticated on its own, under the data key version its header names,
// with associated data that ends with its field name and that version,
// byte for byte what Seal bound it to.
//
// A RecordOpener serves one goroutine and one record. Close it when done:
// it returns the buffer that holds the associated data.
type RecordOpener struct {
	k      *Keyring
	owner  string
	table  string
	record string
	// once is set by OpenRecordOnce: the opener keeps no AES-GCM
	// instance in the cached data keys.
	once bool
	// keys are the owner's data keys, nil until the first open.
	keys *ownerKeys
	// onceKey and onceAEAD are, for a once-opener, the data key the
	// last field named and its AES-GCM instance, reused by the fields
	// that follow under the same key.
	onceKey  *versionKey
	onceAEAD cipher.AEAD
	// aad holds the associated data; its first prefix bytes name the
	// owner, table and record.
	aad    *[]byte
	prefix int
}

// OpenRecord returns a RecordOpener for the sealed fields of record of
// table, sealed for owner. It reads nothing until its first open.
func (k *Keyring) OpenRecord(owner, table, record string) RecordOpener {
	return RecordOpener{k: k, owner: owner, table: table, record: record}
}

// OpenRecordOnce is OpenRecord for a record read once in a bulk pass (a
// sync comparing an import with what is stored, a job scanning every
// row), which opens as OpenRecord does and fails alike, but keeps no
// AES-GCM instance in the cache. OpenRecord keeps one in the owner's
// cached data key on its first open, about 1 KiB, so that later reads of
// the owner do not build it again; a pass over 100,000 employees would
// leave 100,000 of them behind, some 100 MB, for owners nobody is about
// to read. A once-opener uses the instance already kept when there is
// one, and otherwise builds its own, once per data key version for all
// the fields of its record, dropped with the opener.
func (k *Keyring) OpenRecordOnce(owner, table, record string) RecordOpener {
	return RecordOpener{k: k, owner: owner, table: table, record: record, once: true}
}

// OpenAppend opens the sealed value of field and appends the plaintext to
// dst. A value that is not sealed, or that was sealed for another owner,
// table, record or field, or that was changed, is an error wrapping
// hrgate.ErrIntegrity; a value whose data key version was erased is one
// wrapping hrgate.ErrKeyErased. On error dst is returned unchanged.
func (r *RecordOpener) OpenAppend(ctx context.Context, dst []byte, field string, sealed []byte) ([]byte, error) {
	version, n, ok := sealedHeader(sealed)
	if !ok {
		return dst, r.integrityError(field)
	}
	if r.keys == nil {
		keys, err := r.k.ownerKeys(ctx, r.owner, false)
		if err != nil {
			return dst, err
		}
		r.keys = keys
	}
	vk, ok := r.keys.find(version)
	if !ok {
		var err error
		if vk, err = r.reload(ctx, field, version); err != nil {
			return dst, err
		}
	}
	aead, err := r.aeadOf(vk)
	if err != nil {
		return dst, err
	}
	body := sealed[n:]
	if len(body) < gcmNonceSize+gcmTagSize {
		return dst, r.integrityError(field)
	}
	if r.aad == nil {
		r.aad = aadPool.Get().(*[]byte)
		*r.aad = appendParts((*r.aad)[:0], fieldAADLabel, r.owner, r.table, r.record)
		r.prefix = len(*r.aad)
	}
	aad := appendFieldAAD((*r.aad)[:r.prefix], field, version)
	*r.aad = aad
	out, err := aead.Open(dst, body[:gcmNonceSize], body[gcmNonceSize:], aad)
	if err != nil {
		return dst, r.integrityError(field)
	}
	return out, nil
}

// aeadOf returns the AES-GCM instance that opens under vk: the one vk
// keeps, built and kept on the first open of an OpenRecord opener; for a
// OpenRecordOnce opener, the one vk already keeps, else one built for
// this opener alone.
func (r *RecordOpener) aeadOf(vk *versionKey) (cipher.AEAD, error) {
	if !r.once {
		return vk.opener()
	}
	if r.onceKey == vk {
		return r.onceAEAD, nil
	}
	a, err := vk.sealer()
	if err != nil {
		return nil, err
	}
	r.onceKey, r.onceAEAD = vk, a
	return a, nil
}

// Close returns the opener's buffer and drops the AES-GCM instance a
// once-opener built. The opener can be used again, at the cost of
// building them again.
func (r *RecordOpener) Close() {
	if r.aad != nil {
		putAAD(r.aad, *r.aad)
		r.aad = nil
	}
	r.onceKey, r.onceAEAD = nil, nil
}

// reload reads the owner's data keys from the store again for a version
// this instance has not seen: another instance rotated the owner's key.
// Version gone from the store too was deleted, after every value was
// sealed again under a newer one, or erased.
func (r *RecordOpener) reload(ctx context.Context, field string, version int) (*versionKey, error) {
	r.k.cache.Delete(r.owner)
	keys, err := r.k.ownerKeys(ctx, r.owner, false)
	if err != nil {
		r.keys = nil
		return nil, err
	}
	r.keys = keys
	vk, ok := keys.find(version)
	if !ok {
		return nil, fmt.Errorf("%s of %s %s: data key version %d is gone: %w", field, r.table, r.record, version, hrgate.ErrKeyErased)
	}
	return vk, nil
}

func (r *RecordOpener) integrityError(field string) error {
	return fmt.Errorf("%s of %s %s: %w", field, r.table, r.record, hrgate.ErrIntegrity)
}

// appendFieldAAD appends the end of a field's associated data, the part
// after the owner, table and record: the field name and the data key
// version.
func appendFieldAAD(dst []byte, field string, version int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(field)))
	dst = append(dst, field...)
	return binary.AppendUvarint(dst, uint64(version))
}

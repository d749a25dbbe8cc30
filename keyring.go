package hrgate

import (
	"context"
	"errors"
	"time"
)

// Errors a Cipher wraps, so that callers and tests can tell them apart with
// errors.Is. Both reach a client as an internal error: they mean the
// stored data is damaged, tampered with or shredded, never that the
// request was wrong.
var (
	// ErrIntegrity: a ciphertext did not authenticate. It was changed,
	// moved to another record or field, or sealed under another keyring.
	ErrIntegrity = errors.New("encrypted value failed its integrity check")
	// ErrKeyErased: the owner's data key was destroyed.
	ErrKeyErased = errors.New("the data key was erased")
)

// FieldRef names one encrypted value: the table, the record and the field
// it belongs to. A ciphertext is bound to its FieldRef, so a ciphertext
// copied to another record or field does not decrypt.
type FieldRef struct {
	Table    string
	RecordID string
	Field    string
}

// Cipher seals and opens what hrgate stores encrypted. keyring.Keyring
// implements it; the stores call it for employee field groups and for
// hrgate's own secrets. Every value is sealed under the data key of an
// owner (an employee id, or a name such as "vault" for server secrets).
//
// Open returns an error wrapping ErrIntegrity when a ciphertext does not
// authenticate (tampered, moved, or under a key that is not this
// keyring's), and one wrapping ErrKeyErased when the owner's data key was
// destroyed by Erase.
type Cipher interface {
	// Seal encrypts plaintext for ref under owner's newest data key,
	// creating the data key when owner has none.
	Seal(ctx context.Context, owner string, ref FieldRef, plaintext []byte) ([]byte, error)
	// Open decrypts a ciphertext Seal produced for the same owner and ref.
	Open(ctx context.Context, owner string, ref FieldRef, ciphertext []byte) ([]byte, error)
	// Prefetch loads the data keys of many owners at once, so that a list
	// of records decrypts without one key-store query per record.
	Prefetch(ctx context.Context, owners []string) error
	// CreateDataKeys makes sure every owner has a data key, in one write
	// to the key store.
	CreateDataKeys(ctx context.Context, owners []string) error
	// Erase destroys every data key of owner: whatever was sealed for it,
	// in this database or in any copy of it, can no longer be opened.
	Erase(ctx context.Context, owner string) error
	// BlindIndex returns the keyed hashes of a normalised value of the
	// given kind ("national_id", "personal_email"): the first under the
	// current index key, to store, then those under older keys still in
	// use, to search with during an index-key rotation.
	BlindIndex(kind, value string) [][]byte
}

// KeyState says what a key version may still be used for.
type KeyState string

// Key states. An active key is the newest of its purpose and wraps new
// keys; a decrypt-only key still opens what it wrapped; a retired key has
// been destroyed.
const (
	KeyActive      KeyState = "active"
	KeyDecryptOnly KeyState = "decrypt_only"
	KeyRetired     KeyState = "retired"
)

// Key purposes.
const (
	// PurposeKEK keys wrap data keys; the master key wraps them.
	PurposeKEK = "kek"
	// PurposeIndex keys compute blind indexes; the master key wraps them.
	PurposeIndex = "index"
)

// WrappedKey is one version of a keyring key as stored: wrapped, never
// in the clear.
type WrappedKey struct {
	Purpose string
	Version int
	// WrappedBy names the root key that wrapped it (KeyProvider ID).
	WrappedBy string
	Wrapped   []byte // nil once retired
	State     KeyState
	CreatedAt time.Time
	RetiredAt time.Time
}

// DataKey is one version of an owner's data-encryption key, wrapped by one
// key-encryption key version.
type DataKey struct {
	Owner      string
	Version    int
	KEKVersion int
	Wrapped    []byte
	CreatedAt  time.Time
}

// KeyringStore keeps the keyring: key-encryption and index keys, and every
// owner's data keys. It must not live in the same backup as the data it
// protects for crypto-shredding to hold against that backup.
type KeyringStore interface {
	// KeyringID returns the id the key store was created with, creating
	// it with id when the store is new. Data stores record it, so that a
	// data store is never opened with another keyring.
	KeyringID(ctx context.Context, id string) (string, error)
	// Keys returns every version of the purpose's keys, oldest first.
	Keys(ctx context.Context, purpose string) ([]*WrappedKey, error)
	// InsertKey adds a key version as the purpose's active one, making
	// its older active versions decrypt-only in the same transaction;
	// ECONFLICT when the version is taken, which is how an instance
	// learns another rotated first, or when the store's other keys are
	// wrapped by another root.
	InsertKey(ctx context.Context, k *WrappedKey) error
	// SetKeyState changes a key version's state; retiring it also
	// destroys its wrapped bytes. ENOTFOUND when there is no such version;
	// ECONFLICT when retiring an active version, or a KEK version that
	// still wraps a data key, checked in the same statement as the change.
	SetKeyState(ctx context.Context, purpose string, version int, state KeyState, at time.Time) error

	// DataKeys returns every version of the owners' data keys.
	DataKeys(ctx context.Context, owners []string) ([]*DataKey, error)
	// InsertDataKeys adds data keys in one transaction, skipping any
	// (owner, version) that exists already, and returns those it stored.
	// ECONFLICT, and nothing written, when their KEK version is no longer
	// active: the caller's view of the keyring is stale, and it must
	// refresh and retry.
	InsertDataKeys(ctx context.Context, ks []*DataKey) ([]*DataKey, error)
	// DeleteDataKeys deletes data keys of owner: every version when
	// below is 0, else the versions below it. It returns how many it
	// deleted.
	DeleteDataKeys(ctx context.Context, owner string, below int) (int, error)
	// EraseDataKeys deletes every version of the data keys of owners, as
	// DeleteDataKeys with below 0 does for one, and returns how many it
	// deleted: many owners cost one deletion, not one each.
	EraseDataKeys(ctx context.Context, owners []string) (int, error)
	// SupersededDataKeyOwners returns up to limit owners, in order and
	// after the owner after, that hold more than one data key version and
	// whose newest version was created before createdBefore.
	SupersededDataKeyOwners(ctx context.Context, createdBefore time.Time, after string, limit int) ([]string, error)
	// DataKeysBelow returns up to limit data keys wrapped by a KEK
	// version older than kekVersion, ordered by KEK version, owner and
	// version, starting after the key after (nil: from the first).
	DataKeysBelow(ctx context.Context, kekVersion int, after *DataKey, limit int) ([]*DataKey, error)
	// RewrapDataKeys stores new wrappings of data keys in one
	// transaction. A key whose KEK version changed since it was read
	// (compared with from[i]) is left alone: another rewrap got there
	// first. It returns how many it updated. ECONFLICT, and nothing
	// written, when the KEK version they are now wrapped by is no longer
	// active.
	RewrapDataKeys(ctx context.Context, ks []*DataKey, from []int) (int, error)
	// RewrapKeys replaces, in one transaction, the wrapping of every
	// key version that is not retired with ks, all wrapped by one new
	// root, checking that each was wrapped by the root from. ECONFLICT,
	// and nothing written, when a version is missing from ks or changed
	// meanwhile.
	RewrapKeys(ctx context.Context, ks []*WrappedKey, from string) error
	// CountDataKeys returns how many data keys each KEK version wraps.
	CountDataKeys(ctx context.Context) (map[int]int, error)
}

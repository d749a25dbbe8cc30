// Package keyring is hrgate's key management: a master key (or a KMS,
// through KeyProvider) wraps versioned key-encryption keys and index keys;
// the key-encryption keys wrap one data key per owner (an employee, or the
// server's vault); data keys seal individual fields with AES-256-GCM,
// bound to their table, record and field. The keyring implements
// hrgate.Cipher for the stores and runs the rotation jobs.
//
// The wrapped keys live in an hrgate.KeyringStore that is kept apart from
// the data: destroying an owner's data key there makes every copy of that
// owner's encrypted fields unreadable (crypto-shredding).
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/bounded"
)

// Options configures Open.
type Options struct {
	// CacheSize bounds the unwrapped data keys kept in memory; 0 means
	// 100,000.
	CacheSize int
	// CacheTTL bounds how long an unwrapped data key is trusted without
	// reading the key store again, and so how late an erase or a rotation
	// made by another instance takes effect here; 0 means one minute, and
	// it may not exceed MaxCacheTTL.
	CacheTTL time.Duration
	// RewrapBatch is how many data keys Rewrap moves per transaction; 0
	// means DefaultRewrapBatch.
	RewrapBatch int
	// RewrapRate caps how many data keys per second Rewrap moves, to
	// spare a busy key store; 0 means no cap.
	RewrapRate int
	Now        func() time.Time
	Random     io.Reader
	Logger     *slog.Logger
}

// Keyring implements hrgate.Cipher over a key store and a root key
// provider. It is safe for concurrent use.
type Keyring struct {
	store    hrgate.KeyringStore
	provider KeyProvider
	id       string
	now      func() time.Time
	random   io.Reader
	log      *slog.Logger
	ttl      time.Duration

	rewrapBatch int
	rewrapRate  int

	mu    sync.RWMutex
	keks  map[int]cipher.AEAD
	kek   int // the active KEK version
	index []indexKey

	cache bounded.Map[string, *ownerKeys]
}

var _ hrgate.Cipher = (*Keyring)(nil)

// ownerKeys are the unwrapped data keys of one owner.
type ownerKeys struct {
	// expires is when the keys were read from the store plus the cache
	// lifetime: from then on they are read again.
	expires time.Time
	keys    []*versionKey // ascending version; the last is the newest
}

// fresh reports whether the keys may still be used without reading the
// store again.
func (o *ownerKeys) fresh(now time.Time) bool { return now.Before(o.expires) }

// versionKey is one unwrapped data key. Its AES-GCM instance (about 1 KiB
// of key schedule and tables) is built on the first Open and kept, so
// that reads pay for it once; Seal and the opens of OpenRecordOnce do not
// keep one, so that a bulk import or re-import of many owners fills the
// cache with 32-byte keys rather than with key schedules nobody reads.
type versionKey struct {
	version int
	raw     []byte
	aead    atomic.Pointer[gcm]
}

type gcm struct{ cipher.AEAD }

// opener returns the key's AES-GCM instance, building and keeping it.
func (v *versionKey) opener() (cipher.AEAD, error) {
	if a := v.aead.Load(); a != nil {
		return a.AEAD, nil
	}
	a, err := newAEAD(v.raw)
	if err != nil {
		return nil, err
	}
	v.aead.Store(&gcm{a})
	return a, nil
}

// sealer returns the key's AES-GCM instance when it was built, else a new
// one that is not kept. Seal and OpenRecordOnce use it.
func (v *versionKey) sealer() (cipher.AEAD, error) {
	if a := v.aead.Load(); a != nil {
		return a.AEAD, nil
	}
	return newAEAD(v.raw)
}

func (o *ownerKeys) newest() *versionKey { return o.keys[len(o.keys)-1] }

func (o *ownerKeys) find(v int) (*versionKey, bool) {
	for _, k := range o.keys {
		if k.version == v {
			return k, true
		}
	}
	return nil, false
}

// Open opens the keyring held by store with the root key of provider. A
// new, empty store gets a keyring id and the first key-encryption and
// index keys. A store whose keys the provider cannot unwrap is refused with
// an error that says so, and nothing is written to it.
func Open(ctx context.Context, store hrgate.KeyringStore, provider KeyProvider, opts Options) (*Keyring, error) {
	k := &Keyring{
		store: store, provider: provider, now: opts.Now, random: opts.Random, log: opts.Logger, ttl: opts.CacheTTL,
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.random == nil {
		k.random = rand.Reader
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.ttl <= 0 {
		k.ttl = time.Minute
	}
	if k.ttl > MaxCacheTTL {
		return nil, fmt.Errorf("keyring: a cache lifetime of %s is longer than the %s every instance relies on", k.ttl, MaxCacheTTL)
	}
	k.cache.Max = opts.CacheSize
	if k.cache.Max <= 0 {
		k.cache.Max = 100_000
	}
	k.rewrapBatch, k.rewrapRate = opts.RewrapBatch, opts.RewrapRate
	if k.rewrapBatch <= 0 {
		k.rewrapBatch = DefaultRewrapBatch
	}

	var missing []string
	for _, purpose := range []string{hrgate.PurposeKEK, hrgate.PurposeIndex} {
		ws, err := store.Keys(ctx, purpose)
		if err != nil {
			return nil, fmt.Errorf("keyring: read keys: %w", err)
		}
		if len(ws) == 0 {
			missing = append(missing, purpose)
		}
	}
	var err error
	if len(missing) == 2 {
		if err := k.createID(ctx); err != nil {
			return nil, err
		}
	} else if k.id, err = store.KeyringID(ctx, ""); err != nil {
		return nil, fmt.Errorf("keyring: read keyring id: %w", err)
	} else if err := k.check(ctx); err != nil {
		// The keys there are must open before anything is added: a wrong
		// root key writes nothing.
		return nil, err
	}
	// A purpose without keys is new, or its first key was lost to a crash
	// at the first start, between the two inserts.
	for _, purpose := range missing {
		if err := k.insertKey(ctx, purpose, 1); err != nil && hrgate.ErrorCode(err) != hrgate.ECONFLICT {
			return nil, err
		}
	}
	if len(missing) == 2 {
		k.log.Info("created a new keyring", "keyring", k.id, "root", k.provider.ID())
	}
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// createID gives a new keyring its id. Several instances may race; the
// store keeps the first id and returns it to all.
func (k *Keyring) createID(ctx context.Context) error {
	var raw [16]byte
	if _, err := io.ReadFull(k.random, raw[:]); err != nil {
		return fmt.Errorf("keyring: generate id: %w", err)
	}
	id, err := k.store.KeyringID(ctx, "kr_"+base64.RawURLEncoding.EncodeToString(raw[:]))
	if err != nil {
		return fmt.Errorf("keyring: create keyring id: %w", err)
	}
	k.id = id
	return nil
}

// check unwraps every key the store holds, of both purposes.
func (k *Keyring) check(ctx context.Context) error {
	for _, purpose := range []string{hrgate.PurposeKEK, hrgate.PurposeIndex} {
		us, err := k.unwrapAll(ctx, purpose)
		if err != nil {
			return err
		}
		for _, u := range us {
			clear(u.raw)
		}
	}
	return nil
}

// insertKey generates, wraps and stores version v of a keyring key.
func (k *Keyring) insertKey(ctx context.Context, purpose string, v int) error {
	raw := make([]byte, 32)
	defer clear(raw) // Refresh reads it back from the store
	if _, err := io.ReadFull(k.random, raw); err != nil {
		return fmt.Errorf("keyring: generate %s key: %w", purpose, err)
	}
	wrapped, err := k.provider.Wrap(ctx, raw, k.keyAAD(purpose, v))
	if err != nil {
		return fmt.Errorf("keyring: wrap %s key: %w", purpose, err)
	}
	return k.store.InsertKey(ctx, &hrgate.WrappedKey{
		Purpose: purpose, Version: v, WrappedBy: k.provider.ID(), Wrapped: wrapped,
		State: hrgate.KeyActive, CreatedAt: k.now(),
	})
}

// keyAAD binds a wrapped keyring key to this keyring, its purpose and its
// version: a wrapping copied to another slot or keyring does not unwrap.
func (k *Keyring) keyAAD(purpose string, v int) []byte {
	return appendParts(nil, "hrgate/keyring/v1", k.id, purpose, fmt.Sprint(v))
}

// ID returns the keyring's id, which data stores record so that they are
// never opened with another keyring.
func (k *Keyring) ID() string { return k.id }

// Refresh reads the key-encryption and index keys again, so that versions
// another instance created or retired are known here. An unwrap failure
// means the root key is not the one the store was created with.
func (k *Keyring) Refresh(ctx context.Context) error {
	keks, err := k.unwrapAll(ctx, hrgate.PurposeKEK)
	if err != nil {
		return err
	}
	idx, err := k.unwrapAll(ctx, hrgate.PurposeIndex)
	if err != nil {
		return err
	}
	if len(keks) == 0 || len(idx) == 0 {
		return errors.New("keyring: the key store has no active key; it is damaged or was tampered with")
	}
	aeads := make(map[int]cipher.AEAD, len(keks))
	active := 0
	for _, u := range keks {
		a, err := newAEAD(u.raw)
		clear(u.raw) // the cipher keeps its own expanded copy
		if err != nil {
			return err
		}
		aeads[u.version] = a
		if u.state == hrgate.KeyActive && u.version > active {
			active = u.version
		}
	}
	if active == 0 {
		return errors.New("keyring: no key-encryption key is active; run hrgate keyring rotate")
	}
	index := make([]indexKey, 0, len(idx))
	// Newest active first: it computes the stored index; the others are
	// searched during a rotation.
	for i := len(idx) - 1; i >= 0; i-- {
		index = append(index, indexKey{version: idx[i].version, key: idx[i].raw, active: idx[i].state == hrgate.KeyActive})
	}
	k.mu.Lock()
	k.keks, k.kek, k.index = aeads, active, index
	k.mu.Unlock()
	return nil
}

type unwrapped struct {
	version int
	state   hrgate.KeyState
	raw     []byte
}

func (k *Keyring) unwrapAll(ctx context.Context, purpose string) ([]unwrapped, error) {
	ws, err := k.store.Keys(ctx, purpose)
	if err != nil {
		return nil, fmt.Errorf("keyring: read %s keys: %w", purpose, err)
	}
	var out []unwrapped
	for _, w := range ws {
		if w.State == hrgate.KeyRetired {
			continue
		}
		if w.WrappedBy != k.provider.ID() {
			return nil, fmt.Errorf("keyring: the key store was created with master key %s, but the master key given is %s; "+
				"set keyring.key_file or HRGATE_MASTER_KEY to the key this key store was created with", w.WrappedBy, k.provider.ID())
		}
		raw, err := k.provider.Unwrap(ctx, w.Wrapped, k.keyAAD(purpose, w.Version))
		if err != nil {
			return nil, fmt.Errorf("keyring: the master key does not open %s key version %d of this key store: it is the wrong key, or the key store was tampered with", purpose, w.Version)
		}
		out = append(out, unwrapped{version: w.Version, state: w.State, raw: raw})
	}
	return out, nil
}

// The nonce and tag sizes of the AES-GCM instances newAEAD returns, the
// standard ones, known here so that the read path asks no interface.
const gcmNonceSize, gcmTagSize = 12, 16

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return cipher.NewGCM(block)
}

// appendParts appends each part with a length prefix, so that no two
// lists of parts encode alike.
func appendParts(dst []byte, parts ...string) []byte {
	for _, p := range parts {
		dst = binary.AppendUvarint(dst, uint64(len(p)))
		dst = append(dst, p...)
	}
	return dst
}

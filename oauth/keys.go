package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hrgate/hrgate"
)

// Signing algorithms hrgate signs access tokens with.
const (
	EdDSA = string(jose.EdDSA)
	ES256 = string(jose.ES256)
)

// keySet manages the token signing keys shared by every instance through
// the store. Key k signs from ActivatesAt until RetiresAt; its successor is
// created publishAhead before that, so that every instance has loaded it
// (they reload at least every refreshEvery) and every client that caches
// the JWKS has seen it before the first token it signs arrives. A retired
// key stays published for retain (the longest token lifetime plus clock
// leeway) after it stops signing.
type keySet struct {
	store        hrgate.SigningKeyStore
	alg          jose.SignatureAlgorithm
	rotation     time.Duration
	publishAhead time.Duration
	retain       time.Duration
	refreshEvery time.Duration
	now          func() time.Time
	random       io.Reader

	// mu serialises reloads and rotations within the process; the store's
	// unique generation serialises them between processes.
	mu    sync.Mutex
	state atomic.Pointer[keyState]
	// lastMiss is when an unknown kid last forced a reload (under mu): a
	// flood of made-up kids must not become a flood of queries.
	lastMiss time.Time
}

// keyState is an immutable snapshot of the loaded keys.
type keyState struct {
	// version changes only when the set of published keys does, so that a
	// periodic reload that finds nothing new keeps verified tokens cached.
	version  uint64
	loadedAt time.Time
	keys     []*signingKey // by generation
	byID     map[string]*signingKey
	jwks     []byte
}

// signingKey is a loaded key: parsed once, used for every token.
type signingKey struct {
	id        string
	alg       jose.SignatureAlgorithm
	activates time.Time
	retires   time.Time
	signer    jose.Signer
	public    crypto.PublicKey
}

// missReloadInterval bounds reloads forced by unknown key ids.
const missReloadInterval = 5 * time.Second

// current returns the loaded keys, reloading them when stale.
func (ks *keySet) current(ctx context.Context, now time.Time) (*keyState, error) {
	if st := ks.state.Load(); st != nil && !ks.stale(st, now) {
		return st, nil
	}
	return ks.reload(ctx, now, false)
}

// signer returns the key that signs at now, rotating first when the
// schedule says so.
func (ks *keySet) signer(ctx context.Context, now time.Time) (*signingKey, error) {
	st, err := ks.current(ctx, now)
	if err != nil {
		return nil, err
	}
	if k := st.active(now); k != nil {
		return k, nil
	}
	return nil, errors.New("oauth: no signing key is active")
}

// verifier returns the published key with the given id, or nil. An unknown
// id forces a reload, at most once per missReloadInterval: it may be the
// first token of a key another instance created a moment ago.
func (ks *keySet) verifier(ctx context.Context, now time.Time, kid string) (*signingKey, error) {
	st, err := ks.current(ctx, now)
	if err != nil {
		return nil, err
	}
	if k := st.byID[kid]; k != nil {
		return k, nil
	}
	ks.mu.Lock()
	due := now.Sub(ks.lastMiss) >= missReloadInterval || now.Before(ks.lastMiss)
	if due {
		ks.lastMiss = now
	}
	ks.mu.Unlock()
	if !due {
		return nil, nil
	}
	if st, err = ks.reload(ctx, now, true); err != nil {
		return nil, err
	}
	return st.byID[kid], nil
}

// stale reports whether st must be reloaded: it is old, a key it holds
// left publication, or the schedule calls for a new key.
func (ks *keySet) stale(st *keyState, now time.Time) bool {
	if now.Sub(st.loadedAt) >= ks.refreshEvery || now.Before(st.loadedAt) {
		return true
	}
	if len(st.keys) == 0 {
		return true
	}
	last := st.keys[len(st.keys)-1]
	if !now.Before(last.retires.Add(-ks.publishAhead)) {
		return true
	}
	return !now.Before(st.keys[0].retires.Add(ks.retain))
}

// reload reads the keys, adds the next one when the schedule calls for it,
// and publishes a new snapshot.
// force reloads even a fresh snapshot.
func (ks *keySet) reload(ctx context.Context, now time.Time, force bool) (*keyState, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if st := ks.state.Load(); st != nil && !force && !ks.stale(st, now) {
		// Another goroutine reloaded while this one waited for mu.
		return st, nil
	}
	var recs []*hrgate.SigningKey
	for attempt := 0; ; attempt++ {
		var err error
		if recs, err = ks.store.SigningKeys(ctx); err != nil {
			return nil, err
		}
		next, err := ks.next(now, recs)
		if err != nil {
			return nil, err
		}
		if next == nil {
			break
		}
		err = ks.store.InsertSigningKey(ctx, next)
		if err == nil {
			// Best effort: a key left behind by a failed purge is only
			// a little dead weight in the JWKS until the next rotation.
			_, _ = ks.store.DeleteSigningKeys(ctx, now.Add(-ks.retain-24*time.Hour))
			continue
		}
		// ECONFLICT: another instance added this generation first. Read
		// what it added instead.
		if hrgate.ErrorCode(err) != hrgate.ECONFLICT || attempt >= 3 {
			return nil, err
		}
	}
	st, err := ks.snapshot(now, recs, ks.state.Load())
	if err != nil {
		return nil, err
	}
	ks.state.Store(st)
	return st, nil
}

// next returns the key to add at now, or nil when none is due: the first
// key, a key to replace one that retired while nothing rotated (both sign
// at once, unannounced, which only matters to instances that have not
// reloaded yet, and they reload on the unknown kid), or the scheduled
// successor, announced publishAhead before it signs.
func (ks *keySet) next(now time.Time, recs []*hrgate.SigningKey) (*hrgate.SigningKey, error) {
	var (
		gen       int64 = 1
		activates       = now
	)
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		gen = last.Generation + 1
		switch {
		case !now.Before(last.RetiresAt):
		case !now.Before(last.RetiresAt.Add(-ks.publishAhead)):
			activates = last.RetiresAt
		default:
			return nil, nil
		}
	}
	priv, pub, err := ks.generate()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("oauth: encode signing key: %w", err)
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &hrgate.SigningKey{
		ID: kid, Generation: gen, Algorithm: string(ks.alg), PrivateKey: der,
		CreatedAt: now, ActivatesAt: activates, RetiresAt: activates.Add(ks.rotation),
	}, nil
}

func (ks *keySet) generate() (crypto.Signer, crypto.PublicKey, error) {
	switch ks.alg {
	case jose.EdDSA:
		pub, priv, err := ed25519.GenerateKey(ks.random)
		if err != nil {
			return nil, nil, fmt.Errorf("oauth: generate Ed25519 key: %w", err)
		}
		return priv, pub, nil
	case jose.ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), ks.random)
		if err != nil {
			return nil, nil, fmt.Errorf("oauth: generate P-256 key: %w", err)
		}
		return priv, &priv.PublicKey, nil
	}
	return nil, nil, fmt.Errorf("oauth: unsupported signing algorithm %q", ks.alg)
}

// snapshot parses the stored keys still published at now. Keys already in
// prev are reused as they are, and when the set is unchanged the snapshot
// keeps prev's version.
func (ks *keySet) snapshot(now time.Time, recs []*hrgate.SigningKey, prev *keyState) (*keyState, error) {
	st := &keyState{loadedAt: now, byID: make(map[string]*signingKey)}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	reused := 0
	for _, rec := range recs {
		if !now.Before(rec.RetiresAt.Add(ks.retain)) {
			continue
		}
		var k *signingKey
		if prev != nil {
			if old := prev.byID[rec.ID]; old != nil && old.activates.Equal(rec.ActivatesAt) && old.retires.Equal(rec.RetiresAt) {
				k = old
				reused++
			}
		}
		if k == nil {
			var err error
			if k, err = loadKey(rec); err != nil {
				return nil, err
			}
		}
		st.keys = append(st.keys, k)
		st.byID[k.id] = k
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.public, KeyID: k.id, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("oauth: encode JWKS: %w", err)
	}
	st.jwks = b
	switch {
	case prev == nil:
		st.version = 1
	case reused == len(prev.keys) && reused == len(st.keys):
		st.version = prev.version
	default:
		st.version = prev.version + 1
	}
	return st, nil
}

// loadKey parses a stored key and checks that its key type is the one its
// algorithm needs, so that a damaged row cannot make a key sign or verify
// with another algorithm.
func loadKey(rec *hrgate.SigningKey) (*signingKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("oauth: signing key %s: %w", rec.ID, err)
	}
	var (
		priv crypto.Signer
		pub  crypto.PublicKey
		alg  = jose.SignatureAlgorithm(rec.Algorithm)
	)
	switch p := parsed.(type) {
	case ed25519.PrivateKey:
		priv, pub = p, p.Public()
		if alg != jose.EdDSA {
			return nil, fmt.Errorf("oauth: signing key %s is Ed25519 but stored for %s", rec.ID, alg)
		}
	case *ecdsa.PrivateKey:
		priv, pub = p, &p.PublicKey
		if alg != jose.ES256 || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("oauth: signing key %s is ECDSA but not P-256 for ES256", rec.ID)
		}
	default:
		return nil, fmt.Errorf("oauth: signing key %s has unsupported type %T", rec.ID, parsed)
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return nil, err
	}
	if kid != rec.ID {
		return nil, fmt.Errorf("oauth: signing key %s does not match its id", rec.ID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(TokenType))
	if err != nil {
		return nil, fmt.Errorf("oauth: signing key %s: %w", rec.ID, err)
	}
	return &signingKey{id: kid, alg: alg, activates: rec.ActivatesAt, retires: rec.RetiresAt, signer: signer, public: pub}, nil
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key,
// base64url-encoded: a key id that names the key itself.
func thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("oauth: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// active returns the key that signs at now: the newest one whose window
// contains now.
func (st *keyState) active(now time.Time) *signingKey {
	for i := len(st.keys) - 1; i >= 0; i-- {
		k := st.keys[i]
		if !now.Before(k.activates) && now.Before(k.retires) {
			return k
		}
	}
	return nil
}

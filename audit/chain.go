package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/hrgate/hrgate"
)

// The chain (docs/audit.md):
//
//	hash(n) = SHA-256("hrgate.audit.event.v1" 0x00 || seq(n) || hash(n-1) || body(n))
//	mac(n)  = HMAC-SHA256(chain key, "hrgate.audit.mac.v1" 0x00 || hash(n))
//	head    = HMAC-SHA256(chain key, "hrgate.audit.head.v1" 0x00 || seq || time || hash)
//
// with seq as uint64 and time as int64 microseconds, big-endian, and
// hash(0) 32 zero bytes. The hash links each event to all before it, so
// an event deleted, inserted or moved breaks the link after it; the MAC
// makes a rewritten stretch of chain useless to anyone without the chain
// key; the head's MAC makes a cut-off tail show. Because the hash binds the
// sequence number, the MAC of one event proves its content and position.
const (
	eventDomain = "hrgate.audit.event.v1\x00"
	macDomain   = "hrgate.audit.mac.v1\x00"
	headDomain  = "hrgate.audit.head.v1\x00"
)

// HashSize is the length of event hashes and MACs.
const HashSize = sha256.Size

// Secret names of the keys in the data store's secret vault: separate from
// the data keys and the cursor key, so that none can stand in for another.
const (
	ChainKeyName      = "audit_chain_key"
	CheckpointKeyName = "audit_checkpoint_key"
)

// Keys are the audit trail's secrets: the chain key, which MACs events
// and the head, and the checkpoint signing key.
type Keys struct {
	chain  []byte
	signer ed25519.PrivateKey
	// Public verifies checkpoints; it may be given to anyone.
	Public ed25519.PublicKey
}

// LoadKeys reads the audit keys from the data store's secret vault,
// creating them at first use. Every instance on the same data store
// shares them.
func LoadKeys(ctx context.Context, secrets hrgate.SecretStore) (*Keys, error) {
	random := func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	}
	chain, err := secrets.Secret(ctx, ChainKeyName, random)
	if err != nil {
		return nil, fmt.Errorf("load the audit chain key: %w", err)
	}
	seed, err := secrets.Secret(ctx, CheckpointKeyName, random)
	if err != nil {
		return nil, fmt.Errorf("load the audit checkpoint key: %w", err)
	}
	return NewKeys(chain, seed)
}

// NewKeys returns the keys made of a 32-byte chain key and a 32-byte
// Ed25519 seed.
func NewKeys(chainKey, signingSeed []byte) (*Keys, error) {
	if len(chainKey) != 32 || len(signingSeed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit keys must be 32 bytes each, got %d and %d", len(chainKey), len(signingSeed))
	}
	sign := ed25519.NewKeyFromSeed(signingSeed)
	return &Keys{chain: chainKey, signer: sign, Public: sign.Public().(ed25519.PublicKey)}, nil
}

// hasher computes chain hashes and MACs with reusable state: one per
// goroutine.
type hasher struct {
	sha hash.Hash
	mac hash.Hash
	buf [8]byte
}

func (k *Keys) newHasher() *hasher {
	return &hasher{sha: sha256.New(), mac: hmac.New(sha256.New, k.chain)}
}

// eventHash appends hash(seq) to dst.
func (h *hasher) eventHash(dst []byte, seq int64, prev, body []byte) []byte {
	h.sha.Reset()
	h.sha.Write([]byte(eventDomain))
	binary.BigEndian.PutUint64(h.buf[:], uint64(seq)) // #nosec G115 -- sequence numbers are positive.
	h.sha.Write(h.buf[:])
	h.sha.Write(prev)
	h.sha.Write(body)
	return h.sha.Sum(dst)
}

// eventMAC appends the MAC of an event hash to dst.
func (h *hasher) eventMAC(dst, eventHash []byte) []byte {
	h.mac.Reset()
	h.mac.Write([]byte(macDomain))
	h.mac.Write(eventHash)
	return h.mac.Sum(dst)
}

// headMAC returns the MAC of a head.
func (h *hasher) headMAC(head hrgate.AuditHead) []byte {
	h.mac.Reset()
	h.mac.Write([]byte(headDomain))
	binary.BigEndian.PutUint64(h.buf[:], uint64(head.Seq)) // #nosec G115 -- sequence numbers are positive.
	h.mac.Write(h.buf[:])
	binary.BigEndian.PutUint64(h.buf[:], uint64(head.Time.UnixMicro())) // #nosec G115 -- two's complement.
	h.mac.Write(h.buf[:])
	h.mac.Write(head.Hash)
	return h.mac.Sum(nil)
}

// prevOf returns the hash an event after head links to.
func prevOf(head hrgate.AuditHead) []byte {
	if head.Seq == 0 {
		return make([]byte, HashSize)
	}
	return head.Hash
}

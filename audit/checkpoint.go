package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hrgate/hrgate"
)

// A checkpoint is a signed statement that the chain's event Seq had hash
// HeadHash at Time. The log appends one as an audit.checkpoint event (the
// statement in its After, covering the event just before it) every
// checkpoint interval, and `hrgate audit checkpoint` exports one to a file
// kept away from the database: verified against that file, a trail that
// was cut off or rewritten after Seq fails even if the chain key leaked.
//
// The signature is Ed25519 over
//
//	"hrgate.audit.checkpoint.v1" 0x00 || seq || head hash || time
//
// with seq as uint64 and time as int64 microseconds, big-endian.
type Checkpoint struct {
	Seq      int64     `json:"seq"`
	HeadHash HexBytes  `json:"head_hash"`
	Time     time.Time `json:"time"`
	// KeyID names the signing key: the first 8 bytes of the SHA-256 of
	// PublicKey, in hex.
	KeyID     string `json:"key_id"`
	PublicKey []byte `json:"public_key"`
	Signature []byte `json:"signature"`
}

// HexBytes is a byte string written in JSON as hex, the way hashes are
// usually shown.
type HexBytes []byte

// MarshalJSON implements json.Marshaler.
func (h HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// UnmarshalJSON implements json.Unmarshaler.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

const checkpointDomain = "hrgate.audit.checkpoint.v1\x00"

func checkpointMessage(seq int64, head []byte, t time.Time) []byte {
	msg := make([]byte, 0, len(checkpointDomain)+16+len(head))
	msg = append(msg, checkpointDomain...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(seq)) // #nosec G115 -- sequence numbers are positive.
	msg = append(msg, head...)
	return binary.BigEndian.AppendUint64(msg, uint64(t.UnixMicro())) // #nosec G115 -- two's complement.
}

// keyID names a checkpoint public key.
func keyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// sign returns the checkpoint of (seq, head) at t.
func (k *Keys) sign(seq int64, head []byte, t time.Time) *Checkpoint {
	return &Checkpoint{
		Seq: seq, HeadHash: bytes.Clone(head), Time: t, KeyID: keyID(k.Public), PublicKey: bytes.Clone(k.Public),
		Signature: ed25519.Sign(k.signer, checkpointMessage(seq, head, t)),
	}
}

// Check verifies c's signature under pub, the key the verifier trusts, and
// that c names that key. Its error says what is wrong.
func (c *Checkpoint) Check(pub ed25519.PublicKey) error {
	if !bytes.Equal(c.PublicKey, pub) {
		return fmt.Errorf("the checkpoint was signed by key %s, not by this trail's key %s", keyID(c.PublicKey), keyID(pub))
	}
	if c.Seq < 1 || len(c.HeadHash) != HashSize {
		return fmt.Errorf("the checkpoint is malformed")
	}
	if !ed25519.Verify(pub, checkpointMessage(c.Seq, c.HeadHash, c.Time), c.Signature) {
		return fmt.Errorf("the checkpoint's signature does not verify")
	}
	return nil
}

// ParseCheckpoint reads a checkpoint in JSON, as exported or as stored in a
// checkpoint event's After. It checks the form, not the signature.
func ParseCheckpoint(b []byte) (*Checkpoint, error) {
	var c Checkpoint
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The checkpoint is not valid checkpoint JSON: %v.", err)
	}
	if c.Seq < 1 || len(c.HeadHash) != HashSize || len(c.PublicKey) != ed25519.PublicKeySize ||
		len(c.Signature) != ed25519.SignatureSize || c.Time.IsZero() {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The checkpoint lacks a field or has one of the wrong size.")
	}
	c.Time = c.Time.UTC()
	return &c, nil
}

// WriteTo writes c as indented JSON, the export format.
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return 0, err
	}
	n, err := w.Write(append(b, '\n'))
	return int64(n), err
}

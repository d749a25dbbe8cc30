package sqlstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hrgate/hrgate"
)

// A frame of the audit journal is one append: the sealed rows of one
// batch and the head after them. It is the unit of atomicity, as a
// transaction was: a frame is in the journal whole or, cut off by a
// crash in the middle of its write, not at all.
//
//	length  uint32, big-endian: the length of the payload
//	crc     uint32, big-endian: CRC-32C (Castagnoli) of the payload
//	payload version byte (1), uvarint row count, the rows, the head
//
// A row is seq (uvarint), time in microseconds (varint), then type,
// consumer id, credential id, the record ids (uvarint count, then each),
// body, previous hash, hash and MAC, each as uvarint length and bytes. The
// head is seq, time, hash and MAC the same way. A frame without rows
// states the head the journal starts from (a base frame).
const (
	frameHeader     = 8
	frameVersion    = 1
	maxFramePayload = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame is one decoded frame of the journal.
type frame struct {
	rows []*hrgate.AuditRow
	head hrgate.AuditHead
	// end is the offset just past the frame in the journal.
	end int64
}

// start returns the sequence number and hash of the head the frame
// extends.
func (f *frame) start() (int64, []byte) {
	if len(f.rows) == 0 {
		return f.head.Seq, f.head.Hash
	}
	return f.rows[0].Seq - 1, f.rows[0].PrevHash
}

// appendFrame appends to dst the frame of rows followed by head.
func appendFrame(dst []byte, rows []*hrgate.AuditRow, head hrgate.AuditHead) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeader)...)
	dst = append(dst, frameVersion)
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	for _, r := range rows {
		dst = binary.AppendUvarint(dst, uint64(r.Seq))
		dst = binary.AppendVarint(dst, r.Time.UnixMicro())
		dst = appendField(dst, []byte(r.Type))
		dst = appendField(dst, []byte(r.ConsumerID))
		dst = appendField(dst, []byte(r.CredentialID))
		dst = binary.AppendUvarint(dst, uint64(len(r.RecordIDs)))
		for _, id := range r.RecordIDs {
			dst = appendField(dst, []byte(id))
		}
		dst = appendField(dst, r.Body)
		dst = appendField(dst, r.PrevHash)
		dst = appendField(dst, r.Hash)
		dst = appendField(dst, r.MAC)
	}
	dst = binary.AppendUvarint(dst, uint64(head.Seq))
	dst = binary.AppendVarint(dst, headMicros(head.Time))
	dst = appendField(dst, head.Hash)
	dst = appendField(dst, head.MAC)
	payload := dst[start+frameHeader:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

func appendField(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// headMicros is the head's time as the head row keeps it: 0 for none.
func headMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// errTorn reports a frame cut off, or damaged, where it stops being
// readable: the journal's end is the frame before it.
var errTorn = errors.New("torn audit journal frame")

// parseFrames decodes the frames of data, which starts at offset base of
// the journal. It returns the frames whole and valid, and the offset where
// they end: when that is short of base+len(data), the rest is torn. A
// frame whose checksum holds but whose content does not decode, or does
// not follow the frame before it, is an error: no crash makes one.
func parseFrames(data []byte, base int64) ([]frame, int64, error) {
	var frames []frame
	off := 0
	for off < len(data) {
		f, n, err := parseFrame(data[off:])
		if errors.Is(err, errTorn) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("audit journal frame at byte %d: %w", base+int64(off), err)
		}
		off += n
		f.end = base + int64(off)
		if len(frames) > 0 {
			if err := follows(&frames[len(frames)-1], &f); err != nil {
				return nil, 0, err
			}
		}
		frames = append(frames, f)
	}
	return frames, base + int64(off), nil
}

// parseFrame decodes the frame at the start of b and returns its length.
func parseFrame(b []byte) (frame, int, error) {
	if len(b) < frameHeader {
		return frame{}, 0, errTorn
	}
	n := binary.BigEndian.Uint32(b)
	if n > maxFramePayload || int64(n) > int64(len(b)-frameHeader) {
		return frame{}, 0, errTorn
	}
	payload := b[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return frame{}, 0, errTorn
	}
	f, err := decodeFrame(payload)
	return f, frameHeader + int(n), err
}

func decodeFrame(p []byte) (frame, error) {
	d := decoder{b: p}
	if v := d.byte(); v != frameVersion {
		return frame{}, fmt.Errorf("unknown frame version %d", v)
	}
	count := d.uvarint()
	// Each row takes more than a byte: a count beyond the payload is
	// damage, not a reason to allocate.
	if count > uint64(len(d.b)) {
		return frame{}, errors.New("row count beyond the frame")
	}
	f := frame{rows: make([]*hrgate.AuditRow, 0, count)}
	for range count {
		r := &hrgate.AuditRow{Seq: int64(d.uvarint())}
		r.Time = time.UnixMicro(d.varint()).UTC()
		r.Type = string(d.field())
		r.ConsumerID = string(d.field())
		r.CredentialID = string(d.field())
		ids := d.uvarint()
		if ids > uint64(len(d.b)) {
			return frame{}, errors.New("record count beyond the frame")
		}
		if ids > 0 {
			r.RecordIDs = make([]string, ids)
			for i := range r.RecordIDs {
				r.RecordIDs[i] = string(d.field())
			}
		}
		r.Body, r.PrevHash, r.Hash, r.MAC = d.field(), d.field(), d.field(), d.field()
		if d.err != nil {
			return frame{}, d.err
		}
		f.rows = append(f.rows, r)
	}
	f.head.Seq = int64(d.uvarint())
	if t := d.varint(); t != 0 {
		f.head.Time = time.UnixMicro(t).UTC()
	}
	f.head.Hash, f.head.MAC = d.field(), d.field()
	if d.err != nil {
		return frame{}, d.err
	}
	if len(d.b) != 0 {
		return frame{}, errors.New("trailing bytes")
	}
	prev, prevHash := f.start()
	for _, r := range f.rows {
		if r.Seq != prev+1 || !bytes.Equal(r.PrevHash, prevHash) {
			return frame{}, fmt.Errorf("event %d does not follow event %d", r.Seq, prev)
		}
		prev, prevHash = r.Seq, r.Hash
	}
	if f.head.Seq != prev || !bytes.Equal(f.head.Hash, prevHash) || f.head.Seq < 0 {
		return frame{}, fmt.Errorf("the head (event %d) does not follow the events", f.head.Seq)
	}
	return f, nil
}

// follows checks that b extends the chain where a leaves it.
func follows(a, b *frame) error {
	seq, hash := b.start()
	if seq != a.head.Seq || !links(seq, hash, a.head.Hash) {
		return linkError(a.head.Seq+1, "the audit journal's frames do not link")
	}
	return nil
}

// links reports whether two hashes name the same position seq of the
// chain. Before the first event the head holds no hash and the first
// event's previous hash is zeros: both mean "nothing".
func links(seq int64, a, b []byte) bool {
	if seq == 0 {
		return isZeros(a) && isZeros(b)
	}
	return bytes.Equal(a, b)
}

func isZeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// linkError is the refusal of a journal that does not extend the chain.
func linkError(seq int64, what string) error {
	return hrgate.Errorf(hrgate.EINTERNAL,
		"%s at event %d: events are missing or were altered. Run `hrgate audit verify` and compare with the newest exported checkpoint; "+
			"nothing is appended until this is resolved.", what, seq)
}

// decoder reads the fields of a payload; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("frame payload too short")

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > 1<<62 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) field() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

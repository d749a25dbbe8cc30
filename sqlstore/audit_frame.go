package sqlstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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

// readFrames decodes the frames r holds, size bytes that start at offset
// base of the journal, and hands each whole and valid one to fn, in order.
// It returns the offset where they end: when that is short of base+size,
// the rest is torn. A frame whose checksum holds but whose content does
// not decode, or does not follow the frame before it, is an error: no
// crash makes one. Frames are read one at a time, so that a journal,
// damaged or not, costs memory only for what fn keeps of it.
func readFrames(r io.Reader, base, size int64, fn func(frame) error) (int64, error) {
	br := bufio.NewReader(r)
	var (
		hdr  [frameHeader]byte
		off  int64
		prev hrgate.AuditHead
	)
	for off < size {
		if size-off < frameHeader {
			break
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return 0, fmt.Errorf("sqlstore: read the audit journal: %w", err)
		}
		// The length is checked against what the file holds before
		// anything is allocated for it.
		n := int64(binary.BigEndian.Uint32(hdr[:]))
		if n > maxFramePayload || n > size-off-frameHeader {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return 0, fmt.Errorf("sqlstore: read the audit journal: %w", err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		f, err := decodeFrame(payload)
		if err != nil {
			return 0, fmt.Errorf("audit journal frame at byte %d: %w", base+off, err)
		}
		if off > 0 {
			if err := follows(prev, &f); err != nil {
				return 0, err
			}
		}
		off += frameHeader + n
		f.end = base + off
		prev = f.head
		if err := fn(f); err != nil {
			return 0, err
		}
	}
	return base + off, nil
}

// minRowSize is the fewest bytes a row takes in a frame: a byte for each
// number and length, and the three hashes of its seal. A row count is
// bounded by it, so that a damaged count cannot make the decoder
// allocate many times the frame.
const minRowSize = 7 + sealSize + 3

func decodeFrame(p []byte) (frame, error) {
	d := decoder{b: p}
	if v := d.byte(); v != frameVersion {
		return frame{}, fmt.Errorf("unknown frame version %d", v)
	}
	count := d.uvarint()
	if count > uint64(len(d.b)/minRowSize) {
		return frame{}, errors.New("row count beyond the frame")
	}
	f := frame{rows: make([]*hrgate.AuditRow, 0, count)}
	// The rows of a frame are allocated together, and a search column
	// that repeats the row before's (the same consumer's requests, one
	// after another) shares its string.
	rows := make([]hrgate.AuditRow, count)
	var last hrgate.AuditRow
	for i := range rows {
		r := &rows[i]
		r.Seq = int64(d.uvarint())
		r.Time = time.UnixMicro(d.varint()).UTC()
		r.Type = reuse(d.field(), last.Type)
		r.ConsumerID = reuse(d.field(), last.ConsumerID)
		r.CredentialID = reuse(d.field(), last.CredentialID)
		// A record id takes a byte at least, and the rest of the row
		// its body length and seal.
		ids := d.uvarint()
		if ids > uint64(max(len(d.b)-1-sealSize-3, 0)) {
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
		// The seal column holds the three hashes at fixed widths: a row
		// with others could not be stored, and no append writes one.
		if len(r.PrevHash) != sealSize/3 || len(r.Hash) != sealSize/3 || len(r.MAC) != sealSize/3 {
			return frame{}, fmt.Errorf("event %d has a hash of the wrong size", r.Seq)
		}
		f.rows = append(f.rows, r)
		last = *r
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

// reuse returns b as a string: s when it holds the same bytes.
func reuse(b []byte, s string) string {
	if string(b) == s {
		return s
	}
	return string(b)
}

// follows checks that b extends the chain where head, the end of the
// frame before it, leaves it.
func follows(head hrgate.AuditHead, b *frame) error {
	seq, hash := b.start()
	if seq != head.Seq || !links(seq, hash, head.Hash) {
		return linkError(head.Seq+1, "the audit journal's frames do not link")
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

package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"slices"

	"github.com/hrgate/hrgate"
)

// Reader reads the trail as events, each checked against its hash and MAC
// on the way out: a tampered event is an error, never an answer. It
// implements hrgate.AuditReader and is safe for concurrent use.
type Reader struct {
	store hrgate.AuditStore
	keys  *Keys
}

var _ hrgate.AuditReader = (*Reader)(nil)

// NewReader returns a reader of the trail in store.
func NewReader(store hrgate.AuditStore, keys *Keys) *Reader {
	return &Reader{store: store, keys: keys}
}

// AuditEvents implements hrgate.AuditReader.
func (r *Reader) AuditEvents(ctx context.Context, afterSeq int64, limit int) ([]*hrgate.AuditEvent, error) {
	rows, err := r.store.AuditRows(ctx, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	return r.events(rows, nil)
}

// FindAuditEvents implements hrgate.AuditReader. The store's search
// columns only pre-select: each event is matched again on its verified
// body, so an edited column cannot bring a wrong event into an answer.
func (r *Reader) FindAuditEvents(ctx context.Context, f hrgate.AuditFilter) ([]*hrgate.AuditEvent, error) {
	rows, err := r.store.FindAuditRows(ctx, f)
	if err != nil {
		return nil, err
	}
	return r.events(rows, &f)
}

func (r *Reader) events(rows []*hrgate.AuditRow, f *hrgate.AuditFilter) ([]*hrgate.AuditEvent, error) {
	h := r.keys.newHasher()
	out := make([]*hrgate.AuditEvent, 0, len(rows))
	var sum [2 * HashSize]byte
	for _, row := range rows {
		hash := h.eventHash(sum[:0], row.Seq, row.PrevHash, row.Body)
		mac := h.eventMAC(sum[HashSize:HashSize], hash)
		if !bytes.Equal(hash, row.Hash) || !equalMAC(mac, row.MAC) {
			return nil, tampered(row.Seq)
		}
		ev, err := Decode(row.Body)
		if err != nil {
			return nil, tampered(row.Seq)
		}
		ev.Seq, ev.PrevHash, ev.Hash, ev.MAC = row.Seq, row.PrevHash, row.Hash, row.MAC
		if f != nil && !matches(ev, f) {
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

func tampered(seq int64) error {
	return hrgate.Errorf(hrgate.EINTERNAL, "Audit event %d fails verification; run `hrgate audit verify`.", seq)
}

func equalMAC(a, b []byte) bool { return hmac.Equal(a, b) }

// matches reports whether ev satisfies f.
func matches(ev *hrgate.AuditEvent, f *hrgate.AuditFilter) bool {
	switch {
	case len(f.Types) > 0 && !slices.Contains(f.Types, ev.Type),
		f.ConsumerID != "" && ev.ConsumerID != f.ConsumerID,
		f.CredentialID != "" && ev.CredentialID != f.CredentialID,
		!f.From.IsZero() && ev.Time.Before(f.From),
		!f.To.IsZero() && !ev.Time.Before(f.To),
		f.RecordID != "" && !slices.Contains(ev.RecordIDs, f.RecordID):
		return false
	}
	return true
}

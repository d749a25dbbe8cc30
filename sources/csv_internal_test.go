package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
)

// failingTx is a sync transaction whose Records fails from its second
// call on; its writes are discarded.
type failingTx struct {
	hrgate.SyncTx
	calls int
}

var errStore = errors.New("the store failed")

func (t *failingTx) Records(context.Context, []string) (map[string]*hrgate.SyncRecord, error) {
	if t.calls++; t.calls > 1 {
		return nil, errStore
	}
	return map[string]*hrgate.SyncRecord{}, nil
}

func (t *failingTx) Insert(context.Context, []*hrgate.Employee) error           { return nil }
func (t *failingTx) Update(context.Context, []*hrgate.Employee) error           { return nil }
func (t *failingTx) AppendChanges(context.Context, []*hrgate.ChangeEvent) error { return nil }

// When applying a batch fails, applyFile returns that error, and the
// goroutine reading the file stops at its next read instead of parsing
// the rest of the file: both have ended when it returns.
func TestApplyFileStopsReadingOnError(t *testing.T) {
	var b strings.Builder
	b.WriteString("remote_id,first_name,last_name\r\n")
	const rows = 50 * batchSize
	for i := range rows {
		fmt.Fprintf(&b, "r%d,First,Last\r\n", i)
	}
	file := &countingReader{r: strings.NewReader(b.String())}
	tx := &failingTx{}
	src := &hrgate.Source{ID: "src_x", CompanyID: "com_x"}
	y := &syncer{svc: New(nil), tx: tx, src: src, run: &hrgate.SyncRun{}, now: time.Now(), problems: problemList{last: -1}}
	err := applyFile(context.Background(), y, file, ImportOptions{Mapping: DefaultMapping, MaxBytes: DefaultMaxBytes, MaxRows: DefaultMaxRows},
		"2026-11-21", rows)
	if !errors.Is(err, errStore) {
		t.Fatalf("applyFile = %v, want the store's error", err)
	}
	if tx.calls != 2 {
		t.Fatalf("%d batches applied after the failure", tx.calls-2)
	}
	if file.n >= int64(b.Len()/2) {
		t.Fatalf("%d of %d bytes read after the failure", file.n, b.Len())
	}
}

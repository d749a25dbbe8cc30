package audit

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
)

// gatedStore keeps the head of a trail in memory and holds each
// SyncAudit until the test lets it go, so that a test decides when a
// flush ends. It counts the events of each append. The other methods of
// hrgate.AuditStore are not called.
type gatedStore struct {
	hrgate.AuditStore
	syncing chan struct{} // receives as each SyncAudit starts
	release chan struct{} // a SyncAudit returns once it receives

	mu      sync.Mutex
	head    hrgate.AuditHead
	appends []int
}

func (s *gatedStore) AuditHead(context.Context) (hrgate.AuditHead, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head, nil
}

func (s *gatedStore) AppendAudit(_ context.Context, seal func(hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, next, err := seal(s.head)
	if err != nil {
		return err
	}
	s.head = next
	s.appends = append(s.appends, len(rows))
	return nil
}

func (s *gatedStore) SyncAudit(context.Context) error {
	s.syncing <- struct{}{}
	<-s.release
	return nil
}

func (s *gatedStore) appended() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.appends)
}

// linger waits for more events only when the batch before carried more
// than one (there is concurrency to wait for), and the events that come
// while it waits share the batch's flush. The test holds every flush
// and the timer that ends a wait, so that what it checks does not depend
// on how fast the machine is: each flush takes at least maxLinger, long
// enough to linger after, and a wait ends only when the test fires it.
func TestLinger(t *testing.T) {
	keys, err := NewKeys([]byte(strings.Repeat("c", 32)), []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	st := &gatedStore{syncing: make(chan struct{}), release: make(chan struct{})}
	l, err := Open(context.Background(), st, keys, Options{Instance: "linger"})
	if err != nil {
		t.Fatal(err)
	}
	arms := make(chan chan time.Time)
	// Set before the first event, which the writer receives after it.
	l.after = func(time.Duration) <-chan time.Time {
		fire := make(chan time.Time)
		arms <- fire
		return fire
	}

	// next returns what the writer does next: linger (the wait's timer,
	// to fire by closing it) or flush (nil).
	next := func(what string) chan time.Time {
		t.Helper()
		select {
		case fire := <-arms:
			return fire
		case <-st.syncing:
			return nil
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the writer neither lingered nor flushed", what)
			return nil
		}
	}
	release := func() {
		time.Sleep(maxLinger) // a flush slow enough to linger after
		st.release <- struct{}{}
	}
	flush := func(what string) {
		t.Helper()
		if next(what) != nil {
			t.Fatalf("%s: the writer lingered; want it to flush", what)
		}
		release()
	}
	event := func() *hrgate.AuditEvent {
		return &hrgate.AuditEvent{Type: hrgate.AuditConsumerUpdated, ActorKind: hrgate.ActorAdmin, Actor: "admin"}
	}
	record := func() chan error {
		done := make(chan error, 1)
		go func() { done <- l.Record(context.Background(), event()) }()
		return done
	}
	wait := func(what string, done ...chan error) {
		t.Helper()
		for _, d := range done {
			if err := <-d; err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}

	// Lone Records, one after another, each after a slow flush: none
	// lingers.
	for range 2 {
		done := record()
		flush("a lone Record")
		wait("a lone Record", done)
	}

	// Two events that come during a flush go in the next batch
	// together, and the batch after that has concurrency to wait for.
	b := record()
	if next("the Record before the concurrent ones") != nil {
		t.Fatal("a lone Record lingered")
	}
	l.Enqueue(event())
	l.Enqueue(event())
	release()
	wait("the Record before the concurrent ones", b)
	flush("the concurrent events")

	// A Record after them lingers, and one that comes meanwhile shares
	// its append and its flush.
	e := record()
	if next("the Record after the concurrent ones") == nil {
		t.Fatal("the Record after a batch of two did not linger")
	}
	f := record()
	if fire := next("the Record that came during the linger"); fire != nil {
		close(fire) // Time was left: it lingered on, until the timer fired.
		flush("the lingering batch")
	} else {
		release()
	}
	wait("the lingering batch", e, f)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := st.appended(), []int{1, 1, 1, 2, 2}; !slices.Equal(got, want) {
		t.Fatalf("events per append %v; want %v", got, want)
	}
}

package hrgate_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
)

// Ordered ids have the shape of any id, sort in the order they were made
// across milliseconds, and differ within one: their last 80 bits are
// random.
func TestNewOrderedID(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	first, err := hrgate.NewOrderedID(hrgate.PrefixEmployee, now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !hrgate.ValidID(hrgate.PrefixEmployee, first) {
		t.Fatalf("%q is not a valid employee id", first)
	}
	seen := map[string]bool{first: true}
	for range 1000 {
		id, err := hrgate.NewOrderedID(hrgate.PrefixEmployee, now, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
	}
	// The millisecond is in the first 48 bits: an id made a millisecond
	// later sorts after every one made before.
	later, err := hrgate.NewOrderedID(hrgate.PrefixEmployee, now.Add(time.Millisecond), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for id := range seen {
		if strings.Compare(id, later) >= 0 {
			t.Fatalf("%q made later sorts before %q", later, id)
		}
	}
	// Ten bytes come from random, in order, after the time.
	id, err := hrgate.NewOrderedID("x", now, bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
	if err != nil || !strings.HasSuffix(id, "zzzzzzzzzzzzzzzw") {
		t.Fatalf("random bits: %q, %v", id, err)
	}
	if _, err := hrgate.NewOrderedID("x", now, bytes.NewReader(nil)); err == nil {
		t.Fatal("an id without randomness")
	}
}

package bounded_test

import (
	"sync"
	"testing"

	"github.com/hrgate/hrgate/internal/bounded"
)

func TestMap(t *testing.T) {
	m := bounded.Map[string, int]{Max: 2}
	if _, ok := m.Get("a"); ok {
		t.Fatal("empty map has an entry")
	}
	m.Put("a", 1)
	m.Put("b", 2)
	if v, ok := m.Get("b"); !ok || v != 2 {
		t.Fatalf("Get(b) = %v, %v", v, ok)
	}
	m.Put("c", 3) // full: starts over
	if _, ok := m.Get("a"); ok {
		t.Fatal("a full map did not start over")
	}
	if v, ok := m.Get("c"); !ok || v != 3 {
		t.Fatalf("Get(c) = %v, %v", v, ok)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				m.Put(string(rune('a'+i)), j)
				m.Get("a")
			}
		})
	}
	wg.Wait()
}

// Package bounded is the one cache shape the authentication path uses: a
// concurrency-safe map that holds at most Max entries and, when full,
// starts over. Starting over costs only reloads, and no entry needs to be
// aged: each carries what makes it valid (an epoch, a key-set version) and
// its user checks that on every hit.
package bounded

import "sync"

// Map is a bounded map. Set Max before use; the zero Map with Max 0 keeps
// one entry at a time.
type Map[K comparable, V any] struct {
	Max int

	mu sync.RWMutex
	m  map[K]V
}

// Get returns the value stored under k.
func (c *Map[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

// Put stores v under k, first dropping every entry when the map is full.
func (c *Map[K, V]) Put(k K, v V) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= max(c.Max, 1) {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
}

// Delete removes the entry under k.
func (c *Map[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

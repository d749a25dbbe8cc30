package limits

// Queued returns how many decisions wait for a round trip of r.
func Queued(r *Redis) int {
	r.batcher.mu.Lock()
	defer r.batcher.mu.Unlock()
	return len(r.batcher.queue)
}

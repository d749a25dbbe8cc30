package sources

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

// The writes after a run's outcome outlive the caller's context, keep its
// values, and still end: a writer held elsewhere cannot hold them forever.
func TestAfterwards(t *testing.T) {
	caller, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "request"))
	cancel()
	ctx, stop := afterwards(caller)
	defer stop()
	if ctx.Err() != nil {
		t.Fatalf("ended with the caller's context: %v", ctx.Err())
	}
	if ctx.Value(ctxKey{}) != "request" {
		t.Error("the caller's values are lost")
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > afterwardsTimeout {
		t.Errorf("deadline %v, %v; want one within %v", d, ok, afterwardsTimeout)
	}
}

package sources_test

import (
	"context"
	"testing"
	"time"

	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sources"
)

// TestRunPruningForgetsOldRuns: the loop prunes as it starts, by the
// service's clock, and stops with its context; the import's employees
// and events are untouched.
func TestRunPruningForgetsOldRuns(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, dsn(t))
			ctx := context.Background()
			e.mustImport(t, goodFile(3), sources.ImportOptions{})
			e.now = e.now.Add(2 * time.Hour)
			e.mustImport(t, goodFile(4), sources.ImportOptions{})
			if runs, err := e.svc.Runs(ctx, "payroll", 10); err != nil || len(runs) != 2 {
				t.Fatalf("runs before pruning = %d, %v", len(runs), err)
			}
			events := len(e.events(t, 0))

			// Keep an hour: the first import's run is older.
			loopCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				e.svc.RunPruning(loopCtx, time.Hour, time.Hour)
			}()
			deadline := time.Now().Add(10 * time.Second)
			for {
				runs, err := e.svc.Runs(ctx, "payroll", 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(runs) == 1 {
					if runs[0].Created != 1 {
						t.Fatalf("kept run %+v; want the second import's", runs[0])
					}
					break
				}
				if time.Now().After(deadline) {
					stop()
					t.Fatalf("the old run was not pruned: %d runs", len(runs))
				}
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			<-done
			if got := len(e.events(t, 0)); got != events {
				t.Fatalf("events = %d after pruning; want %d", got, events)
			}
			if got := len(e.employees(t)); got != 4 {
				t.Fatalf("employees = %d after pruning; want 4", got)
			}
		})
	}
}

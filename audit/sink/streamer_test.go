package sink_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
)

// TestNotifyWakesSinks sets a poll interval of an hour: only Notify can
// make the sink look for the new events.
func TestNotifyWakesSinks(t *testing.T) {
	store := newMemStore()
	cfg := fileSink(filepath.Join(t.TempDir(), "a.jsonl"), 1<<20, 2)
	cfg.PollInterval = config.Duration(time.Hour)
	s := mustStart(t, store, nil, cfg)
	// The worker may still be reading its cursor; notify until it sees
	// the events.
	store.add(5)
	waitFor(t, "a notified sink to deliver", func() bool {
		s.Notify()
		return store.cursor("file") == 5
	})
}

func TestSinkSurvivesReadErrors(t *testing.T) {
	store := newMemStore()
	store.setReadErr(errors.New("database is locked"))
	var logs logBuffer
	s := mustStart(t, store, testLogger(t, &logs), fileSink(filepath.Join(t.TempDir(), "a.jsonl"), 1<<20, 2))
	store.add(10)
	waitFor(t, "the read error to be logged", func() bool {
		return strings.Contains(logs.String(), "cannot read the audit trail")
	})
	store.setReadErr(nil)
	s.Notify()
	waitFor(t, "delivery after the store recovered", func() bool { return store.cursor("file") == 10 })
}

// TestSinkWaitsAtGap checks that an event committed late, after the one
// that follows it, is delivered in its place, and that a gap that is never
// filled is stepped over once waited out.
func TestSinkWaitsAtGap(t *testing.T) {
	store := newMemStore()
	path := filepath.Join(t.TempDir(), "a.jsonl")
	for _, seq := range []int64{1, 2, 3, 5, 6} {
		store.addSeq(seq)
	}
	s, err := sink.New([]config.AuditSink{fileSink(path, 1<<20, 2)}, store, store, testLogger(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	sink.SetGapWait(s, time.Hour)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "the events before the gap", func() bool { return store.cursor("file") == 3 })
	store.addSeq(4)
	s.Notify()
	waitFor(t, "the late event and those after it", func() bool { return store.cursor("file") == 6 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, readFiles(t, store, path, 1<<20), 6, false)

	// A gap that stays: 7 never appears.
	store.addSeq(8)
	s, err = sink.New([]config.AuditSink{fileSink(path, 1<<20, 2)}, store, store, testLogger(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	sink.SetGapWait(s, 100*time.Millisecond)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "the sink to step over the gap", func() bool { return store.cursor("file") == 8 })
}

func TestStartRejectsInvalidConfig(t *testing.T) {
	store := newMemStore()
	for _, tc := range []struct {
		name  string
		sinks []config.AuditSink
		want  string
	}{
		{"UnknownType", []config.AuditSink{{Name: "a", Type: "kafka"}}, "audit.sinks[0].type"},
		{"MissingAddress", []config.AuditSink{{Name: "a", Type: "syslog"}}, "audit.sinks[0].address"},
		{"DuplicateNames", []config.AuditSink{
			fileSink(filepath.Join(t.TempDir(), "a"), 4096, 1),
			fileSink(filepath.Join(t.TempDir(), "b"), 4096, 1),
		}, "audit.sinks[1].name"},
		{"FileInMissingDir", []config.AuditSink{fileSink(filepath.Join(t.TempDir(), "no", "such", "dir", "a.jsonl"), 4096, 1)}, "audit.sinks[0].path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sink.Start(context.Background(), tc.sinks, store, store, nil)
			if err == nil {
				_ = s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start() error %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestNoSinks(t *testing.T) {
	store := newMemStore()
	s := mustStart(t, store, nil)
	s.Notify()
	if len(s.Stats()) != 0 {
		t.Fatal("stats for sinks that do not exist")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

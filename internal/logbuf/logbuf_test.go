package logbuf_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate/internal/logbuf"
)

// syncBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWriter(t *testing.T) {
	t.Run("HoldsUntilFlush", func(t *testing.T) {
		var out syncBuffer
		w := logbuf.New(&out, time.Hour)
		defer w.Close()
		_, _ = w.Write([]byte("one\n"))
		if out.String() != "" {
			t.Fatal("a line was written before the delay or a flush")
		}
		if err := w.Flush(); err != nil || out.String() != "one\n" {
			t.Fatalf("after Flush: %q, %v", out.String(), err)
		}
	})
	t.Run("WritesWithinTheDelay", func(t *testing.T) {
		var out syncBuffer
		w := logbuf.New(&out, time.Millisecond)
		defer w.Close()
		_, _ = w.Write([]byte("one\n"))
		deadline := time.Now().Add(10 * time.Second)
		for out.String() != "one\n" {
			if time.Now().After(deadline) {
				t.Fatal("the line was never written")
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Run("WritesAFullBuffer", func(t *testing.T) {
		var out syncBuffer
		w := logbuf.New(&out, time.Hour)
		defer w.Close()
		line := strings.Repeat("x", 1023) + "\n"
		for range 64 {
			_, _ = w.Write([]byte(line))
		}
		if got := len(out.String()); got != 64*1024 {
			t.Fatalf("wrote %d bytes of a full 64 KiB buffer", got)
		}
	})
	t.Run("CloseWritesTheRest", func(t *testing.T) {
		var out syncBuffer
		w := logbuf.New(&out, time.Hour)
		_, _ = w.Write([]byte("one\n"))
		if err := w.Close(); err != nil || out.String() != "one\n" {
			t.Fatalf("after Close: %q, %v", out.String(), err)
		}
		_, _ = w.Write([]byte("two\n"))
		if out.String() != "one\ntwo\n" {
			t.Fatalf("a write after Close was held: %q", out.String())
		}
	})
}

func TestFlushAbove(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, time.Hour)
	defer w.Close()
	log := slog.New(logbuf.FlushAbove(slog.NewTextHandler(w, nil), w, slog.LevelWarn)).With("component", "test")
	log.Info("request")
	if out.String() != "" {
		t.Fatal("an info line was written at once")
	}
	log.Warn("trouble")
	if got := out.String(); !strings.Contains(got, "msg=request") || !strings.Contains(got, "msg=trouble") {
		t.Fatalf("a warning did not flush itself and what came before: %q", got)
	}
}

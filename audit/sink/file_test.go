package sink_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
)

func fileSink(path string, maxSize int64, maxFiles int) config.AuditSink {
	c := fastSink("file", config.SinkFile)
	c.Path, c.MaxSize, c.MaxFiles = path, maxSize, maxFiles
	return c
}

// readFiles returns the events in PATH.n, …, PATH.1, PATH, oldest first,
// checking that every line is complete, the file mode is 0600 and no
// file but one holding a single line exceeds maxSize.
func readFiles(tb testing.TB, store *memStore, path string, maxSize int64) []int64 {
	tb.Helper()
	var names []string
	for i := 1; ; i++ {
		name := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(name); err != nil {
			break
		}
		names = append([]string{name}, names...)
	}
	names = append(names, path)
	var seqs []int64
	for _, name := range names {
		st, err := os.Stat(name)
		if err != nil {
			tb.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			tb.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			tb.Fatalf("%s ends in an incomplete line", name)
		}
		lines := 0
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines++
			var e hrgate.AuditEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				tb.Fatalf("%s: line %d is not an event: %v", name, lines, err)
			}
			want, _ := json.Marshal(store.event(e.Seq))
			if !bytes.Equal(sc.Bytes(), want) {
				tb.Fatalf("%s: line %d is\n%s\nwant the event's JSON\n%s", name, lines, sc.Bytes(), want)
			}
			seqs = append(seqs, e.Seq)
		}
		if st.Size() > maxSize && lines > 1 {
			tb.Errorf("%s is %d bytes with %d lines, over max_size %d", name, st.Size(), lines, maxSize)
		}
	}
	return seqs
}

func TestFileSinkRotatesWithoutLossOrRepeat(t *testing.T) {
	store := newMemStore()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := mustStart(t, store, nil, fileSink(path, 2048, 1000))
	store.onAppend = s.Notify
	for range 12 {
		store.add(25)
	}
	waitFor(t, "the file sink to catch up", func() bool { return store.cursor("file") == 300 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, readFiles(t, store, path, 2048), 300, false)
	if _, err := os.Stat(path + ".10"); err != nil {
		t.Fatalf("expected many rotations: %v", err)
	}
	st := s.Stats()
	if len(st) != 1 || st[0].Delivered != 300 || st[0].Cursor != 300 || st[0].Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFileSinkKeepsMaxFiles(t *testing.T) {
	store := newMemStore()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s := mustStart(t, store, nil, fileSink(path, 2048, 3))
	store.onAppend = s.Notify
	store.add(400)
	waitFor(t, "the file sink to catch up", func() bool { return store.cursor("file") == 400 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".4"); err == nil {
		t.Fatal("a fourth rotated file was kept with max_files 3")
	}
	seqs := readFiles(t, store, path, 2048)
	if len(seqs) == 0 || seqs[len(seqs)-1] != 400 {
		t.Fatalf("the newest files do not end with the newest event: %v", seqs)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("the kept files are not one unbroken run: %d after %d", seqs[i], seqs[i-1])
		}
	}
}

func TestFileSinkResumesFromCursorAfterRestart(t *testing.T) {
	store := newMemStore()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := fileSink(path, 4096, 100)
	s := mustStart(t, store, nil, cfg)
	store.add(60)
	s.Notify()
	waitFor(t, "the first events", func() bool { return store.cursor("file") == 60 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Events committed while hrgate's sinks were down.
	store.add(90)
	s = mustStart(t, store, nil, cfg)
	store.onAppend = s.Notify
	store.add(30)
	waitFor(t, "the sink to resume", func() bool { return store.cursor("file") == 180 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, readFiles(t, store, path, 4096), 180, false)
	if st := s.Stats(); st[0].Delivered != 120 {
		t.Fatalf("second run delivered %d events, want 120", st[0].Delivered)
	}
}

// TestFileSinkAfterCrash simulates a crash after events were written but
// before the cursor was saved, in the middle of writing a line: the sink
// cuts the torn line off and does not write the saved events twice.
func TestFileSinkAfterCrash(t *testing.T) {
	store := newMemStore()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := fileSink(path, 3000, 100)
	s := mustStart(t, store, nil, cfg)
	store.add(80)
	s.Notify()
	waitFor(t, "the first events", func() bool { return store.cursor("file") == 80 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	store.cursors["file"] = 20 // the cursor of a crashed process lags
	line, _ := json.Marshal(store.event(3))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(line[:len(line)/2]); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	store.add(20)
	s = mustStart(t, store, nil, cfg)
	s.Notify()
	waitFor(t, "the sink to resume", func() bool { return store.cursor("file") == 100 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, readFiles(t, store, path, 3000), 100, false)
}

// TestFileSinkJustRotated restarts the sink when the current file is
// empty: the last event written is then in PATH.1.
func TestFileSinkJustRotated(t *testing.T) {
	store := newMemStore()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := fileSink(path, 2048, 100)
	s := mustStart(t, store, nil, cfg)
	store.add(40)
	s.Notify()
	waitFor(t, "the first events", func() bool { return store.cursor("file") == 40 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Rotate by hand, as a crash right after a rotation leaves it.
	for i := 100; i >= 1; i-- {
		_ = os.Rename(path+"."+strconv.Itoa(i), path+"."+strconv.Itoa(i+1))
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	store.cursors["file"] = 10
	store.add(5)
	s = mustStart(t, store, nil, cfg)
	s.Notify()
	waitFor(t, "the sink to resume", func() bool { return store.cursor("file") == 45 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, readFiles(t, store, path, 2048), 45, false)
}

func TestFileSinkRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte("this is not an audit file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	_, err := sink.Start(context.Background(), []config.AuditSink{fileSink(path, 4096, 2)}, store, store, nil)
	if err == nil || !strings.Contains(err.Error(), "audit.sinks[0].path") || !strings.Contains(err.Error(), "move the file aside") {
		t.Fatalf("error %v, want one naming audit.sinks[0].path", err)
	}
}

func TestFileSinkMakesFilePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	s := mustStart(t, store, nil, fileSink(path, 4096, 2))
	defer s.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}

// The sink cuts off a torn last line and narrows the file's mode: through
// a symbolic link planted at its path it would do both to whatever file
// the link names, so the link is refused and that file left as it was.
func TestFileSinkRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	want := []byte("someone else's data\nwithout a final newline")
	if err := os.WriteFile(victim, want, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	_, err := sink.Start(context.Background(), []config.AuditSink{fileSink(path, 4096, 2)}, store, store, nil)
	if err == nil || !strings.Contains(err.Error(), "audit.sinks[0].path") || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error %v, want one naming audit.sinks[0].path and the symbolic link", err)
	}
	got, err := os.ReadFile(victim)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the file the link names holds %q (%v), want it untouched", got, err)
	}
	st, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("the file the link names has mode %v, want 0644 as it was", st.Mode().Perm())
	}
}

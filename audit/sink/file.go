package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/internal/secretfile"
)

// fileSink appends events as JSON lines to a file and rotates it by size:
// PATH is renamed PATH.1, PATH.1 becomes PATH.2 and so on, and PATH.N for
// N beyond max_files is dropped. Every batch is synced before it counts as
// delivered.
//
// The sink remembers the sequence number of the last line in the file and
// skips events at or before it, so that a batch delivered again after a
// crash or a failed write does not repeat lines in the file.
type fileSink struct {
	path     string
	maxSize  int64
	maxFiles int

	f    *os.File // nil after a failed write, until reopened
	size int64
	last int64 // seq of the last complete line written
	buf  bytes.Buffer
}

func openFileSink(sc config.AuditSink, key func(string) string) (*fileSink, error) {
	s := &fileSink{path: sc.Path, maxSize: sc.MaxSize, maxFiles: sc.MaxFiles}
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", key("path"), err)
	}
	return s, nil
}

// open opens the current file, cuts off a line left half-written by a
// crash, and finds the last sequence number written.
func (s *fileSink) open() error {
	// The tail repair truncates the file: it is opened as a private file
	// that is not reached through a symbolic link.
	f, err := secretfile.OpenAppend(s.path, "audit file")
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("cannot open the audit file: %w", err)
	}
	size, last, err := repairTail(f, st.Size())
	if err != nil {
		_ = f.Close()
		return err
	}
	if size == 0 {
		// Just rotated: the last line is in PATH.1.
		last, err = lastSeqOf(s.path + ".1")
		if err != nil {
			_ = f.Close()
			return err
		}
	}
	s.f, s.size, s.last = f, size, last
	return nil
}

// maxLine bounds how far back the sink looks for the start of the last
// line; an event is far smaller.
const maxLine = 64 << 20

// repairTail truncates f after its last newline, dropping a line a crash
// left incomplete, and returns the new size and the seq of the last line
// (0 when the file is empty).
func repairTail(f *os.File, size int64) (int64, int64, error) {
	if size == 0 {
		return 0, 0, nil
	}
	end, err := lastNewline(f, size)
	if err != nil {
		return 0, 0, err
	}
	if end+1 != size {
		if err := f.Truncate(end + 1); err != nil {
			return 0, 0, fmt.Errorf("cannot cut off an incomplete last line: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, 0, err
		}
		size = end + 1
	}
	last, err := lastSeq(f, size)
	return size, last, err
}

// lastSeq returns the seq of the last line of f, which is size bytes long
// and ends with a newline; 0 when it is empty.
func lastSeq(f *os.File, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	start, err := lastNewline(f, size-1)
	if err != nil {
		return 0, err
	}
	line := make([]byte, size-1-(start+1))
	if _, err := f.ReadAt(line, start+1); err != nil {
		return 0, err
	}
	var e struct {
		Seq int64 `json:"seq"`
	}
	if err := json.Unmarshal(line, &e); err != nil || e.Seq <= 0 {
		return 0, fmt.Errorf("%s: the last line is not an audit event; move the file aside", f.Name())
	}
	return e.Seq, nil
}

// lastNewline returns the offset of the last '\n' before offset end, or -1
// when there is none.
func lastNewline(f *os.File, end int64) (int64, error) {
	buf := make([]byte, 32<<10)
	for pos := end; pos > 0; {
		if end-pos >= maxLine {
			return 0, fmt.Errorf("%s: no line break in the last %d bytes", f.Name(), maxLine)
		}
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i), nil
		}
	}
	return -1, nil
}

// lastSeqOf returns the seq of the last line of a rotated file, 0 when it
// does not exist.
func lastSeqOf(path string) (int64, error) {
	f, err := os.Open(path) // #nosec G304 -- a rotated sink file.
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return lastSeq(f, st.Size())
}

// Deliver appends the events not yet in the file, rotating before a line
// that would take the file past max_size, and syncs.
func (s *fileSink) Deliver(_ context.Context, events []*hrgate.AuditEvent) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	s.buf.Reset()
	last := s.last
	for _, e := range events {
		if e.Seq <= s.last {
			continue
		}
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", e.Seq, err)
		}
		if s.size+int64(s.buf.Len()+len(line)+1) > s.maxSize && s.size+int64(s.buf.Len()) > 0 {
			if err := s.flush(last); err != nil {
				return err
			}
			if err := s.rotate(); err != nil {
				return err
			}
		}
		s.buf.Write(line)
		s.buf.WriteByte('\n')
		last = e.Seq
	}
	return s.flush(last)
}

// flush writes and syncs the buffered lines; last is the seq of the final
// one. On an error the file is closed, so that the next delivery reopens it
// and cuts off a half-written line.
func (s *fileSink) flush(last int64) error {
	if s.buf.Len() == 0 {
		return nil
	}
	n, err := s.f.Write(s.buf.Bytes())
	s.size += int64(n)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		_ = s.f.Close()
		s.f = nil
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.buf.Reset()
	s.last = last
	return nil
}

// rotate shifts PATH.i to PATH.i+1, PATH to PATH.1, and starts PATH anew.
func (s *fileSink) rotate() error {
	if err := s.f.Close(); err != nil {
		s.f = nil
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	s.f = nil
	for i := s.maxFiles - 1; i >= 1; i-- {
		from, to := s.path+"."+strconv.Itoa(i), s.path+"."+strconv.Itoa(i+1)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	if err := secretfile.SyncDir(filepath.Dir(s.path)); err != nil {
		return err
	}
	// open creates PATH anew and syncs its directory entry.
	return s.open()
}

func (s *fileSink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

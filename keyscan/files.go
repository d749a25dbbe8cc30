package keyscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hrgate/hrgate"
)

// binarySniffLen is how much of a file is searched for a NUL byte to tell
// binary files from text, as git does.
const binarySniffLen = 8 << 10

// ScanReader scans the text read from r, reporting findings under path.
func (s *Scanner) ScanReader(r io.Reader, path string) ([]Finding, error) {
	res := &Result{}
	if err := s.scanText(bufio.NewReaderSize(r, pieceSize), path, res); err != nil {
		return nil, err
	}
	return res.Findings, nil
}

func (s *Scanner) scanText(r *bufio.Reader, path string, res *Result) error {
	m := lineMatcher{s: s}
	line := 1
	return eachLinePiece(r, func(piece []byte, _, end bool) error {
		m.feed(piece, func(p *Pattern, secret string) {
			res.add(finding(p, path, line, "", secret))
		})
		if end {
			m.endLine()
			line++
		}
		return nil
	})
}

// ScanFiles scans path, a file or a directory tree. In a tree it skips
// .git directories (ScanHistory reads what matters in them), files that
// are not regular files, and symbolic links: a link to a file inside the
// tree is scanned as that file, and one that leads out of the tree is not
// the tree's content. Files larger than the size limit, binary files and
// files that cannot be read are listed in Result.Skipped.
//
// A path that does not exist or is neither a file nor a directory is an
// EINVALID error.
func (s *Scanner) ScanFiles(ctx context.Context, path string) (*Result, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, hrgate.Errorf(hrgate.EINVALID, "%s does not exist.", path)
	} else if err != nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Cannot scan %s: %v.", path, errText(err))
	}
	res := &Result{}
	switch {
	case info.Mode().IsRegular():
		// The user named this file; following a link they named is
		// what they asked for.
		f, err := os.Open(path) // #nosec G304 -- reading the file the operator asked to scan is the command's purpose.
		if err != nil {
			res.Skipped = append(res.Skipped, Skip{Path: path, Reason: SkipUnreadable + ": " + errText(err)})
			return res, nil
		}
		defer f.Close()
		s.scanFile(f, path, res)
		return res, nil
	case info.IsDir():
		return res, s.scanTree(ctx, path, res)
	}
	return nil, hrgate.Errorf(hrgate.EINVALID, "Cannot scan %s: not a regular file or a directory.", path)
}

// scanTree walks dir through an os.Root, so that no file is opened outside
// dir even if the tree changes while it is walked.
func (s *Scanner) scanTree(ctx context.Context, dir string, res *Result) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return hrgate.Errorf(hrgate.EINVALID, "Cannot scan %s: %v.", dir, errText(err))
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err != nil {
			if p == "." {
				return hrgate.Errorf(hrgate.EINVALID, "Cannot scan %s: %v.", dir, errText(err))
			}
			// An unreadable directory or file is reported, and the walk
			// goes on with the rest of the tree.
			res.Skipped = append(res.Skipped, Skip{Path: name, Reason: SkipUnreadable + ": " + errText(err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() == ".git" {
			// A directory, or in a linked work tree or a submodule a file
			// naming one.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := root.Open(p)
		if err != nil {
			res.Skipped = append(res.Skipped, Skip{Path: name, Reason: SkipUnreadable + ": " + errText(err)})
			return nil
		}
		defer f.Close()
		s.scanFile(f, name, res)
		return nil
	})
}

// scanFile scans one open file, or records why it did not.
func (s *Scanner) scanFile(f fs.File, name string, res *Result) {
	info, err := f.Stat()
	if err != nil {
		res.Skipped = append(res.Skipped, Skip{Path: name, Reason: SkipUnreadable + ": " + errText(err)})
		return
	}
	if !info.Mode().IsRegular() {
		// Replaced by something else since the walk saw it; reading a
		// FIFO or a device could block for ever.
		return
	}
	if info.Size() > s.maxFileSize {
		res.Skipped = append(res.Skipped, Skip{Path: name, Reason: fmt.Sprintf("%s: %d bytes, limit %d", SkipTooLarge, info.Size(), s.maxFileSize)})
		return
	}
	// The limit also holds for a file that grows while it is read.
	r := bufio.NewReaderSize(io.LimitReader(f, s.maxFileSize), pieceSize)
	head, err := r.Peek(binarySniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		res.Skipped = append(res.Skipped, Skip{Path: name, Reason: SkipUnreadable + ": " + errText(err)})
		return
	}
	if bytes.IndexByte(head, 0) >= 0 {
		res.Skipped = append(res.Skipped, Skip{Path: name, Reason: SkipBinary})
		return
	}
	res.Files++
	if err := s.scanText(r, name, res); err != nil {
		res.Skipped = append(res.Skipped, Skip{Path: name, Reason: SkipUnreadable + ": " + errText(err)})
	}
}

// errText returns the operating system's reason without the path and the
// operation, which the report already shows.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

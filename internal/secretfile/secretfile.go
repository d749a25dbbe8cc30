// Package secretfile reads and creates the small files that hold hrgate's
// root secrets (the admin token, the master key). Such a file opens
// everything, so reading refuses a symbolic link, a file that others can
// read and a file that another user owns, and creating never overwrites an
// existing file nor lets a reader see it half-written. It also opens the
// audit trail's private files (OpenAppend), which must be kept from others
// and not reached through a symbolic link for the same reasons.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxSize bounds what Read reads: these files hold one short secret.
const maxSize = 4096

// Read returns the content of the secret file at path. what names the file
// in errors ("admin token file"). A missing file is an error wrapping
// fs.ErrNotExist.
func Read(path, what string) ([]byte, error) {
	f, fst, err := openRegular(path, what, func() (*os.File, error) {
		return os.Open(path) // #nosec G304 -- the operator configures the file.
	})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fst.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s is readable by others (mode %v); run chmod 600 on it", what, path, fst.Mode().Perm())
	}
	if err := checkOwner(fst); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%s %s is larger than %d bytes; it should hold one secret", what, path, maxSize)
	}
	return b, nil
}

// openRegular opens the file at path with open, refusing a symbolic link
// or anything but a regular file there. An open follows a link, and the
// name may be swapped between a check and the open, so the name is
// checked with Lstat first and the file opened must then be the one
// checked. It returns the opened file and what its Stat returned. what
// names the file in errors; a missing file is an error wrapping
// fs.ErrNotExist.
func openRegular(path, what string, open func() (*os.File, error)) (*os.File, fs.FileInfo, error) {
	st, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("open %s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s %s is not a regular file (a symbolic link?); refusing it", what, path)
	}
	f, err := open()
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", what, err)
	}
	fst, err := f.Stat()
	if err != nil {
		err = fmt.Errorf("open %s: %w", what, err)
	} else if !os.SameFile(st, fst) {
		err = fmt.Errorf("%s %s changed while it was opened; try again", what, path)
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, fst, nil
}

// Create writes content to a new file at path with mode 0600: first to a
// private temporary file in the same directory, which is then linked into
// place, so that no reader ever sees a half-written secret and an existing
// file is never replaced. When path exists it returns an error wrapping
// fs.ErrExist.
func Create(path, what string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(content)
	if err := tmp.Sync(); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", what, werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("create %s: %w", what, err)
	}
	return nil
}

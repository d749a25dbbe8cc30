//go:build unix

package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a file that another user owns: it could have been
// planted with a token that user knows.
func checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) != os.Geteuid() {
		return errors.New("owned by another user; it must belong to the user hrgate runs as")
	}
	return nil
}

// openExisting opens the existing file at path with flags, refusing a
// symbolic link there: O_NOFOLLOW makes the open itself fail on one, so
// the file opened is the one the name held.
func openExisting(path, what string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, flags|syscall.O_NOFOLLOW, 0) // #nosec G304 -- the operator names the file or its directory.
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("the %s %s is a symbolic link; refusing to follow it", what, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open the %s: %w", what, err)
	}
	return f, nil
}

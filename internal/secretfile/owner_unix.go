//go:build unix

package secretfile

import (
	"errors"
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

// noFollow makes an open fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// isLink reports whether err is an open refused by noFollow.
func isLink(err error) bool { return errors.Is(err, syscall.ELOOP) }

//go:build !unix

package secretfile

import (
	"io/fs"
	"os"
)

// checkOwner is a no-op where file ownership is not a uid; the permission
// check and the data directory's own access control remain.
func checkOwner(fs.FileInfo) error { return nil }

// openExisting opens the existing file at path with flags, refusing a
// symbolic link or anything but a regular file there. Opens here cannot
// refuse a link themselves, and the Stat of a file opened through one
// describes its target, so the name is checked before the open and the
// file opened must be the one checked.
func openExisting(path, what string, flags int) (*os.File, error) {
	f, _, err := openRegular(path, "the "+what, func() (*os.File, error) {
		return os.OpenFile(path, flags, 0) // #nosec G304 -- the operator names the file or its directory.
	})
	return f, err
}

//go:build unix

package secretfile

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
	"time"
)

// fileOf is a FileInfo whose owner is uid.
type fileOf struct{ uid uint32 }

func (f fileOf) Name() string       { return "f" }
func (f fileOf) Size() int64        { return 0 }
func (f fileOf) Mode() fs.FileMode  { return 0o600 }
func (f fileOf) ModTime() time.Time { return time.Time{} }
func (f fileOf) IsDir() bool        { return false }
func (f fileOf) Sys() any           { return &syscall.Stat_t{Uid: f.uid} }

// checkOwner refuses a file another user owns and takes one of the user
// the process runs as: TestOtherOwner shows it on real files, but only
// as root, which CI may not be.
func TestCheckOwner(t *testing.T) {
	me := uint32(os.Geteuid()) // #nosec G115 -- a uid fits.
	if err := checkOwner(fileOf{me}); err != nil {
		t.Errorf("a file of the process's own user: %v", err)
	}
	if err := checkOwner(fileOf{me + 1}); err == nil {
		t.Error("a file of another user is taken")
	}
}

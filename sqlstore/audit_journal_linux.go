package sqlstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// On Linux the journal is flushed with fdatasync(2), which unlike fsync
// does not wait for metadata an append does not need, such as the
// modification time. Other systems lack it in golang.org/x/sys/unix and
// keep File.Sync (syncFile).
func init() { syncFile = fdatasync }

func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}

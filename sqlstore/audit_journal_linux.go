package sqlstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFile flushes the data of the journal f to the disk. On Linux that
// is fdatasync(2), which unlike fsync does not wait for metadata an append
// does not need, such as the modification time; other systems lack it in
// golang.org/x/sys/unix and keep File.Sync (audit_journal_sync.go). A
// variable so that tests can make it fail.
var syncFile = fdatasync

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

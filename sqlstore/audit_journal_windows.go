package sqlstore

import (
	"os"

	"golang.org/x/sys/windows"
)

// allBytes locks the whole file, however far it grows: LockFileEx locks a
// range of bytes, not the file.
const allBytes = ^uint32(0)

// lockFile takes an exclusive lock on the journal f, waiting for it:
// every process that opens the trail appends under it (audit_journal.go).
// Windows has no flock; LockFileEx over every byte does the same, and is
// likewise released when the file is closed or its process ends.
func lockFile(f *os.File) error {
	return lockControl(f, func(h windows.Handle) error {
		return windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, allBytes, allBytes, new(windows.Overlapped))
	})
}

// unlockFile lets go of the lock lockFile took.
func unlockFile(f *os.File) error {
	return lockControl(f, func(h windows.Handle) error {
		return windows.UnlockFileEx(h, 0, allBytes, allBytes, new(windows.Overlapped))
	})
}

func lockControl(f *os.File, fn func(windows.Handle) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = fn(windows.Handle(fd)) }); err != nil {
		return err
	}
	return lerr
}

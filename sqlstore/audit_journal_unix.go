//go:build unix

package sqlstore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// journalSupported reports that the SQLite audit journal can be kept
// here (audit_journal_other.go says why not elsewhere).
const journalSupported = true

// lockFile takes an exclusive lock on the journal f, waiting for it:
// every process that opens the trail appends under it (audit_journal.go).
// flock(2) locks are held by the open file, so that one taken by a
// process that dies goes with it.
func lockFile(f *os.File) error { return flock(f, unix.LOCK_EX) }

// unlockFile lets go of the lock lockFile took.
func unlockFile(f *os.File) error { return flock(f, unix.LOCK_UN) }

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if !errors.Is(ferr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

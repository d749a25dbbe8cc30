//go:build !linux

package sqlstore

import "os"

// syncFile flushes the data of the journal f to the disk: File.Sync, which
// on macOS asks the drive to empty its cache too (F_FULLFSYNC). Linux uses
// fdatasync(2) (audit_journal_linux.go). A variable so that tests can make
// it fail.
var syncFile = (*os.File).Sync

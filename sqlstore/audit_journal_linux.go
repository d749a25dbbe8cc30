package sqlstore

import "golang.org/x/sys/unix"

// On Linux the journal is flushed with fdatasync(2), which unlike fsync
// does not wait for metadata an append does not need, such as the
// modification time. Other systems lack it in golang.org/x/sys/unix and
// use File.Sync (journal.sync).
func init() { fdatasync = unix.Fdatasync }

//go:build !unix

package sqlstore

import "os"

// The SQLite audit journal is not kept on systems without flock(2), which
// means Windows: there a file opened to append cannot be cut back, and
// recovery cuts the journal back at every open. OpenAuditLog refuses such
// a trail at once, saying so (errJournalUnsupported), rather than failing
// later in recovery.
const journalSupported = false

func lockFile(*os.File) error   { return errJournalUnsupported }
func unlockFile(*os.File) error { return nil }

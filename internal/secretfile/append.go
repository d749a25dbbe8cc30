package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// OpenAppend opens the private file at path for reading and appending,
// creating it with mode 0600 when it is missing: the audit trail's files
// (the SQLite journal, a file sink), which their owner truncates to cut
// off a torn last line. A symbolic link or anything but a regular file
// there is refused rather than followed, since through a planted link the
// truncation and the chmod would land on whatever file it names. So is a
// file that another user owns, as Read refuses one: its owner could have
// planted it beforehand and keep reading or rewriting the trail whatever
// its mode. An existing file left with a mode that lets others in is
// narrowed to 0600. A new file's directory entry is synced before
// OpenAppend returns, so that what is appended and synced to it survives
// a crash. what names the file in errors ("audit journal").
func OpenAppend(path, what string) (*os.File, error) {
	const flags = os.O_RDWR | os.O_APPEND
	created := true
	// O_EXCL tells a new file from an existing one in the same call that
	// opens it, which a stat before the open could not, and it refuses
	// any name already there, a symbolic link included.
	f, err := os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator names the file or its directory.
	if errors.Is(err, fs.ErrExist) {
		created = false
		f, err = openExisting(path, what, flags)
	} else if err != nil {
		err = fmt.Errorf("open the %s: %w", what, err)
	}
	if err != nil {
		return nil, err
	}
	// openExisting has refused a link; a FIFO or a device is refused here.
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("the %s %s is not a regular file", what, path)
	}
	// Before the chmod, which would otherwise make another user's file
	// look private while its owner can still change its mode back.
	if err == nil {
		if err = checkOwner(fi); err != nil {
			err = fmt.Errorf("the %s %s: %w", what, path, err)
		}
	}
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err = f.Chmod(0o600); err != nil {
			err = fmt.Errorf("make the %s private: %w", what, err)
		}
	}
	if err == nil && created {
		if err = SyncDir(filepath.Dir(path)); err != nil {
			err = fmt.Errorf("open the %s: %w", what, err)
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// SyncDir makes the files created in dir and the renames within it
// durable. On Windows it does nothing: Windows cannot flush a directory
// (FlushFileBuffers wants a handle open for writing, which a directory
// does not give), so there a new file's entry is as durable as the file
// system makes it on its own.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir) // #nosec G304 -- the directory of a file the operator names.
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

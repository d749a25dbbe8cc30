//go:build !unix

package secretfile

import "io/fs"

// checkOwner is a no-op where file ownership is not a uid; the permission
// check and the data directory's own access control remain.
func checkOwner(fs.FileInfo) error { return nil }

// noFollow is zero where opens cannot refuse a symbolic link; the
// regular-file check on the opened file remains.
const noFollow = 0

func isLink(error) bool { return false }

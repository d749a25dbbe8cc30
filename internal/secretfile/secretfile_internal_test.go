package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRegularSwapped checks that openRegular refuses a file put in
// place of the one it checked before opening: where an open cannot refuse
// a symbolic link (OpenAppend off Unix), this is what keeps a link planted
// between the check and the open from being followed.
func TestOpenRegularSwapped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal")
	other := filepath.Join(dir, "other")
	for _, p := range []string{path, other} {
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	open := func() (*os.File, error) { return os.Open(path) }
	f, _, err := openRegular(path, "audit journal", open)
	if err != nil {
		t.Fatalf("untouched file refused: %v", err)
	}
	_ = f.Close()

	swap := func() (*os.File, error) {
		if err := os.Rename(other, path); err != nil {
			t.Fatal(err)
		}
		return open()
	}
	f, _, err = openRegular(path, "audit journal", swap)
	if err == nil {
		_ = f.Close()
		t.Fatal("a file swapped in between the check and the open was taken")
	}
	if !strings.Contains(err.Error(), "changed while it was opened") {
		t.Fatalf("error %v, want one saying the file changed", err)
	}
}

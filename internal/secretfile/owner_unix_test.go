//go:build unix

package secretfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate/internal/secretfile"
)

// nobody is a uid that is not the test's: the file another user planted.
const nobody = 65534

// TestOtherOwner checks that a file another user owns is refused by Read
// and by OpenAppend, and that the same file owned by the caller is taken:
// as root every open succeeds, so only the owner check stands between
// hrgate and a file an unprivileged user created beforehand.
func TestOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	for _, tc := range []struct {
		name string
		open func(path string) error
	}{
		{"Read", func(path string) error {
			_, err := secretfile.Read(path, "admin token file")
			return err
		}},
		{"OpenAppend", func(path string) error {
			f, err := secretfile.OpenAppend(path, "audit journal")
			if err == nil {
				err = f.Close()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte("s3cr3t\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := tc.open(path); err != nil {
				t.Fatalf("own file refused: %v", err)
			}
			if err := os.Chown(path, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			err := tc.open(path)
			if err == nil || !strings.Contains(err.Error(), "owned by another user") || !strings.Contains(err.Error(), path) {
				t.Fatalf("file of uid %d: error %v, want one naming the file and its owner", nobody, err)
			}
			// The refused file keeps its content and its owner.
			if b, err := os.ReadFile(path); err != nil || string(b) != "s3cr3t\n" {
				t.Fatalf("content after refusal: %q, %v", b, err)
			}
		})
	}
}

package keyscan_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyscan"
)

// WriteFile writes content to dir/name, creating parent directories.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func locations(fs []keyscan.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Location())
	}
	slices.Sort(out)
	return out
}

func TestScanFiles(t *testing.T) {
	key, other := MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyTest)
	dir := t.TempDir()
	WriteFile(t, dir, "app.env", "# settings\nHRGATE_URL=https://hr\nHRGATE_KEY="+key+"\n")
	WriteFile(t, dir, "dir with space/notes.md", "the test key is `"+other+"`, the old one "+BadChecksum(t, key)+"\n")
	WriteFile(t, dir, ".git/config", "[remote]\n\turl = https://"+key+"@git.example\n")
	WriteFile(t, dir, "sub/.git", "gitdir: ../.git/modules/sub "+key+"\n")
	WriteFile(t, dir, "big.log", strings.Repeat("x", 2000)+"\n"+key+"\n")
	WriteFile(t, dir, "image.bin", "\x89PNG\x00\x00"+key+"\n")
	outside := WriteFile(t, t.TempDir(), "elsewhere.env", key+"\n")
	if err := os.Symlink(outside, filepath.Join(dir, "outside.env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(dir, "outside-dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app.env", filepath.Join(dir, "app-link.env")); err != nil {
		t.Fatal(err)
	}

	s := keyscan.New(keyscan.DefaultPatterns(), keyscan.WithMaxFileSize(1024))
	res, err := s.ScanFiles(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "app.env") + ":3",
		filepath.Join(dir, "dir with space", "notes.md") + ":1",
	}
	if got := locations(res.Findings); !slices.Equal(got, want) {
		t.Fatalf("found %q\nwant  %q", got, want)
	}
	skipped := map[string]string{}
	for _, sk := range res.Skipped {
		skipped[filepath.Base(sk.Path)] = sk.Reason
	}
	if len(skipped) != 2 || !strings.HasPrefix(skipped["big.log"], keyscan.SkipTooLarge) || skipped["image.bin"] != keyscan.SkipBinary {
		t.Fatalf("skipped %q, want big.log too large and image.bin binary", skipped)
	}
	if res.Files != 2 {
		t.Fatalf("%d files scanned, want 2", res.Files)
	}

	t.Run("OneFile", func(t *testing.T) {
		res, err := s.ScanFiles(context.Background(), filepath.Join(dir, "app.env"))
		if err != nil {
			t.Fatal(err)
		}
		if got := locations(res.Findings); !slices.Equal(got, want[:1]) {
			t.Fatalf("found %q, want %q", got, want[:1])
		}
	})

	t.Run("ErrNotExist", func(t *testing.T) {
		_, err := s.ScanFiles(context.Background(), filepath.Join(dir, "nope"))
		if hrgate.ErrorCode(err) != hrgate.EINVALID || !strings.Contains(hrgate.ErrorMessage(err), "does not exist") {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.ScanFiles(ctx, dir); err == nil {
			t.Fatal("a canceled scan succeeded")
		}
	})
}

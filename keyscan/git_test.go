package keyscan_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyscan"
)

// Git runs git in dir with a configuration of its own, whatever the
// machine's, and returns its trimmed output.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	args = append([]string{"-C", dir, "-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.Command("git", args...)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GIT_DIR=") || strings.HasPrefix(kv, "GIT_WORK_TREE=")
	})
	cmd.Env = append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestScanHistory(t *testing.T) {
	keyA, keyB, keyC, keyD, keyE, keyF, keyG := MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyTest),
		MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyLive)
	repo := t.TempDir()
	Git(t, repo, "init", "-q")

	// c1 adds a key, a look-alike, and a key in a file that .gitattributes
	// tells git not to diff; c2 deletes the key from the work tree.
	WriteFile(t, repo, "secrets.env", "# old\nKEY="+keyA+"\nlookalike="+BadChecksum(t, keyB)+"\n")
	WriteFile(t, repo, ".gitattributes", "*.cfg -diff\n")
	WriteFile(t, repo, "hidden.cfg", keyD+"\n")
	WriteFile(t, repo, "multi.txt", "a\nb\nc\nd\n")
	Git(t, repo, "add", "-A")
	Git(t, repo, "commit", "-q", "-m", "c1")
	c1 := Git(t, repo, "rev-parse", "HEAD")
	Git(t, repo, "rm", "-q", "secrets.env")
	// Two changes close together, which interHunkContext would join.
	WriteFile(t, repo, "multi.txt", "A\nb\nKEY="+keyG+"\nd\n")
	Git(t, repo, "commit", "-q", "-a", "-m", "c2")
	c2 := Git(t, repo, "rev-parse", "HEAD")

	// c3, on a branch, adds a key on line 5 of a file whose name needs
	// quoting, a key deep in a long line, and an added line that reads
	// like a diff header ("+++ b/evil" in the patch) before a key, in a
	// directory named like git's "b/" prefix.
	Git(t, repo, "checkout", "-q", "-b", "feature")
	WriteFile(t, repo, "dir with space/ünï\t.txt", "1\n2\n3\n4\nkey: "+keyB+"\n")
	WriteFile(t, repo, "min.js", strings.Repeat("var a=1;", 20000)+`k="`+keyC+`";`+"\n")
	WriteFile(t, repo, "b/tricky.txt", "++ b/evil\n"+keyF+"\n")
	Git(t, repo, "add", "-A")
	Git(t, repo, "commit", "-q", "-m", "c3")
	c3 := Git(t, repo, "rev-parse", "HEAD")

	// main moves on, then merges feature; the merge alone adds keyE.
	Git(t, repo, "checkout", "-q", "main")
	WriteFile(t, repo, "README", "readme\n")
	Git(t, repo, "add", "-A")
	Git(t, repo, "commit", "-q", "-m", "c4")
	Git(t, repo, "merge", "-q", "--no-ff", "--no-commit", "feature")
	WriteFile(t, repo, "merge-only.txt", keyE+"\n")
	Git(t, repo, "add", "-A")
	Git(t, repo, "commit", "-q", "-m", "merge")
	merge := Git(t, repo, "rev-parse", "HEAD")

	// Configuration that changes git log's output must not hide keys:
	// the scanner sets every option its parser relies on. GIT_DIR, as a
	// git hook has it, must not redirect the scan to another repository.
	hostile := WriteFile(t, t.TempDir(), "gitconfig", `[diff]
	noprefix = true
	relative = true
	mnemonicPrefix = true
	renames = false
	interHunkContext = 10
	external = false
[color]
	ui = always
[core]
	quotePath = false
[log]
	showRoot = false
`)
	t.Setenv("GIT_CONFIG_GLOBAL", hostile)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	other := t.TempDir()
	Git(t, other, "init", "-q")
	t.Setenv("GIT_DIR", filepath.Join(other, ".git"))

	s := keyscan.New(keyscan.DefaultPatterns())
	// Scanning from a subdirectory reads the whole repository.
	res, err := s.ScanHistory(context.Background(), filepath.Join(repo, "dir with space"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"dir with space/ünï\t.txt:5@" + c3,
		"dir with space/ünï\t.txt:5@" + merge, // again at the merge, diffed against main
		"hidden.cfg:1@" + c1,
		"merge-only.txt:1@" + merge,
		"min.js:1@" + c3,
		"min.js:1@" + merge,
		"secrets.env:2@" + c1,
		"b/tricky.txt:2@" + c3,
		"b/tricky.txt:2@" + merge,
		"multi.txt:3@" + c2,
	}
	slices.Sort(want)
	if got := locations(res.Findings); !slices.Equal(got, want) {
		t.Fatalf("found\n%q\nwant\n%q", got, want)
	}
	secrets := map[string]string{"secrets.env": keyA, "dir with space/ünï\t.txt": keyB, "min.js": keyC,
		"hidden.cfg": keyD, "merge-only.txt": keyE, "b/tricky.txt": keyF, "multi.txt": keyG}
	for _, f := range res.Findings {
		if f.Secret != secrets[f.Path] {
			t.Errorf("%s: found %s, want %s", f.Location(), f.Redacted, keyscan.Redact(secrets[f.Path]))
		}
	}
	if res.Commits != 5 {
		t.Errorf("%d commits scanned, want 5", res.Commits)
	}

	t.Run("ErrNotAWorkTree", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("GIT_DIR", "")
		t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
		_, err := s.ScanHistory(context.Background(), dir)
		if hrgate.ErrorCode(err) != hrgate.EINVALID || !strings.Contains(hrgate.ErrorMessage(err), "not a git work tree") {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("RepositoryConfigRunsNoProgram", func(t *testing.T) {
		// A scanned checkout may come with a .git/config written by
		// someone else. One that asks git log to check signatures with
		// a program of its choosing must not get that program run.
		t.Setenv("GIT_DIR", "")
		dir := t.TempDir()
		Git(t, dir, "init", "-q")
		WriteFile(t, dir, "f.txt", "x\n")
		Git(t, dir, "add", "-A")
		Git(t, dir, "commit", "-q", "-m", "unsigned")
		tree := Git(t, dir, "rev-parse", "HEAD^{tree}")
		signed := WriteFile(t, t.TempDir(), "commit", "tree "+tree+"\n"+
			"author A <a@example.com> 0 +0000\ncommitter A <a@example.com> 0 +0000\n"+
			"gpgsig -----BEGIN PGP SIGNATURE-----\n \n AAAA\n -----END PGP SIGNATURE-----\n\nsigned\n")
		Git(t, dir, "update-ref", "refs/heads/signed", Git(t, dir, "hash-object", "-t", "commit", "-w", signed))
		marker := filepath.Join(t.TempDir(), "ran")
		program := WriteFile(t, t.TempDir(), "gpg.sh", "#!/bin/sh\ntouch '"+marker+"'\nexit 1\n")
		if err := os.Chmod(program, 0o700); err != nil { // #nosec G302 -- the test's fake gpg must be executable.
			t.Fatal(err)
		}
		Git(t, dir, "config", "log.showSignature", "true")
		Git(t, dir, "config", "gpg.program", program)
		res, err := s.ScanHistory(context.Background(), dir)
		if err != nil || res.Commits != 2 {
			t.Fatalf("%v %v", res, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("scanning the repository ran the program its gpg.program names")
		}
	})

	t.Run("EmptyRepository", func(t *testing.T) {
		empty := t.TempDir()
		Git(t, empty, "init", "-q")
		res, err := s.ScanHistory(context.Background(), empty)
		if err != nil || len(res.Findings) != 0 || res.Commits != 0 {
			t.Fatalf("%v %v", res, err)
		}
	})
}

package keyscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/hrgate/hrgate"
)

// ScanHistory scans every line ever added in the git repository whose work
// tree contains repo, on every ref (branches, tags, stashes, remotes), with
// the commit that added it. A key deleted from the work tree is found in
// the commit that added it; one added by a merge, in the merge.
//
// It runs the git binary found on PATH. A repo that is not inside a git
// work tree, or a missing git binary, is an EINVALID error.
func (s *Scanner) ScanHistory(ctx context.Context, repo string) (*Result, error) {
	env, err := gitEnv(ctx, repo)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every option that configuration (the user's or the repository's)
	// could change about the shape of the output is set here, because the
	// parser depends on it: a diff.noprefix, diff.relative or color.ui in
	// someone's config must not make keys invisible. The scanned
	// repository's own .git/config is not trusted either: options that
	// would make git run a program it names are turned off (diff.external
	// by --no-ext-diff, textconv drivers by --no-textconv, and
	// log.showSignature, which runs gpg.program on every signed commit, by
	// --no-show-signature).
	cmd := gitCommand(ctx, env, repo, "log", "--all", "--root",
		"--format=%x00%H", // a line starting with NUL cannot be part of a diff
		"--patch", "--unified=0", "--inter-hunk-context=0", "--text",
		"--no-color", "--no-ext-diff", "--no-textconv", "--no-relative", "--no-show-signature",
		"--src-prefix=a/", "--dst-prefix=b/", "--find-renames",
		// A merge is diffed against its first parent: lines brought in
		// from the other branch are reported again at the merge, but a
		// line that only the merge added is not missed.
		"--diff-merges=first-parent",
		"--")
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git log: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git log: %w", err)
	}
	p := &historyParser{m: lineMatcher{s: s}, res: &Result{}}
	if err := eachLinePiece(bufio.NewReaderSize(out, pieceSize), p.piece); err != nil {
		cancel()
		_ = cmd.Wait()
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("git log in %s: %w: %s", repo, err, stderr.String())
	}
	return p.res, nil
}

// gitEnv checks that repo is inside a git work tree and returns the
// environment to run git in. Variables that point git at a repository
// (GIT_DIR, GIT_INDEX_FILE… as git itself lists them) are removed, so that
// a scan run from a git hook, where they are set, reads repo and not the
// hook's repository.
func gitEnv(ctx context.Context, repo string) ([]string, error) {
	out, err := gitCommand(ctx, nil, repo, "rev-parse", "--local-env-vars").Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Scanning git history needs the git program, which is not on PATH.")
	} else if err != nil {
		return nil, fmt.Errorf("git rev-parse --local-env-vars: %w", err)
	}
	drop := strings.Fields(string(out))
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, name) {
			env = append(env, kv)
		}
	}
	var stderr limitedBuffer
	cmd := gitCommand(ctx, env, repo, "rev-parse", "--is-inside-work-tree")
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "it is not inside a work tree"
		}
		return nil, hrgate.Errorf(hrgate.EINVALID, "%s is not a git work tree (%s).", repo, msg)
	}
	return env, nil
}

// gitCommand returns a git command run in repo. env nil means the
// process's environment.
func gitCommand(ctx context.Context, env []string, repo string, args ...string) *exec.Cmd {
	args = append([]string{"--no-pager", "-C", repo}, args...)
	cmd := exec.CommandContext(ctx, "git", args...) // #nosec G204 -- a fixed program run without a shell; the only caller-provided argument is the repository path, passed as the value of -C.
	cmd.Env = env
	return cmd
}

// limitedBuffer keeps the first 4 KiB written to it: enough of git's
// error output for a message, whatever git writes.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4<<10 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return strings.TrimSpace(l.b.String()) }

// historyParser reads the output of git log --patch --unified=0. Inside a
// hunk it counts lines against the hunk header, so an added line that
// happens to read "+++ x" or "diff --git" is content, not a header.
type historyParser struct {
	m   lineMatcher
	res *Result

	commit, path string

	inHunk           bool
	oldLeft, newLeft int
	newLine          int
	kind             byte   // of the current line: '+', '-', ' ', '\\' in a hunk, 'h' a header
	header           []byte // the current header line, gathered across pieces
}

// maxHeaderLen bounds the memory a header line can take; real ones (paths,
// hunk ranges) are far shorter.
const maxHeaderLen = 1 << 20

func (p *historyParser) piece(b []byte, start, end bool) error {
	if start {
		p.kind = p.lineKind(b)
		p.header = p.header[:0]
		switch p.kind {
		case '+', '-', ' ', '\\':
			b = b[1:]
		}
	}
	switch p.kind {
	case '+':
		p.m.feed(b, func(pat *Pattern, secret string) {
			p.res.add(finding(pat, p.path, p.newLine, p.commit, secret))
		})
	case 'h':
		if len(p.header)+len(b) > maxHeaderLen {
			return fmt.Errorf("git log: a header line longer than %d bytes", maxHeaderLen)
		}
		p.header = append(p.header, b...)
	}
	if !end {
		return nil
	}
	switch p.kind {
	case '+':
		p.m.endLine()
		p.newLine++
		p.newLeft--
	case '-':
		p.oldLeft--
	case ' ':
		p.oldLeft--
		p.newLeft--
		p.newLine++
	case 'h':
		return p.headerLine(string(p.header))
	}
	if p.oldLeft <= 0 && p.newLeft <= 0 {
		p.inHunk = false
	}
	return nil
}

// lineKind classifies a line by its first piece.
func (p *historyParser) lineKind(b []byte) byte {
	if !p.inHunk || len(b) == 0 {
		return 'h'
	}
	switch {
	case b[0] == '+' && p.newLeft > 0:
		return '+'
	case b[0] == '-' && p.oldLeft > 0:
		return '-'
	case b[0] == ' ' && p.oldLeft > 0 && p.newLeft > 0:
		return ' '
	case b[0] == '\\': // "\ No newline at end of file"
		return '\\'
	}
	// The counts say the hunk is over; git's output disagrees with them,
	// and the header parser will make sense of the line or ignore it.
	p.inHunk = false
	return 'h'
}

func (p *historyParser) headerLine(h string) error {
	switch {
	case strings.HasPrefix(h, "\x00"):
		p.commit, p.path = h[1:], ""
		p.res.Commits++
	case strings.HasPrefix(h, "diff --git "):
		p.path = ""
	case strings.HasPrefix(h, "+++ "):
		path, err := diffPath(h[len("+++ "):])
		if err != nil {
			return err
		}
		p.path = path
	case strings.HasPrefix(h, "@@ "):
		newStart, oldCount, newCount, err := hunkRange(h)
		if err != nil {
			return err
		}
		p.newLine, p.oldLeft, p.newLeft = newStart, oldCount, newCount
		p.inHunk = oldCount > 0 || newCount > 0
	}
	return nil
}

// diffPath returns the path of a "+++ " line: "b/" + path, C-quoted if it
// holds unusual characters, followed by a tab if it holds a space.
func diffPath(s string) (string, error) {
	s = strings.TrimSuffix(s, "\t")
	if s == "/dev/null" {
		return "", nil
	}
	if strings.HasPrefix(s, `"`) {
		// git's C quoting (\t, \n, \", \\, octal bytes) is a subset of
		// Go's string literal syntax.
		u, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("git log: cannot read the path %s: %w", s, err)
		}
		s = u
	}
	return strings.TrimPrefix(s, "b/"), nil
}

// hunkRange parses "@@ -a[,b] +c[,d] @@…" into c, b and d; a count left
// out is 1.
func hunkRange(h string) (newStart, oldCount, newCount int, err error) {
	fields := strings.Fields(h)
	if len(fields) < 4 || fields[3] != "@@" || !strings.HasPrefix(fields[1], "-") || !strings.HasPrefix(fields[2], "+") {
		return 0, 0, 0, fmt.Errorf("git log: unexpected hunk header %q", h)
	}
	_, oldCount, err = lineRange(fields[1][1:])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("git log: unexpected hunk header %q", h)
	}
	newStart, newCount, err = lineRange(fields[2][1:])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("git log: unexpected hunk header %q", h)
	}
	return newStart, oldCount, newCount, nil
}

func lineRange(s string) (start, count int, err error) {
	a, b, hasCount := strings.Cut(s, ",")
	if start, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	count = 1
	if hasCount {
		if count, err = strconv.Atoi(b); err != nil {
			return 0, 0, err
		}
	}
	if start < 0 || count < 0 {
		return 0, 0, errors.New("negative line range")
	}
	return start, count, nil
}

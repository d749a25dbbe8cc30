// Package keyscan finds leaked hrgate credentials in files and in the
// history of git repositories.
//
// A candidate is a string that matches a credential's pattern and passes
// its checksum, so look-alikes (documentation placeholders, truncated or
// mistyped keys) are not reported. The package knows nothing of the store:
// a Finding carries the secret's hash, and Classify asks a KeyLookup what
// the key is.
package keyscan

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
)

// Kind names a type of credential: one of the kinds of hrgate's list of
// the secrets it hands out (hrgate.SecretShapes).
type Kind = hrgate.SecretKind

// Credential kinds the scanner finds.
const (
	// KindAPIKey is an hrgate API key (hrg_live_… or hrg_test_…).
	KindAPIKey = hrgate.SecretAPIKey
	// KindClientSecret is an OAuth client secret (hrg_cs_…). The store
	// cannot find a client by its secret, so these are Unchecked.
	KindClientSecret = hrgate.SecretClientSecret
	// KindAdminToken is an admin API token (hrg_admin_…): it has no
	// checksum, so every match is reported, Unchecked.
	KindAdminToken = hrgate.SecretAdminToken
	// KindSourceToken is a SCIM source's bearer token (hrg_scim_…),
	// checked against the store's sources (ClassifySourceToken). A live
	// one is replaced by a rotation (hrgate sources rotate-credential),
	// which hands out a new token the identity provider must be given:
	// a scan never does it on its own authority, even with --revoke.
	KindSourceToken = hrgate.SecretSourceToken
)

// Pattern describes one kind of scannable credential. Adding a credential
// type to the scanner is adding it to hrgate.SecretShapes and its check
// and hash to verifiers.
type Pattern struct {
	Kind Kind
	// Regexp finds candidates. It must match strings of bounded length:
	// the scanner reads long lines in pieces and keeps that many bytes
	// between pieces, so that a credential split across two is found.
	Regexp *regexp.Regexp
	// Check reports whether a candidate is a credential (checksum).
	Check func(string) bool
	// Hash returns the form of the credential the store indexes.
	Hash func(string) []byte
}

// verifier is how the scanner tells a credential of one kind from a
// look-alike (check) and the form of it the store indexes (hash). The
// zero verifier leaves its kind out of the scan.
type verifier struct {
	check func(string) bool
	hash  func(string) []byte
}

// verifiers holds a verifier for every kind of hrgate.SecretShapes:
// DefaultPatterns panics on a kind missing here, so that a secret hrgate
// starts to hand out is scanned for, or left out on purpose.
var verifiers = map[Kind]verifier{
	KindAPIKey: {
		check: func(s string) bool {
			_, ok := hrgate.CheckAPIKey(s)
			return ok
		},
		hash: hrgate.HashAPIKey,
	},
	KindClientSecret: {check: hrgate.CheckClientSecret, hash: hrgate.HashClientSecret},
	KindAdminToken:   {check: func(string) bool { return true }, hash: hrgate.HashAPIKey},
	KindSourceToken:  {check: hrgate.CheckSourceToken, hash: hrgate.HashSourceToken},
	// Left out: a Standard Webhooks secret (whsec_…) is a format other
	// services hand out too, without a checksum to tell hrgate's from
	// theirs, so that each one found would fail a scan, unchecked.
	hrgate.SecretWebhookSecret: {},
}

// DefaultPatterns returns the credentials hrgate issues that the scanner
// finds, in the order of hrgate.SecretShapes, with their patterns.
func DefaultPatterns() []Pattern {
	var ps []Pattern
	for _, sh := range hrgate.SecretShapes() {
		v, ok := verifiers[sh.Kind]
		if !ok {
			panic(fmt.Sprintf("keyscan: secret kind %q is neither scanned for nor left out", sh.Kind))
		}
		if v.check != nil {
			ps = append(ps, Pattern{Kind: sh.Kind, Regexp: sh.Pattern, Check: v.check, Hash: v.hash})
		}
	}
	return ps
}

// Finding is one occurrence of a credential.
//
// Secret is kept so that the caller can look the credential up and revoke
// it; it is never part of the finding's text or JSON forms. Print Redacted.
type Finding struct {
	// Path is the file, as given to the scanner and joined with the path
	// inside the tree; for history findings, relative to the repository.
	Path string `json:"path"`
	// Line is 1-based.
	Line int `json:"line"`
	// Commit is the full hash of the commit that added the line, for
	// history findings, and empty for files.
	Commit   string `json:"commit,omitempty"`
	Kind     Kind   `json:"kind"`
	Secret   string `json:"-"`
	Redacted string `json:"redacted"`
	Hash     []byte `json:"-"`
}

// String describes the finding without its secret, so that a finding that
// reaches a log or an error message by accident leaks nothing.
func (f Finding) String() string {
	return fmt.Sprintf("%s %s %s", f.Location(), f.Kind, f.Redacted)
}

// GoString keeps %#v from printing the secret.
func (f Finding) GoString() string { return "keyscan.Finding{" + f.String() + "}" }

// Location returns path:line, followed by @commit for history findings.
func (f Finding) Location() string {
	loc := fmt.Sprintf("%s:%d", f.Path, f.Line)
	if f.Commit != "" {
		loc += "@" + f.Commit
	}
	return loc
}

// redactedLen is how much of a secret a report shows: the prefix names the
// credential type and environment, and three more characters (18 bits of
// 256 for an API key) tell two findings apart at a glance.
const redactedLen = 12

// Redact returns the first characters of secret followed by an ellipsis.
func Redact(secret string) string {
	if len(secret) <= redactedLen {
		return "…"
	}
	return secret[:redactedLen] + "…"
}

// Skip is a file the scanner did not read, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Skip reasons.
const (
	SkipBinary     = "binary"
	SkipTooLarge   = "too large"
	SkipUnreadable = "unreadable"
)

// Result gathers the findings of one or more scans. The same secret at the
// same place (commit, path, line) is recorded once.
type Result struct {
	Findings []Finding
	Skipped  []Skip
	// Files and Commits count what was read, so that a report of no
	// findings can show that something was scanned.
	Files   int
	Commits int

	seen map[findingKey]struct{}
}

type findingKey struct {
	commit, path string
	line         int
	secret       string
}

func (r *Result) add(f Finding) {
	k := findingKey{f.Commit, f.Path, f.Line, f.Secret}
	if _, dup := r.seen[k]; dup {
		return
	}
	if r.seen == nil {
		r.seen = make(map[findingKey]struct{})
	}
	r.seen[k] = struct{}{}
	r.Findings = append(r.Findings, f)
}

// Merge adds o's findings, skips and counts to r.
func (r *Result) Merge(o *Result) {
	for _, f := range o.Findings {
		r.add(f)
	}
	r.Skipped = append(r.Skipped, o.Skipped...)
	r.Files += o.Files
	r.Commits += o.Commits
}

// DefaultMaxFileSize is the size above which files are skipped (and
// reported as skipped) rather than read.
const DefaultMaxFileSize = 10 << 20

// Scanner finds credentials. It holds no state between scans and may be
// used by several goroutines.
type Scanner struct {
	patterns    []Pattern
	keep        int
	maxFileSize int64
}

// Option configures a Scanner.
type Option func(*Scanner)

// WithMaxFileSize sets the size above which files are skipped.
func WithMaxFileSize(n int64) Option { return func(s *Scanner) { s.maxFileSize = n } }

// New returns a Scanner for patterns. It panics if a pattern is incomplete
// or can match strings of unbounded length: the table is fixed at compile
// time, and a bad entry is a programming error.
func New(patterns []Pattern, opts ...Option) *Scanner {
	s := &Scanner{patterns: patterns, maxFileSize: DefaultMaxFileSize}
	for _, p := range patterns {
		if p.Kind == "" || p.Regexp == nil || p.Check == nil || p.Hash == nil {
			panic(fmt.Sprintf("keyscan: incomplete pattern %q", p.Kind))
		}
		n, ok := maxMatchLen(p.Regexp)
		if !ok {
			panic(fmt.Sprintf("keyscan: pattern %q can match unbounded strings", p.Kind))
		}
		s.keep = max(s.keep, n-1)
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// finding builds a Finding for secret, which p matched.
func finding(p *Pattern, path string, line int, commit, secret string) Finding {
	return Finding{
		Path: path, Line: line, Commit: commit, Kind: p.Kind,
		Secret: secret, Redacted: Redact(secret), Hash: p.Hash(secret),
	}
}

// maxMatchLen returns the length in bytes of the longest string re can
// match, and false if there is no bound. Deriving it from the expression,
// rather than declaring it next to each pattern, means it cannot be wrong.
func maxMatchLen(re *regexp.Regexp) (int, bool) {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return 0, false
	}
	return maxLen(t.Simplify())
}

func maxLen(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0, true
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n, true
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0, true
		}
		// Ranges are sorted, so the last bound is the widest rune.
		return utf8.RuneLen(re.Rune[len(re.Rune)-1]), true
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax, true
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max < 0 {
			return 0, false
		}
		n, ok := maxLen(re.Sub[0])
		return n * re.Max, ok
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range re.Sub {
			n, ok := maxLen(sub)
			if !ok {
				return 0, false
			}
			if re.Op == syntax.OpConcat {
				total += n
			} else {
				total = max(total, n)
			}
		}
		return total, true
	}
	// OpStar, OpPlus and anything added to the syntax later.
	return 0, false
}

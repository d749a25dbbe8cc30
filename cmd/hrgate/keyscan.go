package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyscan"
)

// scanFindingJSON is one place a key was found. It carries the redacted
// key only: a scan report is often a CI log, which is itself a place keys
// must not leak to.
type scanFindingJSON struct {
	Path       string `json:"path"`
	Line       int    `json:"line"`
	Commit     string `json:"commit,omitempty"`
	Kind       string `json:"kind"`
	KeyID      string `json:"key_id,omitempty"`
	Status     string `json:"status"`
	Redacted   string `json:"redacted"`
	RevokedNow bool   `json:"revoked_now,omitempty"`
}

// scanReportJSON is the --output json form of a scan. Keys, Live and
// RevokedNow count distinct keys; a key can be found in several places.
type scanReportJSON struct {
	Findings       []scanFindingJSON `json:"findings"`
	Keys           int               `json:"keys"`
	Live           int               `json:"live"`
	RevokedNow     int               `json:"revoked_now"`
	FilesScanned   int               `json:"files_scanned"`
	CommitsScanned int               `json:"commits_scanned"`
	Skipped        []keyscan.Skip    `json:"skipped"`
}

func (m *Main) keysScanCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Find leaked API keys and other hrgate secrets in files and git history",
		Long: `Scan files and directories (and, with --git, the whole history of the git
repository at each PATH) for hrgate API keys, OAuth client secrets, the
admin token and SCIM source tokens. A string counts only if its checksum is
valid, so look-alikes are not reported. Each API key is looked up by hash
in the database and reported as live, revoked, expired or unknown; each
SCIM source token as live (KEY is its source) or unknown (rotated away,
or not this database's); the other kinds cannot be checked and are
reported as such, to be treated as live. --revoke revokes live API keys
only: a live SCIM token is replaced with hrgate sources rotate-credential,
whose new token the identity provider must be given. The report shows
where each is and its first characters, never the secret.

Exit status: 1 when a live key was found, even if --revoke revoked it,
since it leaked and must be replaced and removed from the files and the
history; with --offline, 1 when any key was found. 0 when none was; 2 for
usage errors. Unknown keys (not in this database) do not fail the scan:
scan with --offline where any key should.`,
		Example: `  hrgate keys scan .
  hrgate keys scan --git --output json .
  hrgate keys scan --git --revoke /srv/checkouts/payroll-sync
  hrgate keys scan --offline $(git diff --cached --name-only --diff-filter=ACM)`,
		Args: cobra.ArbitraryArgs,
		RunE: m.keysScan,
	}
	cmd.Flags().Bool("git", false, "also scan every commit of the git repository each PATH is in")
	cmd.Flags().Bool("revoke", false, "revoke every live API key found (a live SCIM source token: hrgate sources rotate-credential)")
	cmd.Flags().Bool("offline", false, "do not open the database: report keys as unchecked and fail on any")
	return cmd
}

func (m *Main) keysScan(cmd *cobra.Command, paths []string) error {
	history, _ := cmd.Flags().GetBool("git")
	revoke, _ := cmd.Flags().GetBool("revoke")
	offline, _ := cmd.Flags().GetBool("offline")
	if len(paths) == 0 {
		return hrgate.Errorf(hrgate.EINVALID, "Name at least one file or directory to scan.")
	}
	if revoke && offline {
		return hrgate.Errorf(hrgate.EINVALID, "--revoke needs the database and cannot be used with --offline.")
	}
	if !offline {
		if err := m.open(cmd); err != nil {
			return err
		}
	}
	ctx := cmd.Context()

	s := keyscan.New(keyscan.DefaultPatterns())
	res := &keyscan.Result{}
	for _, p := range paths {
		// History first: a path that is not a git work tree is a usage
		// error, better reported before a long walk.
		if history {
			h, err := s.ScanHistory(ctx, p)
			if err != nil {
				return err
			}
			res.Merge(h)
		}
		f, err := s.ScanFiles(ctx, p)
		if err != nil {
			return err
		}
		res.Merge(f)
	}

	// One look-up per distinct key, however often it was found.
	type verdict struct {
		status keyscan.Status
		id     string
	}
	verdicts := make(map[string]verdict)
	counts := make(map[keyscan.Status]int)
	report := scanReportJSON{
		Findings: make([]scanFindingJSON, 0, len(res.Findings)), Skipped: res.Skipped,
		FilesScanned: res.Files, CommitsScanned: res.Commits,
	}
	if report.Skipped == nil {
		report.Skipped = []keyscan.Skip{}
	}
	var live []string
	liveSources := 0
	for _, f := range res.Findings {
		if _, seen := verdicts[string(f.Hash)]; seen {
			continue
		}
		v := verdict{status: keyscan.Unchecked}
		if !offline {
			var err error
			if v.status, v.id, err = keyscan.Classify(ctx, m.Store, m.Gate.Now(), f); err != nil {
				return err
			}
		}
		verdicts[string(f.Hash)] = v
		counts[v.status]++
		report.Keys++
		switch {
		case v.status != keyscan.Live:
		case f.Kind == keyscan.KindAPIKey:
			live = append(live, v.id)
		default:
			// A SCIM source's token: rotated, never revoked here.
			liveSources++
		}
	}
	report.Live = len(live) + liveSources

	revokedNow := make(map[string]bool)
	if revoke {
		for _, id := range live {
			if err := m.Gate.RevokeKey(ctx, id); err != nil {
				return err
			}
			revokedNow[id] = true
		}
		report.RevokedNow = len(revokedNow)
	}

	for _, f := range res.Findings {
		v := verdicts[string(f.Hash)]
		report.Findings = append(report.Findings, scanFindingJSON{
			Path: f.Path, Line: f.Line, Commit: f.Commit, Kind: string(f.Kind),
			KeyID: v.id, Status: string(v.status), Redacted: f.Redacted,
			RevokedNow: v.id != "" && revokedNow[v.id],
		})
	}

	var err error
	if m.output == "json" {
		err = m.printJSON(report)
	} else {
		err = m.printScanReport(report, counts, liveSources)
	}
	if err != nil {
		return err
	}
	// A client secret cannot be checked against the store, so finding one
	// fails the scan like a live key does.
	if report.Live > 0 || counts[keyscan.Unchecked] > 0 {
		return exitStatus(1)
	}
	return nil
}

// printScanReport writes the text form of a scan: a table of findings and
// a summary that says what to do next. counts holds the number of distinct
// keys per status, liveSources how many of the live ones are SCIM source
// tokens.
func (m *Main) printScanReport(r scanReportJSON, counts map[keyscan.Status]int, liveSources int) error {
	w := m.Stdout
	if len(r.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LOCATION\tKEY\tSTATUS\tSECRET")
		for _, f := range r.Findings {
			loc := fmt.Sprintf("%s:%d", printable(f.Path), f.Line)
			if f.Commit != "" {
				loc += "@" + f.Commit[:min(12, len(f.Commit))]
			}
			id := f.KeyID
			if id == "" {
				id = "-"
			}
			status := f.Status
			if f.RevokedNow {
				status += ", revoked now"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", loc, id, status, f.Redacted)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	binary := 0
	for _, sk := range r.Skipped {
		if sk.Reason == keyscan.SkipBinary {
			binary++
			continue
		}
		fmt.Fprintf(w, "Skipped %s: %s.\n", printable(sk.Path), sk.Reason)
	}
	if binary > 0 {
		fmt.Fprintf(w, "Skipped %d binary files.\n", binary)
	}

	scanned := plural(r.FilesScanned, "file")
	if r.CommitsScanned > 0 {
		scanned += " and " + plural(r.CommitsScanned, "commit")
	}
	if r.Keys == 0 {
		_, err := fmt.Fprintf(w, "No keys found in %s.\n", scanned)
		return err
	}
	found := fmt.Sprintf("Found %s in %s (%s scanned)", plural(r.Keys, "key"), plural(len(r.Findings), "place"), scanned)
	checked := r.Keys - counts[keyscan.Unchecked]
	if checked == 0 {
		fmt.Fprintf(w, "%s, not checked against a database: treat them as live.\n", found)
		return nil
	}
	fmt.Fprintf(w, "%s: %d live, %d revoked, %d expired, %d unknown", found,
		counts[keyscan.Live], counts[keyscan.Revoked], counts[keyscan.Expired], counts[keyscan.Unknown])
	if n := counts[keyscan.Unchecked]; n > 0 {
		// Client secrets and admin tokens cannot be looked up by hash.
		fmt.Fprintf(w, ", %d that cannot be checked (client secrets, admin tokens): treat them as live and replace them", n)
	}
	fmt.Fprintln(w, ".")
	if liveSources > 0 {
		fmt.Fprintln(w, "Live SCIM source tokens leaked (KEY is the source): rotate them (hrgate sources rotate-credential SOURCE), give the identity provider the new token, then remove the old one from the files and the git history.")
	}
	switch {
	case r.RevokedNow > 0:
		fmt.Fprintf(w, "Revoked %s. Issue replacements, then remove the keys from the files and the git history.\n", plural(r.RevokedNow, "live key"))
	case r.Live > liveSources:
		fmt.Fprintln(w, "Live keys leaked: revoke them (hrgate keys revoke ID, or scan again with --revoke), then remove them from the files and the git history.")
	}
	return nil
}

// printable returns s, quoted if it holds characters a terminal could
// take for control sequences: file names come from the scanned tree, which
// is not necessarily trusted.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

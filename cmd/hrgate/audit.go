package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/sqlstore"
)

// openAudit opens the audit trail for the command: its store and its keys,
// which live in the data store's secret vault, and the log the gate and
// the servers record to. With audit.insecure_disable it opens nothing and
// says so.
func (m *Main) openAudit(cmd *cobra.Command) error {
	if m.Config.Audit.InsecureDisable {
		m.Logger.Warn("the audit trail is disabled (audit.insecure_disable): nothing is recorded; use this only to measure what the trail costs")
		return nil
	}
	keys, err := m.openAuditStore(cmd)
	if err != nil {
		return err
	}
	opts := audit.Options{Instance: m.Config.Audit.Instance, Logger: m.Logger}
	if m.serving {
		opts.CheckpointEvery = time.Duration(m.Config.Audit.CheckpointInterval)
	}
	// The log outlives the command's context: it is closed, after the
	// servers, by Close, which writes what is still queued.
	l, err := audit.Open(context.WithoutCancel(cmd.Context()), m.auditStore, keys, opts)
	if err != nil {
		return fmt.Errorf("open the audit trail: %w", err)
	}
	m.Audit = l
	return nil
}

// openAuditStore opens the audit database and reads the audit keys.
func (m *Main) openAuditStore(cmd *cobra.Command) (*audit.Keys, error) {
	st, err := sqlstore.OpenAuditLog(cmd.Context(), m.Config.AuditDSN(), sqlstore.Options{AutoMigrate: true, Logger: m.Logger})
	if err != nil {
		return nil, fmt.Errorf("open the audit database: %w", err)
	}
	m.auditStore = st
	keys, err := audit.LoadKeys(cmd.Context(), m.Store)
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// openAuditReader opens what the audit commands need: the configuration,
// the data store (it keeps the audit keys) and the audit database, without
// a log that writes.
func (m *Main) openAuditReader(cmd *cobra.Command) (*audit.Keys, error) {
	if err := m.loadConfig(cmd); err != nil {
		return nil, err
	}
	if _, err := m.openStore(cmd, true); err != nil {
		return nil, err
	}
	return m.openAuditStore(cmd)
}

// osUser names the operator running a command, for the audit trail.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func (m *Main) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify, search and export the audit trail"}

	verify := &cobra.Command{
		Use:   "verify [--checkpoint FILE]",
		Short: "Check every event of the audit trail; exit 1 and name the first broken event if any fails",
		Long: "Walks the whole chain: each event's hash and MAC, the search index, the signed checkpoints and the\n" +
			"head. With --checkpoint, also checks the trail against a checkpoint exported earlier with\n" +
			"`hrgate audit checkpoint --out` and kept outside the database, which catches a trail cut short\n" +
			"or rewritten by someone who holds the database and its keys.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts audit.VerifyOptions
			if path, _ := cmd.Flags().GetString("checkpoint"); path != "" {
				b, err := os.ReadFile(path) // #nosec G304 -- the operator names the checkpoint file.
				if err != nil {
					return hrgate.Errorf(hrgate.EINVALID, "--checkpoint: %v", errors.Unwrap(err))
				}
				if opts.Checkpoint, err = audit.ParseCheckpoint(b); err != nil {
					return err
				}
			}
			keys, err := m.openAuditReader(cmd)
			if err != nil {
				return err
			}
			start := time.Now()
			rep, err := audit.Verify(cmd.Context(), m.auditStore, keys, opts)
			if err != nil {
				return err
			}
			if err := m.printReport(rep, time.Since(start)); err != nil {
				return err
			}
			if !rep.OK {
				return exitStatus(1)
			}
			return nil
		},
	}
	verify.Flags().String("checkpoint", "", "a checkpoint file exported with `hrgate audit checkpoint --out`")

	search := &cobra.Command{
		Use:     "search",
		Short:   "Find audit events: who accessed an employee, what a credential did, failed authentications",
		Example: "  hrgate audit search --employee emp_… --from 2026-11-01T00:00:00Z\n  hrgate audit search --type auth.failure --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rd, f, err := m.openAuditSearch(cmd)
			if err != nil {
				return err
			}
			evs, err := rd.FindAuditEvents(cmd.Context(), f)
			if err != nil {
				return err
			}
			if m.output == "json" {
				if evs == nil {
					evs = []*hrgate.AuditEvent{}
				}
				return m.printJSON(evs)
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tACTOR\tCREDENTIAL\tROUTE\tSTATUS\tRECORDS\tDETAIL")
			for _, ev := range evs {
				detail := ev.Reason
				if detail == "" {
					detail = ev.Target
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", ev.Seq, ev.Time.Format(time.RFC3339), ev.Type,
					orDash(ev.Actor), orDash(ev.CredentialID), orDash(ev.Route), statusText(ev.Status), len(ev.RecordIDs), orDash(detail))
			}
			return tw.Flush()
		},
	}
	addFilterFlags(search)
	search.Flags().Int("limit", 100, "at most this many events (1-10000)")
	search.Flags().Int64("after", 0, "only events after this sequence number, to page on")

	export := &cobra.Command{
		Use:   "export --format jsonl|cef",
		Short: "Write the audit trail to stdout as JSON lines or ArcSight CEF, one event per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, _ := cmd.Flags().GetString("format")
			if format != audit.FormatJSONL && format != audit.FormatCEF {
				return hrgate.Errorf(hrgate.EINVALID, "--format must be jsonl or cef")
			}
			rd, f, err := m.openAuditSearch(cmd)
			if err != nil {
				return err
			}
			_, err = audit.Export(cmd.Context(), rd, f, format, version, m.Stdout)
			return err
		},
	}
	export.Flags().String("format", audit.FormatJSONL, "jsonl or cef")
	addFilterFlags(export)

	checkpoint := &cobra.Command{
		Use:   "checkpoint [--out FILE]",
		Short: "Append a signed checkpoint of the trail's head and print it, or write it to a file to keep elsewhere",
		Long: "A checkpoint signs the newest event's sequence number and hash. Kept away from the database (another\n" +
			"host, write-once storage), it lets `hrgate audit verify --checkpoint FILE` prove later that the trail\n" +
			"was neither cut short nor rewritten up to that event.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("out")
			var f *os.File
			if out != "" {
				// The file is claimed first, so that a name taken fails
				// before anything is appended to the trail.
				var err error
				f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) // #nosec G302 G304 -- a checkpoint is public; the operator names the file.
				if errors.Is(err, fs.ErrExist) {
					return hrgate.Errorf(hrgate.ECONFLICT, "--out: %s exists; checkpoints are never overwritten, name a new file", out)
				} else if err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				defer f.Close()
			}
			c, err := m.checkpoint(cmd)
			if err != nil {
				if f != nil {
					_ = os.Remove(out)
				}
				return err
			}
			if f == nil {
				_, err = c.WriteTo(m.Stdout)
				return err
			}
			if _, err := c.WriteTo(f); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return m.report(c, "Checkpoint of event %d written to %s; keep it away from the database.\n", c.Seq, out)
		},
	}
	checkpoint.Flags().String("out", "", "write the checkpoint to this new file instead of stdout")

	cmd.AddCommand(verify, search, export, checkpoint)
	return cmd
}

// checkpoint appends a checkpoint to the trail.
func (m *Main) checkpoint(cmd *cobra.Command) (*audit.Checkpoint, error) {
	if err := m.open(cmd); err != nil {
		return nil, err
	}
	if m.Audit == nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "the audit trail is disabled (audit.insecure_disable)")
	}
	return m.Audit.Checkpoint(cmd.Context())
}

// printReport writes the outcome of a verification.
func (m *Main) printReport(rep *audit.Report, took time.Duration) error {
	if m.output == "json" {
		out := map[string]any{"ok": rep.OK, "events": rep.Events, "head": rep.Head.Seq, "checkpoints": rep.Checkpoints}
		if !rep.OK {
			out["broken_seq"], out["problem"] = rep.BrokenSeq, rep.Problem
		}
		if rep.Newest != nil {
			out["newest_checkpoint"] = rep.Newest
		}
		return m.printJSON(out)
	}
	if !rep.OK {
		_, err := fmt.Fprintf(m.Stdout, "FAILED at event %d: %s\n(%d events verified before it)\n", rep.BrokenSeq, rep.Problem, rep.Events)
		return err
	}
	newest := "none yet"
	if rep.Newest != nil {
		newest = fmt.Sprintf("event %d at %s", rep.Newest.Seq, rep.Newest.Time.Format(time.RFC3339))
	}
	_, err := fmt.Fprintf(m.Stdout, "OK: %d events verified in %s, up to the head at event %d; %d signed checkpoints, the newest covering %s.\n",
		rep.Events, took.Round(time.Millisecond), rep.Head.Seq, rep.Checkpoints, newest)
	return err
}

func addFilterFlags(cmd *cobra.Command) {
	cmd.Flags().String("consumer", "", "only events of this consumer (name or id)")
	cmd.Flags().String("credential", "", "only events of this API key or OAuth client (id)")
	cmd.Flags().String("type", "", "only events of this type, e.g. auth.failure (docs/audit.md)")
	cmd.Flags().String("employee", "", "only events whose answer returned this record (emp_… or any record id)")
	cmd.Flags().String("from", "", "only events at or after this time (RFC 3339)")
	cmd.Flags().String("to", "", "only events before this time (RFC 3339)")
}

// openAuditSearch opens the trail for reading, as openAuditReader, and
// reads the filter flags: what search and export share.
func (m *Main) openAuditSearch(cmd *cobra.Command) (*audit.Reader, hrgate.AuditFilter, error) {
	keys, err := m.openAuditReader(cmd)
	if err != nil {
		return nil, hrgate.AuditFilter{}, err
	}
	f, err := m.searchFilter(cmd)
	if err != nil {
		return nil, f, err
	}
	return audit.NewReader(m.auditStore, keys), f, nil
}

// searchFilter reads the filter flags.
func (m *Main) searchFilter(cmd *cobra.Command) (hrgate.AuditFilter, error) {
	var f hrgate.AuditFilter
	fl := cmd.Flags()
	if c, _ := fl.GetString("consumer"); c != "" {
		// A deleted consumer is still in the trail: an id is taken as it
		// is, a name must name a consumer that exists.
		if hrgate.ValidID(hrgate.PrefixConsumer, c) {
			f.ConsumerID = c
		} else {
			con, err := m.Store.FindConsumer(cmd.Context(), c)
			if err != nil {
				return f, err
			}
			f.ConsumerID = con.ID
		}
	}
	f.CredentialID, _ = fl.GetString("credential")
	if t, _ := fl.GetString("type"); t != "" {
		f.Types = []string{t}
	}
	f.RecordID, _ = fl.GetString("employee")
	for _, tf := range []struct {
		flag string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v, _ := fl.GetString(tf.flag); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, hrgate.Errorf(hrgate.EINVALID, "--%s must be an RFC 3339 time such as 2026-11-01T00:00:00Z", tf.flag)
			}
			*tf.dst = t.UTC()
		}
	}
	if fl.Lookup("limit") != nil {
		f.Limit, _ = fl.GetInt("limit")
		if f.Limit < 1 || f.Limit > 10_000 {
			return f, hrgate.Errorf(hrgate.EINVALID, "--limit must be between 1 and 10000")
		}
		f.AfterSeq, _ = fl.GetInt64("after")
	}
	return f, nil
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func statusText(s int) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprint(s)
}

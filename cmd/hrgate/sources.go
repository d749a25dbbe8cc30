package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/view"
	"github.com/hrgate/hrgate/sources"
)

// openSources opens the store and the audit trail and returns the
// sources service on them.
func (m *Main) openSources(cmd *cobra.Command) (*sources.Service, error) {
	if err := m.open(cmd); err != nil {
		return nil, err
	}
	return m.sourcesService(), nil
}

// sourcesService returns the sources service on the open store and
// audit trail.
func (m *Main) sourcesService() *sources.Service {
	opts := []sources.Option{sources.WithLogger(m.Logger)}
	if m.Audit != nil {
		opts = append(opts, sources.WithAudit(m.Audit))
	}
	return sources.New(m.Store, opts...)
}

func (m *Main) sourcesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sources", Short: "Manage the systems that bring HR data in, and import CSV files"}

	create := &cobra.Command{
		Use:   "create NAME --company SLUG --type scim|csv|webhook",
		Short: "Create a source; its credential is printed once",
		Long: "A SCIM source gets a bearer token (hrg_scim_…), a webhook source a signing secret (whsec_…);\n" +
			"both are shown once, now, and never again: hrgate keeps only the token's hash and the secret\n" +
			"sealed under the keyring. A CSV source has no credential: an operator imports its files.",
		Example: "  hrgate sources create workday --company acme --type scim --output json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			company, _ := cmd.Flags().GetString("company")
			typ, _ := cmd.Flags().GetString("type")
			if company == "" {
				return hrgate.Errorf(hrgate.EINVALID, "--company is required")
			}
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			src, cred, err := svc.Create(cmd.Context(), args[0], company, hrgate.SourceType(typ))
			if err != nil {
				return err
			}
			out := sourceCredential{src.ID, cred}
			switch {
			case cred.Token != "":
				return m.report(out, "Created SCIM source %s (%s).\nToken (shown once, store it now): %s\n", src.Name, src.ID, cred.Token)
			case cred.Secret != "":
				return m.report(out, "Created webhook source %s (%s).\nSigning secret (shown once, store it now): %s\n", src.Name, src.ID, cred.Secret)
			}
			return m.report(out, "Created CSV source %s (%s).\n", src.Name, src.ID)
		},
	}
	create.Flags().String("company", "", "the company (slug or id) whose data the source brings")
	create.Flags().String("type", "", "scim, csv or webhook")

	list := &cobra.Command{
		Use: "list [--company SLUG]", Short: "List sources", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			company, _ := cmd.Flags().GetString("company")
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			ss, err := svc.Sources(cmd.Context(), company)
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(view.All(ss, view.NewSource))
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tTYPE\tCOMPANY\tCREATED")
			for _, s := range ss {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.ID, s.Type, s.CompanyID, s.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	list.Flags().String("company", "", "only the sources of this company (slug or id)")

	show := &cobra.Command{
		Use: "show NAME|ID", Short: "Show one source", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			s, err := svc.Source(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.report(view.NewSource(s), "Source %s (%s)\n  type:    %s\n  company: %s\n  created: %s\n",
				s.Name, s.ID, s.Type, s.CompanyID, s.CreatedAt.Format(time.RFC3339))
		},
	}

	del := &cobra.Command{
		Use: "delete NAME|ID", Short: "Delete a source with its credential and runs (its employees stay)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			if err := svc.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"deleted": args[0]}, "Deleted source %s.\n", args[0])
		},
	}

	rotate := &cobra.Command{
		Use:   "rotate-credential NAME|ID",
		Short: "Give a SCIM source a new token, or a webhook source a new signing secret, printed once",
		Long: "The old token or secret stops working at once, as for a leaked one: give the new one to the\n" +
			"identity provider or HR system right away, since its requests fail until then (and a SCIM\n" +
			"client's count towards its address's brute-force lockout). A CSV source has no credential.",
		Example: "  hrgate sources rotate-credential workday --output json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			src, cred, err := svc.RotateCredential(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := sourceCredential{src.ID, cred}
			if cred.Token != "" {
				return m.report(out, "New token of SCIM source %s (shown once, store it now): %s\nThe old token no longer works.\n", src.Name, cred.Token)
			}
			return m.report(out, "New signing secret of webhook source %s (shown once, store it now): %s\nThe old secret no longer works.\n", src.Name, cred.Secret)
		},
	}

	imp := &cobra.Command{
		Use:   "import SOURCE FILE.csv [--mapping mapping.yaml] [--mode upsert|snapshot]",
		Short: "Import a CSV file into a CSV source, all or nothing",
		Long: "Every row is validated first; a file with any bad row imports nothing and every problem is\n" +
			"listed (row, column, message). In snapshot mode the employees of the source that the file\n" +
			"does not list are terminated. See docs/sources.md for the columns and the mapping format.",
		Example: "  hrgate sources import payroll-csv people.csv --mode snapshot",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, _ := cmd.Flags().GetString("mode")
			opts := sources.ImportOptions{Mode: mode}
			if path, _ := cmd.Flags().GetString("mapping"); path != "" {
				f, err := os.Open(path) // #nosec G304 -- the operator names the mapping file.
				if err != nil {
					return hrgate.Errorf(hrgate.EINVALID, "--mapping: %v", errors.Unwrap(err))
				}
				opts.Mapping, err = sources.ParseMapping(f)
				f.Close()
				if err != nil {
					return err
				}
			}
			f, err := os.Open(args[1]) // #nosec G304 -- the operator names the file to import.
			if err != nil {
				return hrgate.Errorf(hrgate.EINVALID, "%s: %v", args[1], errors.Unwrap(err))
			}
			defer f.Close()
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			run, err := svc.ImportCSV(cmd.Context(), args[0], f, opts)
			if run != nil && errors.Is(err, sources.ErrRejected) {
				if perr := m.printRun(run); perr != nil {
					return perr
				}
			}
			if err != nil {
				return err
			}
			return m.printRun(run)
		},
	}
	imp.Flags().String("mapping", "", "YAML file mapping the file's columns to fields (default: canonical column names)")
	imp.Flags().String("mode", sources.ModeUpsert, "upsert, or snapshot to terminate the employees missing from the file")

	runs := &cobra.Command{
		Use: "runs SOURCE", Short: "List the newest runs of a source", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			limit, _ := cmd.Flags().GetInt("limit")
			svc, err := m.openSources(cmd)
			if err != nil {
				return err
			}
			rs, err := svc.Runs(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(rs)
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tKIND\tMODE\tSTATUS\tSTARTED\tSECONDS\tROWS\tCREATED\tUPDATED\tTERMINATED\tUNCHANGED\tREJECTED")
			for _, r := range rs {
				secs := "-"
				if !r.FinishedAt.IsZero() {
					secs = fmt.Sprintf("%.1f", r.FinishedAt.Sub(r.StartedAt).Seconds())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.ID, r.Kind, r.Mode, r.Status,
					r.StartedAt.Format(time.RFC3339), secs, r.Rows, r.Created, r.Updated, r.Terminated, r.Unchanged, r.Rejected)
			}
			return tw.Flush()
		},
	}
	runs.Flags().Int("limit", 20, "at most this many runs (1-1000)")

	cmd.AddCommand(create, list, show, del, rotate, imp, runs)
	return cmd
}

// printRun reports a run: its counts, and its problems when it was
// rejected. With --output json the run is printed as it is stored.
func (m *Main) printRun(r *hrgate.SyncRun) error {
	if m.output == "json" {
		return m.printJSON(r)
	}
	fmt.Fprintf(m.Stdout, "Run %s (%s, %s): %s, %d rows: %d created, %d updated, %d terminated, %d unchanged, %d rejected.\n",
		r.ID, r.Kind, r.Mode, r.Status, r.Rows, r.Created, r.Updated, r.Terminated, r.Unchanged, r.Rejected)
	if len(r.Problems) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tCOLUMN\tPROBLEM")
	for _, p := range r.Problems {
		col := p.Column
		if col == "" {
			col = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", p.Row, col, p.Message)
	}
	if len(r.Problems) >= hrgate.MaxRunProblems {
		fmt.Fprintf(tw, "…\t\tonly the first %d problems are listed\n", hrgate.MaxRunProblems)
	}
	return tw.Flush()
}

// sourceCredential is the --output json form of a source's credential, as
// created or rotated: shown this once.
type sourceCredential struct {
	ID string `json:"id"`
	sources.Credential
}

package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sandbox"
)

func (m *Main) sandboxCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sandbox", Short: "Synthetic HR data for building and testing integrations"}
	seed := &cobra.Command{
		Use:   "seed",
		Short: "Generate realistic synthetic companies and employees",
		Long: "Generate deterministic synthetic data: the same --seed gives the same data. " +
			"Companies are marked as sandbox companies; hrg_test_ keys see only those.",
		Example: "  hrgate sandbox seed --companies 3 --employees 200",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			companies, _ := cmd.Flags().GetInt("companies")
			employees, _ := cmd.Flags().GetInt("employees")
			seedValue, _ := cmd.Flags().GetInt64("seed")
			opts := sandbox.Options{Companies: companies, Employees: employees, Seed: seedValue, Now: time.Now().UTC()}
			if err := opts.Validate(); err != nil {
				return err
			}
			if err := m.open(cmd); err != nil {
				return err
			}
			start := time.Now()
			n, err := m.seedSandbox(cmd, opts)
			if err != nil {
				return err
			}
			return m.report(map[string]any{"companies": companies, "employees": n, "seconds": time.Since(start).Seconds()}, "Seeded %d sandbox companies with %d employees in %s.\n", companies, n, time.Since(start).Round(time.Millisecond))
		},
	}
	seed.Flags().Int("companies", 3, "number of companies (1-50)")
	seed.Flags().Int("employees", 100, "employees per company")
	seed.Flags().Int64("seed", 1, "random seed; the same seed gives the same data")
	cmd.AddCommand(seed)
	return cmd
}

// seedSandbox generates the sandbox and writes it in one transaction, so a
// failure (a slug already taken, a full disk) leaves nothing behind.
func (m *Main) seedSandbox(cmd *cobra.Command, opts sandbox.Options) (int, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC()
	}
	employees := 0
	err := m.Store.Import(cmd.Context(), func(put func(*hrgate.Batch) error) error {
		return sandbox.Generate(cmd.Context(), opts, func(b *hrgate.Batch) error {
			employees += len(b.Employees)
			return put(b)
		})
	})
	if hrgate.ErrorCode(err) == hrgate.ECONFLICT {
		return 0, hrgate.Errorf(hrgate.ECONFLICT, "The sandbox is already seeded (its companies exist). Use another --data-dir or --database for a fresh one.")
	}
	return employees, err
}

package main

import (
	"github.com/spf13/cobra"
)

func (m *Main) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (serve also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.loadConfig(cmd); err != nil {
				return err
			}
			db, err := m.openStore(cmd, false)
			if err != nil {
				return err
			}
			n, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			return m.report(map[string]any{"applied": n}, "Applied %d migration(s); the %s database is up to date.\n", n, db.Dialect())
		},
	}
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate/sqlstore"
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
			dsn := m.Config.DatabaseDSN()
			db, err := sqlstore.Open(cmd.Context(), dsn, sqlstore.Options{Logger: m.Logger})
			if err != nil {
				return fmt.Errorf("open database %s: %w", sqlstore.RedactDSN(dsn), err)
			}
			m.Store = db
			n, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			return m.report(map[string]any{"applied": n}, "Applied %d migration(s); the %s database is up to date.\n", n, db.Dialect())
		},
	}
}

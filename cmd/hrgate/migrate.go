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
			db, err := sqlstore.Open(ctxOf(cmd), dsn, sqlstore.Options{Logger: m.Logger})
			if err != nil {
				return fmt.Errorf("open database %s: %w", sqlstore.RedactDSN(dsn), err)
			}
			m.Store = db
			n, err := db.Migrate(ctxOf(cmd))
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(map[string]any{"applied": n})
			}
			fmt.Fprintf(m.Stdout, "Applied %d migration(s); the %s database is up to date.\n", n, db.Dialect())
			return nil
		},
	}
}

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
			db, err := m.openStore(cmd, false)
			if err != nil {
				return err
			}
			n, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			st, err := sqlstore.OpenAuditLog(cmd.Context(), m.Config.AuditDSN(), sqlstore.Options{Logger: m.Logger})
			if err != nil {
				return fmt.Errorf("open the audit database: %w", err)
			}
			m.auditStore = st
			na, err := st.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			return m.report(map[string]any{"applied": n, "audit_applied": na},
				"Applied %d migration(s) to the %s database and %d to the audit trail; both are up to date.\n", n, db.Dialect(), na)
		},
	}
}

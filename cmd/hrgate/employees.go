package main

import (
	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
)

func (m *Main) employeesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "employees", Short: "Operator actions on employee records"}
	erase := &cobra.Command{
		Use:   "erase ID",
		Short: "Erase an employee for good (crypto-shredding)",
		Long: "Destroy the employee's data keys, so that the encrypted field groups (contact, personal, " +
			"compensation, banking, government_id) can no longer be decrypted from the database or from any " +
			"backup of it, then tombstone the record: it disappears from the API and its fields and blind " +
			"indexes are emptied, and so are its time-off requests and balances. Erasing an erased employee " +
			"succeeds. This cannot be undone.\n\n" +
			"The guarantee holds against backups of the database, not against backups of the key store " +
			"made before the erase (keyring.database; on PostgreSQL, by default, the same database): " +
			"see docs/encryption.md.",
		Example: "  hrgate employees erase emp_01hv3k8m2c9x7q5r4t6y8z0a1b --yes",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if yes, _ := cmd.Flags().GetBool("yes"); !yes {
				return hrgate.Errorf(hrgate.EINVALID, "Erasing an employee cannot be undone; add --yes to confirm.")
			}
			if err := m.open(cmd); err != nil {
				return err
			}
			if err := m.Gate.EraseEmployee(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"id": args[0], "erased": true},
				"Erased employee %s: its data keys are destroyed and its record is tombstoned.\n", args[0])
		},
	}
	erase.Flags().Bool("yes", false, "confirm the erase, which cannot be undone")
	cmd.AddCommand(erase)
	return cmd
}

package gate

import (
	"context"

	"github.com/hrgate/hrgate"
)

// EraseEmployee crypto-shreds an employee for an operator (the CLI and the
// admin API): the store destroys the employee's data keys, so that no copy
// of the encrypted field groups, in the database or in any backup of it,
// can be opened again, then tombstones the record and empties its time
// off. It is idempotent. A malformed id is EINVALID, an unknown one
// ENOTFOUND.
func (g *Gate) EraseEmployee(ctx context.Context, id string) error {
	if !hrgate.ValidID(hrgate.PrefixEmployee, id) {
		return hrgate.Errorf(hrgate.EINVALID, "An employee id has the form %s_… .", hrgate.PrefixEmployee)
	}
	if err := g.store.EraseEmployee(ctx, id); err != nil {
		return err
	}
	// An erasure is a change like any other: who asked for it, from
	// where, is on the trail (the id only, nothing of the record).
	if err := g.record(ctx, hrgate.AuditEmployeeErased, id, "", "", nil, nil); err != nil {
		return err
	}
	g.log.Info("erased an employee (crypto-shredding): data keys destroyed, record tombstoned", "employee", id)
	return nil
}

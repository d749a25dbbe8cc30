package hrgate

import (
	"context"
	"errors"
	"time"
)

// SCIMUser is what hrgate keeps of an employee beyond the unified model
// for the SCIM source that created it (docs/scim.md): the SCIM userName,
// which is the source's own login name for the person and unique among its
// users, and whether the source deleted the user. A deleted user stays an
// employee (terminated: nothing is hard-deleted), but SCIM answers 404 for
// it and omits it from lists, as RFC 7644 §3.6 requires.
type SCIMUser struct {
	EmployeeID string
	SourceID   string
	UserName   string
	DeletedAt  time.Time
}

// Deleted reports whether the source deleted the user.
func (u *SCIMUser) Deleted() bool { return !u.DeletedAt.IsZero() }

// SCIMUserStore reads the SCIM state of a source's users. Writes happen in
// the sync engine's transaction (SCIMUserTx), with the change they belong
// to.
type SCIMUserStore interface {
	// SCIMUsers returns the SCIM state of the given employees of the
	// source, by employee id; employees without one are absent.
	SCIMUsers(ctx context.Context, sourceID string, employeeIDs []string) (map[string]*SCIMUser, error)
	// FindSCIMUserByName returns the user of the source, not deleted,
	// whose userName equals name ignoring case, or ENOTFOUND.
	FindSCIMUserByName(ctx context.Context, sourceID, name string) (*SCIMUser, error)
}

// SCIMUserTx is implemented by the sync transactions (SyncTx) of stores
// that keep SCIM state, so that the state commits with the employee
// change it belongs to, or not at all.
type SCIMUserTx interface {
	// PutSCIMUser inserts or replaces the state of u.EmployeeID, an
	// employee of the transaction's source. A userName another user of
	// the source holds (ignoring case; deleted users hold none) is
	// ECONFLICT. A deleted user is never written again: ENOTFOUND, so
	// that a write that read the user before a concurrent deletion
	// committed fails instead of bringing the user back. was is the
	// userName the writer read ("" when it creates the user): a stored
	// state with another userName (compared exactly: a change of case is
	// a rename) is ECONFLICT with cause *SCIMUserRenamed, which names
	// the stored userName and matches ErrSCIMUserChanged, so that a
	// write that read the user before a concurrent rename committed
	// fails instead of reverting it.
	PutSCIMUser(ctx context.Context, u *SCIMUser, was string) error
}

// ErrSCIMUserChanged is the cause of the ECONFLICT PutSCIMUser answers
// when the stored userName is no longer the one the writer read, which
// tells it apart from a userName another user holds. The cause is a
// *SCIMUserRenamed, which errors.Is matches to it.
var ErrSCIMUserChanged = errors.New("the SCIM user was renamed since it was read")

// SCIMUserRenamed is the cause of PutSCIMUser's ECONFLICT for a user
// renamed since the writer read it: UserName is the userName stored now,
// as the refused write found it, so that a writer that does not rename
// the user can write again in the same transaction, keeping it.
type SCIMUserRenamed struct{ UserName string }

// Error does not repeat the userName.
func (e *SCIMUserRenamed) Error() string { return ErrSCIMUserChanged.Error() }

// Is matches ErrSCIMUserChanged.
func (e *SCIMUserRenamed) Is(target error) bool { return target == ErrSCIMUserChanged }

// EmployeeCheckTx is implemented by the sync transactions of stores that
// can check references between employees inside the transaction.
type EmployeeCheckTx interface {
	// LiveEmployees returns which of ids name employees of the
	// transaction's source that are not erased.
	LiveEmployees(ctx context.Context, ids []string) (map[string]bool, error)
}

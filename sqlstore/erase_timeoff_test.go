package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// timeOffWorld is a company with a webhook source and two of its
// employees, each with two time-off requests and one balance.
type timeOffWorld struct {
	src        *hrgate.Source
	gone, kept *hrgate.Employee
	requests   map[string][]*hrgate.TimeOffRequest // by employee id
	balances   map[string][]*hrgate.TimeOffBalance // by employee id
}

func newTimeOffWorld(t *testing.T, db *sqlstore.DB, seed byte) *timeOffWorld {
	t.Helper()
	ctx := context.Background()
	g := newIDs(seed)
	co := newCompany(t, g, fmt.Sprintf("leave%d", seed), false)
	mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
	key, _, err := hrgate.GenerateWebhookSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &timeOffWorld{
		src:      &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "hibob", Type: hrgate.SourceWebhook, CreatedAt: ts(1)},
		requests: map[string][]*hrgate.TimeOffRequest{},
		balances: map[string][]*hrgate.TimeOffBalance{},
	}
	if err := db.CreateSource(ctx, w.src, key); err != nil {
		t.Fatal(err)
	}
	b := &hrgate.Batch{}
	for n := range 2 {
		e := newEmployee(t, g, co, n)
		e.SourceID = w.src.ID
		b.Employees = append(b.Employees, e)
		for k, typ := range []string{"sick", "parental"} {
			r := &hrgate.TimeOffRequest{
				ID: g.new(t, hrgate.PrefixTimeOff), CompanyID: co.ID, EmployeeID: e.ID, SourceID: w.src.ID,
				RemoteID: fmt.Sprintf("%s-r%d", e.RemoteID, k), Type: typ, Status: "approved",
				StartDate: "2024-02-0" + fmt.Sprint(k+1), EndDate: "2024-02-2" + fmt.Sprint(k+1), Amount: "3.5", Units: "days",
				CreatedAt: ts(20), ModifiedAt: ts(21 + n),
			}
			w.requests[e.ID] = append(w.requests[e.ID], r)
			b.TimeOffRequests = append(b.TimeOffRequests, r)
		}
		bal := &hrgate.TimeOffBalance{
			ID: g.new(t, hrgate.PrefixBalance), CompanyID: co.ID, EmployeeID: e.ID, SourceID: w.src.ID,
			RemoteID: e.RemoteID + "-b", PolicyType: "sick", Balance: "12", Used: "7", Units: "days",
			CreatedAt: ts(30), ModifiedAt: ts(31 + n),
		}
		w.balances[e.ID] = append(w.balances[e.ID], bal)
		b.TimeOffBalances = append(b.TimeOffBalances, bal)
	}
	mustInsert(t, db, b)
	for _, rs := range w.requests {
		slices.SortFunc(rs, func(a, b *hrgate.TimeOffRequest) int { return strings.Compare(a.ID, b.ID) })
	}
	w.gone, w.kept = b.Employees[0], b.Employees[1]
	return w
}

// TestEraseTimeOff: erasing an employee erases its time off too. Its
// requests and balances are in the clear, so no key destroys them: they
// must be gone from every read and emptied in the table, while another
// employee's are untouched. The rows stay with their ids and remote ids,
// so that a source re-sending one finds the tombstone.
func TestEraseTimeOff(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newTimeOffWorld(t, db, 85)
		if err := db.EraseEmployee(ctx, w.gone.ID); err != nil {
			t.Fatal(err)
		}
		all := hrgate.AllCompanies

		t.Run("GoneFromReads", func(t *testing.T) {
			reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: all})
			if err != nil || !reflect.DeepEqual(reqs, w.requests[w.kept.ID]) {
				t.Fatalf("all requests after the erase = %v, %v; want only the other employee's, whole", reqs, err)
			}
			bals, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: all})
			if err != nil || !reflect.DeepEqual(bals, w.balances[w.kept.ID]) {
				t.Fatalf("all balances after the erase = %v, %v; want only the other employee's, whole", bals, err)
			}
			for _, f := range []hrgate.TimeOffFilter{
				{Scope: all, EmployeeID: w.gone.ID},
				{Scope: all, CompanyID: w.gone.CompanyID, EmployeeID: w.gone.ID},
				{Scope: all, ID: w.requests[w.gone.ID][0].ID},
				{Scope: all, ID: w.balances[w.gone.ID][0].ID},
			} {
				if reqs, err := db.FindTimeOffRequests(ctx, f); err != nil || len(reqs) != 0 {
					t.Errorf("requests %+v = %v, %v; want none", f, reqs, err)
				}
				if bals, err := db.FindTimeOffBalances(ctx, f); err != nil || len(bals) != 0 {
					t.Errorf("balances %+v = %v, %v; want none", f, bals, err)
				}
			}
			reqs, err = db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: all, EmployeeID: w.kept.ID})
			if err != nil || len(reqs) != 2 {
				t.Fatalf("the other employee's requests = %v, %v", reqs, err)
			}
		})

		t.Run("ContentEmptiedInTable", func(t *testing.T) {
			n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_requests WHERE employee_id = ? AND deleted_at IS NOT NULL `+
				`AND type = '' AND status = '' AND start_date = '' AND end_date = '' AND amount = '' AND units = '' AND remote_id <> ''`, w.gone.ID)
			if err != nil || n != 2 {
				t.Fatalf("%d tombstoned requests, %v; want the 2, ids kept", n, err)
			}
			n, err = db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_balances WHERE employee_id = ? AND deleted_at IS NOT NULL `+
				`AND policy_type = '' AND balance = '' AND used = '' AND units = '' AND remote_id <> ''`, w.gone.ID)
			if err != nil || n != 1 {
				t.Fatalf("%d tombstoned balances, %v; want the 1, ids kept", n, err)
			}
			n, err = db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_requests WHERE employee_id = ? AND deleted_at IS NULL AND type <> ''`, w.kept.ID)
			if err != nil || n != 2 {
				t.Fatalf("the other employee keeps %d requests, %v", n, err)
			}
		})

		t.Run("RemoteIDFindsTombstone", func(t *testing.T) {
			tomb := w.requests[w.gone.ID][0]
			var got map[string]*hrgate.TimeOffRequest
			err := db.Sync(ctx, w.src, func(tx hrgate.SyncTx) error {
				var err error
				got, err = tx.TimeOff(ctx, []string{tomb.RemoteID})
				return err
			})
			r := got[tomb.RemoteID]
			if err != nil || r == nil || r.ID != tomb.ID || r.EmployeeID != w.gone.ID || r.Type != "" || r.StartDate != "" {
				t.Fatalf("the source's look-up of an erased request = %+v, %v; want the emptied tombstone", r, err)
			}
		})

		t.Run("Idempotent", func(t *testing.T) {
			const stamp = `SELECT COALESCE(MAX(modified_at), 0) + COALESCE(MAX(deleted_at), 0) FROM `
			before, _ := db.QueryIntForTest(ctx, stamp+`time_off_requests WHERE employee_id = ?`, w.gone.ID)
			if err := db.EraseEmployee(ctx, w.gone.ID); err != nil {
				t.Fatalf("a second erase = %v", err)
			}
			if after, _ := db.QueryIntForTest(ctx, stamp+`time_off_requests WHERE employee_id = ?`, w.gone.ID); after != before {
				t.Fatal("a second erase rewrote the tombstoned requests")
			}
			if reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: all}); err != nil || len(reqs) != 2 {
				t.Fatalf("after a second erase: %d requests, %v", len(reqs), err)
			}
		})

		// A sync that checked the employee before the erasure committed
		// must not write its time off after: the store refuses it.
		t.Run("LateSyncWriteRefused", func(t *testing.T) {
			late := *w.requests[w.kept.ID][0]
			late.ID, late.RemoteID, late.EmployeeID = "tor_late", "late-1", w.gone.ID
			err := db.Sync(ctx, w.src, func(tx hrgate.SyncTx) error { return tx.InsertTimeOff(ctx, []*hrgate.TimeOffRequest{&late}) })
			wantCode(t, err, hrgate.ECONFLICT)
			moved := *w.requests[w.kept.ID][1]
			moved.EmployeeID = w.gone.ID
			err = db.Sync(ctx, w.src, func(tx hrgate.SyncTx) error { return tx.UpdateTimeOff(ctx, []*hrgate.TimeOffRequest{&moved}) })
			wantCode(t, err, hrgate.ECONFLICT)
			if n, _ := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_requests WHERE employee_id = ? AND deleted_at IS NULL`, w.gone.ID); n != 0 {
				t.Fatalf("%d live requests of the erased employee", n)
			}
		})
	})
}

// TestEraseTimeOffCrash: the time off is erased in the erasure's first
// step, with the record hidden, so an erase that dies after destroying
// the keys has already erased it, and running it again leaves it so.
func TestEraseTimeOffCrash(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newTimeOffWorld(t, db, 87)
		crash := errors.New("crash")
		db.SetCrashForTest(func(step string) error {
			if step == "erase: keys destroyed" {
				return crash
			}
			return nil
		})
		if err := db.EraseEmployee(ctx, w.gone.ID); !errors.Is(err, crash) {
			t.Fatalf("EraseEmployee = %v; want the crash", err)
		}
		db.SetCrashForTest(nil)
		const left = `SELECT COUNT(*) FROM time_off_requests WHERE employee_id = ? AND (deleted_at IS NULL OR type <> '' OR start_date <> '')`
		if n, err := db.QueryIntForTest(ctx, left, w.gone.ID); err != nil || n != 0 {
			t.Fatalf("after the crash %d requests keep their content (%v)", n, err)
		}
		if bals, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, EmployeeID: w.gone.ID}); err != nil || len(bals) != 0 {
			t.Fatalf("after the crash the balances read %v, %v", bals, err)
		}
		if err := db.EraseEmployee(ctx, w.gone.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := db.QueryIntForTest(ctx, left, w.gone.ID); err != nil || n != 0 {
			t.Fatalf("after the second erase %d requests keep their content (%v)", n, err)
		}
	})
}

// TestEraseWaitsForTimeOffWrite: an erasure that starts while a sync
// transaction has written time off for the employee, not yet committed,
// erases that time off too, rather than leaving a live request of an
// erased employee behind. On PostgreSQL the sync holds the employee's row
// and the erasure waits for it; on SQLite the single writer serialises
// them.
func TestEraseWaitsForTimeOffWrite(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newTimeOffWorld(t, db, 86)
		written, release := make(chan struct{}), make(chan struct{})
		synced := make(chan error, 1)
		go func() {
			synced <- db.Sync(ctx, w.src, func(tx hrgate.SyncTx) error {
				r := *w.requests[w.gone.ID][0]
				r.ID, r.RemoteID = "tor_racing", "racing-1"
				if err := tx.InsertTimeOff(ctx, []*hrgate.TimeOffRequest{&r}); err != nil {
					return err
				}
				close(written)
				<-release
				return nil
			})
		}()
		select {
		case <-written:
		case err := <-synced:
			t.Fatalf("the sync ended before writing: %v", err)
		}
		erased := make(chan error, 1)
		go func() { erased <- db.EraseEmployee(ctx, w.gone.ID) }()
		select {
		case err := <-erased:
			close(release)
			t.Fatalf("the erase finished (%v) while a sync held uncommitted time off of the employee", err)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		if err := <-synced; err != nil {
			t.Fatalf("sync: %v", err)
		}
		if err := <-erased; err != nil {
			t.Fatalf("erase: %v", err)
		}
		n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_requests WHERE employee_id = ? AND (deleted_at IS NULL OR type <> '')`, w.gone.ID)
		if err != nil || n != 0 {
			t.Fatalf("%d requests of the erased employee keep their content (%v); the racing one was not erased", n, err)
		}
	})
}

// TestMigrationErasesEarlierErasuresTimeOff: an employee erased by an
// hrgate from before erasure emptied time off kept its requests and
// balances readable; the upgrade (data migration 14) empties them as an
// erase now does, dated with the employee's erasure, and leaves every
// other employee's alone.
func TestMigrationErasesEarlierErasuresTimeOff(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newTimeOffWorld(t, db, 86)
		// An older erase: the record hidden, its time off left as it was.
		erasedAt := ts(40).UnixMicro()
		if err := db.ExecForTest(ctx, `UPDATE employees SET deleted_at = ? WHERE id = ?`, erasedAt, w.gone.ID); err != nil {
			t.Fatal(err)
		}
		if reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, EmployeeID: w.gone.ID}); err != nil || len(reqs) != 2 {
			t.Fatalf("before the upgrade: %v, %v; want the 2 requests an older erase left", reqs, err)
		}
		// The upgrade from a database at version 13.
		if err := db.ExecForTest(ctx, `DELETE FROM schema_migrations WHERE version = 14`); err != nil {
			t.Fatal(err)
		}
		if n, err := db.Migrate(ctx); err != nil || n != 1 {
			t.Fatalf("Migrate = %d, %v; want migration 14 applied", n, err)
		}

		reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies})
		if err != nil || !reflect.DeepEqual(reqs, w.requests[w.kept.ID]) {
			t.Fatalf("requests after the upgrade = %v, %v; want only the other employee's, whole", reqs, err)
		}
		bals, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies})
		if err != nil || !reflect.DeepEqual(bals, w.balances[w.kept.ID]) {
			t.Fatalf("balances after the upgrade = %v, %v; want only the other employee's, whole", bals, err)
		}
		n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_requests WHERE employee_id = ? AND deleted_at = ? `+
			`AND type = '' AND status = '' AND start_date = '' AND end_date = '' AND amount = '' AND units = '' AND remote_id <> ''`, w.gone.ID, erasedAt)
		if err != nil || n != 2 {
			t.Fatalf("%d requests emptied and dated with the erasure, %v; want 2", n, err)
		}
		n, err = db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_balances WHERE employee_id = ? AND deleted_at = ? `+
			`AND policy_type = '' AND balance = '' AND used = '' AND units = '' AND remote_id <> ''`, w.gone.ID, erasedAt)
		if err != nil || n != 1 {
			t.Fatalf("%d balances emptied and dated with the erasure, %v; want 1", n, err)
		}
	})
}

// TestBulkLoadRefusesErasedTimeOff: the bulk loads (InsertBatch, Import)
// do not bring back time off of an erased employee: the batch is refused
// whole, while time off of a live employee still loads.
func TestBulkLoadRefusesErasedTimeOff(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newTimeOffWorld(t, db, 87)
		if err := db.EraseEmployee(ctx, w.gone.ID); err != nil {
			t.Fatal(err)
		}
		g := newIDs(88)
		request := func(e *hrgate.Employee) *hrgate.TimeOffRequest {
			return &hrgate.TimeOffRequest{ID: g.new(t, hrgate.PrefixTimeOff), CompanyID: e.CompanyID, EmployeeID: e.ID,
				Type: "sick", Status: "approved", StartDate: "2024-03-01", EndDate: "2024-03-02", Amount: "1", Units: "days",
				CreatedAt: ts(50), ModifiedAt: ts(50)}
		}
		live, erased := request(w.kept), request(w.gone)
		err := db.InsertBatch(ctx, &hrgate.Batch{TimeOffRequests: []*hrgate.TimeOffRequest{live, erased}})
		wantCode(t, err, hrgate.ECONFLICT)
		err = db.Import(ctx, func(put func(*hrgate.Batch) error) error {
			return put(&hrgate.Batch{TimeOffBalances: []*hrgate.TimeOffBalance{{ID: g.new(t, hrgate.PrefixBalance), CompanyID: w.gone.CompanyID,
				EmployeeID: w.gone.ID, PolicyType: "sick", Balance: "1", Used: "0", Units: "days", CreatedAt: ts(50), ModifiedAt: ts(50)}}})
		})
		wantCode(t, err, hrgate.ECONFLICT)
		n, err := db.QueryIntForTest(ctx, `SELECT COUNT(*) FROM time_off_requests WHERE id IN (?, ?)`, live.ID, erased.ID)
		if err != nil || n != 0 {
			t.Fatalf("%d rows of the refused batch stored, %v; want none", n, err)
		}
		if err := db.InsertBatch(ctx, &hrgate.Batch{TimeOffRequests: []*hrgate.TimeOffRequest{live}}); err != nil {
			t.Fatalf("time off of a live employee: %v", err)
		}
	})
}

// TestTimeOffHoldLetsUpdatesThrough: on PostgreSQL the lock a sync takes
// on the employees whose time off it writes (FOR KEY SHARE) holds back an
// erasure only: another writer updating those employees, as a sync, SCIM
// or re-encryption does, goes through while the sync is open. SQLite runs
// one writer at a time, so there is nothing to show.
func TestTimeOffHoldLetsUpdatesThrough(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		if db.Dialect() != "postgres" {
			t.Skip("SQLite runs one writer at a time")
		}
		ctx := context.Background()
		w := newTimeOffWorld(t, db, 89)
		written, release := make(chan struct{}), make(chan struct{})
		synced := make(chan error, 1)
		go func() {
			synced <- db.Sync(ctx, w.src, func(tx hrgate.SyncTx) error {
				r := *w.requests[w.kept.ID][0]
				r.ID, r.RemoteID = "tor_heldupdate", "held-1"
				if err := tx.InsertTimeOff(ctx, []*hrgate.TimeOffRequest{&r}); err != nil {
					return err
				}
				close(written)
				<-release
				return nil
			})
		}()
		defer func() {
			close(release)
			if err := <-synced; err != nil {
				t.Errorf("sync: %v", err)
			}
		}()
		select {
		case <-written:
		case err := <-synced:
			t.Fatalf("the sync ended before writing: %v", err)
		}
		uctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := db.ExecForTest(uctx, `UPDATE employees SET modified_at = modified_at + 1 WHERE id = ?`, w.kept.ID); err != nil {
			t.Fatalf("an update of an employee whose time off a sync is writing: %v; want it through at once", err)
		}
	})
}

// TestMigrationLeavesNoTimeOffInLiveFiles: on SQLite the time off that
// migration 14 empties does not wait in the WAL for the next checkpoint:
// the migration flushes it, as an erase does.
func TestMigrationLeavesNoTimeOffInLiveFiles(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	db := MustOpenDB(t, dsn)
	w := newTimeOffWorld(t, db, 90)
	const trace = "987.654321"
	if err := db.ExecForTest(ctx, `UPDATE time_off_requests SET amount = ? WHERE employee_id = ?`, trace, w.gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.ExecForTest(ctx, `UPDATE employees SET deleted_at = 1 WHERE id = ?`, w.gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.ExecForTest(ctx, `DELETE FROM schema_migrations WHERE version = 14`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != 1 {
		t.Fatalf("Migrate = %d, %v; want migration 14 applied", n, err)
	}
	var files []byte
	for _, f := range []string{dsn, dsn + "-wal"} {
		b, err := os.ReadFile(f) // #nosec G304 -- the test's own database.
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	if bytes.Contains(files, []byte(trace)) {
		t.Error("the emptied time off is still in the live files")
	}
	if !bytes.Contains(files, []byte(w.requests[w.kept.ID][0].RemoteID)) {
		t.Fatal("another employee's time off is not found: the search proves nothing")
	}
}

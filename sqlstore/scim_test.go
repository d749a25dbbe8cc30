package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

// TestSCIMUsers checks the SCIM state of a source's users: written in the
// sync transaction, unique userNames per source ignoring case (deleted
// users hold none), only for the source's own employees, read back by id
// and by name, and gone when the employee is erased, for good.
func TestSCIMUsers(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		g := newIDs(77)
		co := newCompany(t, g, "acme", false)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
		var srcs []*hrgate.Source
		for _, name := range []string{"entra", "okta"} {
			tok, err := hrgate.GenerateSourceToken(fixedRandom(len(srcs)))
			if err != nil {
				t.Fatal(err)
			}
			s := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: name, Type: hrgate.SourceSCIM,
				TokenHash: hrgate.HashSourceToken(tok), CreatedAt: ts(1)}
			if err := db.CreateSource(ctx, s, nil); err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, s)
		}
		src, other := srcs[0], srcs[1]
		emps := make([]*hrgate.Employee, 3)
		for i := range emps {
			emps[i] = newEmployee(t, g, co, i)
			emps[i].SourceID = src.ID
		}
		emps[2].SourceID = other.ID
		sync := func(s *hrgate.Source, fn func(tx hrgate.SyncTx) error) error {
			return db.Sync(ctx, s, fn)
		}
		putWas := func(s *hrgate.Source, u *hrgate.SCIMUser, was string) error {
			return sync(s, func(tx hrgate.SyncTx) error { return tx.(hrgate.SCIMUserTx).PutSCIMUser(ctx, u, was) })
		}
		put := func(s *hrgate.Source, u *hrgate.SCIMUser) error { return putWas(s, u, "") }
		if err := sync(src, func(tx hrgate.SyncTx) error { return tx.Insert(ctx, emps[:2]) }); err != nil {
			t.Fatal(err)
		}
		if err := sync(other, func(tx hrgate.SyncTx) error { return tx.Insert(ctx, emps[2:]) }); err != nil {
			t.Fatal(err)
		}

		if err := put(src, &hrgate.SCIMUser{EmployeeID: emps[0].ID, SourceID: src.ID, UserName: "Ada@Example.com"}); err != nil {
			t.Fatal(err)
		}
		// Taken, ignoring case, within the source; free in another.
		err := put(src, &hrgate.SCIMUser{EmployeeID: emps[1].ID, SourceID: src.ID, UserName: "ada@example.COM"})
		wantCode(t, err, hrgate.ECONFLICT)
		if err := put(other, &hrgate.SCIMUser{EmployeeID: emps[2].ID, SourceID: other.ID, UserName: "ada@example.com"}); err != nil {
			t.Fatal(err)
		}
		// Another source's employee is not this source's to name.
		err = put(src, &hrgate.SCIMUser{EmployeeID: emps[2].ID, SourceID: src.ID, UserName: "x@example.com"})
		wantCode(t, err, hrgate.EINVALID)

		// A write that read another userName than the stored one (a
		// rename committed since; case counts) is refused, the stored
		// name kept; one that read the stored name renames.
		for _, was := range []string{"Grace@Example.com", "ada@example.com"} {
			err = putWas(src, &hrgate.SCIMUser{EmployeeID: emps[0].ID, SourceID: src.ID, UserName: "Ada.L@Example.com"}, was)
			wantCode(t, err, hrgate.ECONFLICT)
			if !errors.Is(err, hrgate.ErrSCIMUserChanged) {
				t.Errorf("a write that read %q: %v, want ErrSCIMUserChanged", was, err)
			}
			// The refusal names the stored userName, for a write
			// again in the same transaction, but its text does not.
			if r, ok := errors.AsType[*hrgate.SCIMUserRenamed](err); !ok || r.UserName != "Ada@Example.com" {
				t.Errorf("a write that read %q: %v, want the stored userName named", was, err)
			}
			if strings.Contains(err.Error(), "Ada@") {
				t.Errorf("the refusal repeats the userName: %v", err)
			}
		}
		for _, step := range [][2]string{{"Ada@Example.com", "Ada.L@Example.com"}, {"Ada.L@Example.com", "Ada@Example.com"}} {
			if err := putWas(src, &hrgate.SCIMUser{EmployeeID: emps[0].ID, SourceID: src.ID, UserName: step[1]}, step[0]); err != nil {
				t.Fatalf("rename %q to %q: %v", step[0], step[1], err)
			}
		}
		// With was given, a taken userName is still uniqueness, not a
		// rename, and another source's employee still not this source's.
		err = putWas(src, &hrgate.SCIMUser{EmployeeID: emps[1].ID, SourceID: src.ID, UserName: "ADA@example.com"}, "x")
		wantCode(t, err, hrgate.ECONFLICT)
		if errors.Is(err, hrgate.ErrSCIMUserChanged) {
			t.Errorf("a taken userName: %v, want no ErrSCIMUserChanged", err)
		}
		err = putWas(src, &hrgate.SCIMUser{EmployeeID: emps[2].ID, SourceID: src.ID, UserName: "x@example.com"}, "x")
		wantCode(t, err, hrgate.EINVALID)

		u, err := db.FindSCIMUserByName(ctx, src.ID, "ADA@example.com")
		if err != nil || u.EmployeeID != emps[0].ID || u.UserName != "Ada@Example.com" || u.Deleted() {
			t.Fatalf("by name: %+v %v", u, err)
		}
		us, err := db.SCIMUsers(ctx, src.ID, []string{emps[0].ID, emps[1].ID, emps[2].ID})
		if err != nil || len(us) != 1 || us[emps[0].ID] == nil {
			t.Fatalf("by id: %v %v", us, err)
		}
		live := func(s *hrgate.Source, ids ...string) map[string]bool {
			var out map[string]bool
			if err := sync(s, func(tx hrgate.SyncTx) error {
				var err error
				out, err = tx.(hrgate.EmployeeCheckTx).LiveEmployees(ctx, ids)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if l := live(src, emps[0].ID, emps[2].ID, "emp_nosuch"); !l[emps[0].ID] || l[emps[2].ID] || len(l) != 1 {
			t.Errorf("LiveEmployees %v", l)
		}

		// A deleted user holds no userName.
		if err := put(src, &hrgate.SCIMUser{EmployeeID: emps[0].ID, SourceID: src.ID, UserName: "Ada@Example.com", DeletedAt: ts(50)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindSCIMUserByName(ctx, src.ID, "ada@example.com"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Fatalf("a deleted user is found by name: %v", err)
		}
		// A write that raced with the deletion (read before it, committed
		// after) does not bring the user back.
		err = put(src, &hrgate.SCIMUser{EmployeeID: emps[0].ID, SourceID: src.ID, UserName: "Ada2@Example.com"})
		wantCode(t, err, hrgate.ENOTFOUND)
		err = putWas(src, &hrgate.SCIMUser{EmployeeID: emps[0].ID, SourceID: src.ID, UserName: "Ada2@Example.com"}, "Ada@Example.com")
		wantCode(t, err, hrgate.ENOTFOUND)
		if us, err := db.SCIMUsers(ctx, src.ID, []string{emps[0].ID}); err != nil || us[emps[0].ID] == nil ||
			!us[emps[0].ID].Deleted() || us[emps[0].ID].UserName != "Ada@Example.com" {
			t.Fatalf("after a write of a deleted user: %+v %v", us[emps[0].ID], err)
		}
		if err := put(src, &hrgate.SCIMUser{EmployeeID: emps[1].ID, SourceID: src.ID, UserName: "ada@example.com"}); err != nil {
			t.Fatal(err)
		}

		// Erasure removes the userName with the rest of the person.
		if err := db.EraseEmployee(ctx, emps[1].ID); err != nil {
			t.Fatal(err)
		}
		if us, err := db.SCIMUsers(ctx, src.ID, []string{emps[1].ID}); err != nil || len(us) != 0 {
			t.Fatalf("after erasure: %v %v", us, err)
		}
		if l := live(src, emps[1].ID); l[emps[1].ID] {
			t.Error("an erased employee is live")
		}
		// A write that raced with the erasure (EraseEmployee takes no
		// source lock) is refused as for an employee the source does not
		// have, and stores nothing: the erased userName stays gone.
		err = put(src, &hrgate.SCIMUser{EmployeeID: emps[1].ID, SourceID: src.ID, UserName: "ada@example.com"})
		wantCode(t, err, hrgate.EINVALID)
		if us, err := db.SCIMUsers(ctx, src.ID, []string{emps[1].ID}); err != nil || len(us) != 0 {
			t.Fatalf("a write after erasure stored %v %v", us, err)
		}
		if _, err := db.FindSCIMUserByName(ctx, src.ID, "ada@example.com"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Fatalf("a write after erasure is found by name: %v", err)
		}
	})
}

// fixedRandom is a deterministic byte source for test credentials.
type fixedRandom byte

func (f fixedRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f) + byte(i)
	}
	return len(p), nil
}

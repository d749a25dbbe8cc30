package sqlstore_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// world is a fixture of three companies: acme (live), beta (live) and sand
// (sandbox), two employees each, with teams, locations and time off.
type world struct {
	acme, beta, sand *hrgate.Company
	employees        map[string][]*hrgate.Employee // by company id
	batch            *hrgate.Batch
}

func newWorld(t *testing.T, db *sqlstore.DB) *world {
	t.Helper()
	g := newIDs(7)
	w := &world{employees: map[string][]*hrgate.Employee{}, batch: &hrgate.Batch{}}
	w.acme = newCompany(t, g, "acme", false)
	w.beta = newCompany(t, g, "beta", false)
	w.sand = newCompany(t, g, "sand", true)
	b := w.batch
	for i, c := range []*hrgate.Company{w.acme, w.beta, w.sand} {
		b.Companies = append(b.Companies, c)
		b.Teams = append(b.Teams, &hrgate.Team{
			ID: g.new(t, hrgate.PrefixTeam), CompanyID: c.ID, SourceID: "src_hris", RemoteID: c.Slug + "-t1",
			Name: "Équipe " + c.Slug, Type: "department", ParentID: "tea_parent", CreatedAt: ts(3), ModifiedAt: ts(4),
		})
		b.Locations = append(b.Locations, &hrgate.Location{
			ID: g.new(t, hrgate.PrefixLocation), CompanyID: c.ID, SourceID: "src_hris", RemoteID: c.Slug + "-l1",
			Name: "Büro " + c.Slug, Type: "office",
			Address:   hrgate.Address{Line1: "Straße 1", City: "Zürich", PostalCode: "8001", Country: "CH"},
			CreatedAt: ts(5), ModifiedAt: ts(6),
		})
		for n := range 2 {
			e := newEmployee(t, g, c, i*10+n)
			if n == 1 {
				e.Employment.Status = hrgate.StatusLeave
			}
			w.employees[c.ID] = append(w.employees[c.ID], e)
			b.Employees = append(b.Employees, e)
			b.TimeOffRequests = append(b.TimeOffRequests, &hrgate.TimeOffRequest{
				ID: g.new(t, hrgate.PrefixTimeOff), CompanyID: c.ID, EmployeeID: e.ID, SourceID: "src_hris",
				RemoteID: e.RemoteID + "-r", Type: "vacation", Status: "approved", StartDate: "2024-07-01",
				EndDate: "2024-07-14", Amount: "10.5", Units: "days", CreatedAt: ts(7), ModifiedAt: ts(200 + i*10 + n),
			})
			b.TimeOffBalances = append(b.TimeOffBalances, &hrgate.TimeOffBalance{
				ID: g.new(t, hrgate.PrefixBalance), CompanyID: c.ID, EmployeeID: e.ID, SourceID: "src_hris",
				RemoteID: e.RemoteID + "-b", PolicyType: "vacation", Balance: "25", Used: "10.5", Units: "days",
				CreatedAt: ts(8), ModifiedAt: ts(300 + i*10 + n),
			})
		}
	}
	mustInsert(t, db, b)
	return w
}

// allEmployees returns the employees of the given companies, ordered by id,
// with Loaded set to groups and the other groups cleared.
func (w *world) allEmployees(groups hrgate.GroupSet, cs ...*hrgate.Company) []*hrgate.Employee {
	var out []*hrgate.Employee
	for _, c := range cs {
		for _, e := range w.employees[c.ID] {
			out = append(out, project(e, groups))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// project returns a copy of e holding only groups.
func project(e *hrgate.Employee, groups hrgate.GroupSet) *hrgate.Employee {
	p := &hrgate.Employee{
		ID: e.ID, CompanyID: e.CompanyID, SourceID: e.SourceID, RemoteID: e.RemoteID,
		CreatedAt: e.CreatedAt, ModifiedAt: e.ModifiedAt, Loaded: groups,
	}
	if groups.Has(hrgate.GroupIdentity) {
		p.Identity = e.Identity
	}
	if groups.Has(hrgate.GroupEmployment) {
		p.Employment = e.Employment
	}
	if groups.Has(hrgate.GroupContact) {
		p.Contact = e.Contact
	}
	if groups.Has(hrgate.GroupPersonal) {
		p.Personal = e.Personal
	}
	if groups.Has(hrgate.GroupCompensation) {
		p.Compensation = e.Compensation
	}
	if groups.Has(hrgate.GroupBanking) {
		p.Banking = e.Banking
	}
	if groups.Has(hrgate.GroupGovernmentID) {
		p.GovernmentID = e.GovernmentID
	}
	return p
}

func idsOf[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func companyIDs(cs ...*hrgate.Company) []string {
	out := idsOf(cs, func(c *hrgate.Company) string { return c.ID })
	slices.Sort(out)
	return out
}

func TestFindCompanies(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		for _, tt := range []struct {
			name string
			f    hrgate.CompanyFilter
			want []string
		}{
			{"ZeroScope", hrgate.CompanyFilter{}, nil},
			{"ZeroScopeWithID", hrgate.CompanyFilter{ID: w.acme.ID}, nil},
			{"All", hrgate.CompanyFilter{Scope: hrgate.AllCompanies}, companyIDs(w.acme, w.beta, w.sand)},
			{"RefBySlug", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme"}}}, companyIDs(w.acme)},
			{"RefByID", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{w.beta.ID}}}, companyIDs(w.beta)},
			{"RefsMixed", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{w.beta.ID, "acme", "acme", "nope"}}}, companyIDs(w.acme, w.beta)},
			{"RefUnknown", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{"nope"}}}, nil},
			{"SandboxOnlyAll", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{All: true, SandboxOnly: true}}, companyIDs(w.sand)},
			{"SandboxOnlyRefs", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme", "sand"}, SandboxOnly: true}}, companyIDs(w.sand)},
			{"SandboxOnlyLiveRef", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme"}, SandboxOnly: true}}, nil},
			{"IDBySlug", hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: "beta"}, companyIDs(w.beta)},
			{"IDByID", hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: w.sand.ID}, companyIDs(w.sand)},
			{"IDOutsideScope", hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme"}}, ID: "beta"}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.FindCompanies(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if gotIDs := idsOf(got, func(c *hrgate.Company) string { return c.ID }); !slices.Equal(gotIDs, tt.want) {
					t.Fatalf("ids = %v, want %v", gotIDs, tt.want)
				}
			})
		}

		t.Run("RoundTrip", func(t *testing.T) {
			for _, c := range []*hrgate.Company{w.acme, w.sand} {
				got, err := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: c.ID})
				if err != nil || len(got) != 1 {
					t.Fatalf("FindCompanies = %v, %v", got, err)
				}
				if !reflect.DeepEqual(got[0], c) {
					t.Fatalf("company = %+v, want %+v", got[0], c)
				}
			}
		})
	})
}

func TestFindEmployees_Groups(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		sets := []hrgate.GroupSet{0, hrgate.AllGroups}
		for _, g := range hrgate.FieldGroups() {
			sets = append(sets, hrgate.GroupsOf(g))
		}
		sets = append(sets,
			hrgate.GroupsOf(hrgate.GroupIdentity, hrgate.GroupBanking),
			hrgate.GroupsOf(hrgate.GroupEmployment, hrgate.GroupContact, hrgate.GroupGovernmentID),
			hrgate.AllGroups|1<<12, // Unknown bits are ignored.
		)
		for _, groups := range sets {
			t.Run("Groups="+groups.String(), func(t *testing.T) {
				got, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: groups})
				if err != nil {
					t.Fatal(err)
				}
				want := w.allEmployees(groups&hrgate.AllGroups, w.acme, w.beta, w.sand)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("employees differ:\n got %+v\nwant %+v", deref(got), deref(want))
				}
			})
		}
	})
}

// TestFindEmployees_Cancelled checks that a request already cancelled
// reads no employee, by id as in a list, on every backend: the SQLite
// look-up by id runs its query without the request's cancellation, but
// must not start one for a request that has gone.
func TestFindEmployees_Cancelled(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorld(t, db)
		id := w.employees[w.acme.ID][0].ID
		// The look-up works with a live context, so that the failure
		// below is the cancellation's.
		got, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups})
		if err != nil || len(got) != 1 {
			t.Fatalf("live look-up: %d employees, err %v", len(got), err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for name, f := range map[string]hrgate.EmployeeFilter{
			"ByID": {Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups},
			"List": {Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups},
		} {
			got, err := db.FindEmployees(ctx, f)
			if !errors.Is(err, context.Canceled) || got != nil {
				t.Errorf("%s: got %d employees, err %v; want none and context.Canceled", name, len(got), err)
			}
		}
	})
}

func deref[T any](ps []*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

func TestFindEmployees_Filters(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		acme0, acme1 := w.employees[w.acme.ID][0], w.employees[w.acme.ID][1]
		beta0 := w.employees[w.beta.ID][0]
		all := hrgate.AllCompanies
		ids := func(es ...*hrgate.Employee) []string {
			out := idsOf(es, func(e *hrgate.Employee) string { return e.ID })
			slices.Sort(out)
			return out
		}
		live := hrgate.CompanyScope{Refs: []string{"acme", w.beta.ID}}
		for _, tt := range []struct {
			name string
			f    hrgate.EmployeeFilter
			want []string
		}{
			{"ZeroScope", hrgate.EmployeeFilter{ID: acme0.ID}, nil},
			{"ID", hrgate.EmployeeFilter{Scope: all, ID: acme1.ID}, ids(acme1)},
			{"IDOutsideScope", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{Refs: []string{"beta"}}, ID: acme1.ID}, nil},
			{"IDRefBySlug", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{Refs: []string{"beta", "acme"}}, ID: acme1.ID}, ids(acme1)},
			{"IDRefByID", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{Refs: []string{w.acme.ID}}, ID: acme1.ID}, ids(acme1)},
			{"IDSandboxOnly", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{All: true, SandboxOnly: true}, ID: acme1.ID}, nil},
			{"IDSandboxOnlyOwn", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{All: true, SandboxOnly: true}, ID: w.employees[w.sand.ID][0].ID}, ids(w.employees[w.sand.ID][0])},
			{"IDSandboxOnlyRefs", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme"}, SandboxOnly: true}, ID: acme1.ID}, nil},
			{"IDAndOtherCompany", hrgate.EmployeeFilter{Scope: all, ID: acme1.ID, CompanyID: w.beta.ID}, nil},
			{"CompanyID", hrgate.EmployeeFilter{Scope: all, CompanyID: w.beta.ID}, ids(w.employees[w.beta.ID]...)},
			{"CompanyIDOutsideScope", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme"}}, CompanyID: w.beta.ID}, nil},
			{"Status", hrgate.EmployeeFilter{Scope: live, Status: hrgate.StatusLeave}, ids(acme1, w.employees[w.beta.ID][1])},
			{"StatusAndCompany", hrgate.EmployeeFilter{Scope: all, CompanyID: w.acme.ID, Status: hrgate.StatusActive}, ids(acme0)},
			// ModifiedAt of the n-th employee is ts(100+n): acme 0,1; beta 10,11; sand 20,21.
			{"ModifiedAfterExclusive", hrgate.EmployeeFilter{Scope: all, ModifiedAfter: acme1.ModifiedAt}, ids(beta0, w.employees[w.beta.ID][1], w.employees[w.sand.ID][0], w.employees[w.sand.ID][1])},
			{"ModifiedAfterSubMicrosecond", hrgate.EmployeeFilter{Scope: all, ModifiedAfter: w.employees[w.sand.ID][1].ModifiedAt.Add(-time.Nanosecond)}, ids(w.employees[w.sand.ID][1])},
			{"ModifiedAfterScoped", hrgate.EmployeeFilter{Scope: live, ModifiedAfter: acme0.ModifiedAt}, ids(acme1, beta0, w.employees[w.beta.ID][1])},
			{"SandboxOnly", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{All: true, SandboxOnly: true}}, ids(w.employees[w.sand.ID]...)},
			{"SandboxOnlyRefs", hrgate.EmployeeFilter{Scope: hrgate.CompanyScope{Refs: []string{"acme"}, SandboxOnly: true}}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.FindEmployees(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil {
					t.Fatal("FindEmployees returned a nil slice")
				}
				if gotIDs := idsOf(got, func(e *hrgate.Employee) string { return e.ID }); !slices.Equal(gotIDs, tt.want) {
					t.Fatalf("ids = %v, want %v", gotIDs, tt.want)
				}
			})
		}

		t.Run("Count", func(t *testing.T) {
			for _, tt := range []struct {
				scope hrgate.CompanyScope
				want  int
			}{
				{hrgate.CompanyScope{}, 0},
				{all, 6},
				{hrgate.CompanyScope{Refs: []string{"acme"}}, 2},
				{hrgate.CompanyScope{All: true, SandboxOnly: true}, 2},
				{hrgate.CompanyScope{Refs: []string{"acme", w.sand.ID}, SandboxOnly: true}, 2},
			} {
				n, err := db.CountEmployees(ctx, tt.scope)
				if err != nil || n != tt.want {
					t.Errorf("CountEmployees(%+v) = %d, %v; want %d", tt.scope, n, err, tt.want)
				}
			}
		})

		t.Run("ErrNegativeLimit", func(t *testing.T) {
			_, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: all, Page: hrgate.Page{Limit: -1}})
			wantCode(t, err, hrgate.EINVALID)
		})
	})
}

func TestSoftDeleted(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		gone := w.employees[w.acme.ID][0]
		for _, table := range []string{"employees", "time_off_requests", "time_off_balances"} {
			col := "employee_id"
			if table == "employees" {
				col = "id"
			}
			if err := db.ExecForTest(ctx, `UPDATE `+table+` SET deleted_at = 1 WHERE `+col+` = ?`, gone.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.ExecForTest(ctx, `UPDATE teams SET deleted_at = 1 WHERE company_id = ?`, w.acme.ID); err != nil {
			t.Fatal(err)
		}

		es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: gone.ID})
		if err != nil || len(es) != 0 {
			t.Fatalf("deleted employee: %v, %v", es, err)
		}
		reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, EmployeeID: gone.ID})
		if err != nil || len(reqs) != 0 {
			t.Fatalf("deleted time off: %v, %v", reqs, err)
		}
		bals, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, EmployeeID: gone.ID})
		if err != nil || len(bals) != 0 {
			t.Fatalf("deleted balances: %v, %v", bals, err)
		}
		teams, err := db.FindTeams(ctx, hrgate.OrgFilter{Scope: hrgate.AllCompanies, CompanyID: w.acme.ID})
		if err != nil || len(teams) != 0 {
			t.Fatalf("deleted teams: %v, %v", teams, err)
		}
		if n, err := db.CountEmployees(ctx, hrgate.AllCompanies); err != nil || n != 5 {
			t.Fatalf("CountEmployees = %d, %v; want 5", n, err)
		}

		// A deleted company disappears, and so does everything of it.
		if err := db.ExecForTest(ctx, `UPDATE companies SET deleted_at = 1 WHERE id = ?`, w.beta.ID); err != nil {
			t.Fatal(err)
		}
		for _, scope := range []hrgate.CompanyScope{hrgate.AllCompanies, {Refs: []string{"beta"}}} {
			cs, err := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: scope, ID: "beta"})
			if err != nil || len(cs) != 0 {
				t.Fatalf("deleted company: %v, %v", cs, err)
			}
			es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: scope, CompanyID: w.beta.ID})
			if err != nil || len(es) != 0 {
				t.Fatalf("employees of a deleted company: %v, %v", es, err)
			}
			es, err = db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: scope, ID: w.employees[w.beta.ID][0].ID})
			if err != nil || len(es) != 0 {
				t.Fatalf("employee of a deleted company by id: %v, %v", es, err)
			}
			locs, err := db.FindLocations(ctx, hrgate.OrgFilter{Scope: scope, CompanyID: w.beta.ID})
			if err != nil || len(locs) != 0 {
				t.Fatalf("locations of a deleted company: %v, %v", locs, err)
			}
		}
		if n, err := db.CountEmployees(ctx, hrgate.AllCompanies); err != nil || n != 3 {
			t.Fatalf("CountEmployees = %d, %v; want 3", n, err)
		}
	})
}

func TestFindOrgAndTimeOff(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		acme := hrgate.CompanyScope{Refs: []string{"acme"}}

		t.Run("RoundTrip", func(t *testing.T) {
			teams, err := db.FindTeams(ctx, hrgate.OrgFilter{Scope: hrgate.AllCompanies})
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedByID(w.batch.Teams, func(x *hrgate.Team) string { return x.ID }); !reflect.DeepEqual(teams, want) {
				t.Fatalf("teams = %+v, want %+v", deref(teams), deref(want))
			}
			locs, err := db.FindLocations(ctx, hrgate.OrgFilter{Scope: hrgate.AllCompanies})
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedByID(w.batch.Locations, func(x *hrgate.Location) string { return x.ID }); !reflect.DeepEqual(locs, want) {
				t.Fatalf("locations = %+v, want %+v", deref(locs), deref(want))
			}
			reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies})
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedByID(w.batch.TimeOffRequests, func(x *hrgate.TimeOffRequest) string { return x.ID }); !reflect.DeepEqual(reqs, want) {
				t.Fatalf("time off = %+v, want %+v", deref(reqs), deref(want))
			}
			bals, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies})
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedByID(w.batch.TimeOffBalances, func(x *hrgate.TimeOffBalance) string { return x.ID }); !reflect.DeepEqual(bals, want) {
				t.Fatalf("balances = %+v, want %+v", deref(bals), deref(want))
			}
			es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
			if err != nil {
				t.Fatal(err)
			}
			if want := w.allEmployees(hrgate.AllGroups, w.acme, w.beta, w.sand); !reflect.DeepEqual(es, want) {
				t.Fatalf("employees = %+v, want %+v", deref(es), deref(want))
			}
		})

		t.Run("Filters", func(t *testing.T) {
			e := w.employees[w.acme.ID][1]
			reqs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: acme, EmployeeID: e.ID})
			if err != nil || len(reqs) != 1 || reqs[0].EmployeeID != e.ID {
				t.Fatalf("by employee: %v, %v", reqs, err)
			}
			reqs, err = db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: acme, EmployeeID: w.employees[w.beta.ID][0].ID})
			if err != nil || len(reqs) != 0 {
				t.Fatalf("employee outside scope: %v, %v", reqs, err)
			}
			reqs, err = db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, ModifiedAfter: ts(219)})
			if err != nil || len(reqs) != 2 {
				t.Fatalf("modified after: %v, %v", reqs, err)
			}
			bals, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: hrgate.AllCompanies, CompanyID: w.sand.ID, ModifiedAfter: ts(320)})
			if err != nil || len(bals) != 1 || bals[0].CompanyID != w.sand.ID {
				t.Fatalf("balances by company and time: %v, %v", bals, err)
			}
			bal := w.batch.TimeOffBalances[0]
			bals, err = db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{Scope: acme, ID: bal.ID})
			if err != nil || len(bals) != 1 || bals[0].ID != bal.ID {
				t.Fatalf("balance by id: %v, %v", bals, err)
			}
			teams, err := db.FindTeams(ctx, hrgate.OrgFilter{Scope: hrgate.CompanyScope{All: true, SandboxOnly: true}})
			if err != nil || len(teams) != 1 || teams[0].CompanyID != w.sand.ID {
				t.Fatalf("sandbox teams: %v, %v", teams, err)
			}
			loc := w.batch.Locations[1]
			locs, err := db.FindLocations(ctx, hrgate.OrgFilter{Scope: acme, ID: loc.ID})
			if err != nil || len(locs) != 0 {
				t.Fatalf("location outside scope: %v, %v", locs, err)
			}
			locs, err = db.FindLocations(ctx, hrgate.OrgFilter{Scope: hrgate.AllCompanies, ID: loc.ID, CompanyID: w.beta.ID})
			if err != nil || len(locs) != 1 {
				t.Fatalf("location by id: %v, %v", locs, err)
			}
			for _, f := range []hrgate.OrgFilter{{}, {ID: loc.ID}} {
				teams, err := db.FindTeams(ctx, f)
				if err != nil || len(teams) != 0 {
					t.Fatalf("zero scope teams: %v, %v", teams, err)
				}
				locs, err := db.FindLocations(ctx, f)
				if err != nil || len(locs) != 0 {
					t.Fatalf("zero scope locations: %v, %v", locs, err)
				}
			}
			rs, err := db.FindTimeOffRequests(ctx, hrgate.TimeOffFilter{})
			if err != nil || len(rs) != 0 {
				t.Fatalf("zero scope time off: %v, %v", rs, err)
			}
			bs, err := db.FindTimeOffBalances(ctx, hrgate.TimeOffFilter{})
			if err != nil || len(bs) != 0 {
				t.Fatalf("zero scope balances: %v, %v", bs, err)
			}
		})
	})
}

func sortedByID[T any](items []T, id func(T) string) []T {
	out := slices.Clone(items)
	sort.Slice(out, func(i, j int) bool { return id(out[i]) < id(out[j]) })
	return out
}

func TestPagination(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(9)
		acme := newCompany(t, g, "acme", false)
		other := newCompany(t, g, "other", false)
		b := &hrgate.Batch{Companies: []*hrgate.Company{acme, other}}
		var want []string
		for i := range 25 {
			e := newEmployee(t, g, acme, i)
			b.Employees = append(b.Employees, e)
			want = append(want, e.ID)
			// Employees of a company outside the scope are interleaved by
			// id and must not shift the pages.
			b.Employees = append(b.Employees, newEmployee(t, g, other, i))
		}
		mustInsert(t, db, b)
		slices.Sort(want)

		var got []string
		var sizes []int
		page := hrgate.Page{Limit: 10}
		for range 10 {
			es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{
				Scope: hrgate.CompanyScope{Refs: []string{"acme"}}, Groups: hrgate.GroupsOf(hrgate.GroupIdentity), Page: page,
			})
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(es))
			if len(es) == 0 {
				break
			}
			got = append(got, idsOf(es, func(e *hrgate.Employee) string { return e.ID })...)
			page.AfterID = es[len(es)-1].ID
		}
		if !slices.Equal(sizes, []int{10, 10, 5, 0}) {
			t.Errorf("page sizes = %v, want [10 10 5 0]", sizes)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged ids = %v\nwant %v", got, want)
		}

		cs, err := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies, Page: hrgate.Page{Limit: 1, AfterID: companyIDs(acme, other)[0]}})
		if err != nil || len(cs) != 1 || cs[0].ID != companyIDs(acme, other)[1] {
			t.Fatalf("company page = %v, %v", cs, err)
		}
	})
}

func TestInsertBatch_Errors(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(11)
		acme := newCompany(t, g, "acme", false)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{acme}})

		noSQL := func(t *testing.T, err error) {
			t.Helper()
			msg := hrgate.ErrorMessage(err)
			for _, bad := range []string{"UNIQUE", "constraint", "INSERT", "SQLSTATE", "sqlite", "employees.", "companies."} {
				if strings.Contains(msg, bad) {
					t.Fatalf("message %q reveals %q", msg, bad)
				}
			}
		}

		t.Run("ErrConflictAtomic", func(t *testing.T) {
			c := newCompany(t, g, "newco", false)
			var es []*hrgate.Employee
			for i := range 300 {
				es = append(es, newEmployee(t, g, c, i))
			}
			dup := *es[3]
			dup.RemoteID = "unique-remote"
			es = append(es, &dup)
			err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{c}, Employees: es})
			wantCode(t, err, hrgate.ECONFLICT)
			noSQL(t, err)
			if got := hrgate.ErrorMessage(err); got != "An employee with this id already exists." {
				t.Errorf("message = %q (%v)", got, err)
			}
			if n, err := db.CountEmployees(ctx, hrgate.AllCompanies); err != nil || n != 0 {
				t.Fatalf("employees after failed batch = %d, %v; want 0", n, err)
			}
			if cs, err := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: "newco"}); err != nil || len(cs) != 0 {
				t.Fatalf("company of failed batch = %v, %v; want none", cs, err)
			}
		})

		t.Run("ErrDuplicateSlug", func(t *testing.T) {
			c := newCompany(t, g, "acme", false)
			c.RemoteID = "another-remote"
			err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{c}})
			wantCode(t, err, hrgate.ECONFLICT)
			noSQL(t, err)
			if got := hrgate.ErrorMessage(err); got != "A company with this slug already exists." {
				t.Errorf("message = %q (%v)", got, err)
			}
		})

		t.Run("ErrDuplicateRemoteID", func(t *testing.T) {
			e1 := newEmployee(t, g, acme, 1)
			e2 := newEmployee(t, g, acme, 1)
			err := db.InsertBatch(ctx, &hrgate.Batch{Employees: []*hrgate.Employee{e1, e2}})
			wantCode(t, err, hrgate.ECONFLICT)
			if got := hrgate.ErrorMessage(err); got != "An employee with this source and remote id already exists." {
				t.Errorf("message = %q (%v)", got, err)
			}
			// An empty remote id is not a key.
			e1.RemoteID, e2.RemoteID = "", ""
			mustInsert(t, db, &hrgate.Batch{Employees: []*hrgate.Employee{e1, e2}})
		})

		t.Run("ErrSlugIsAnotherID", func(t *testing.T) {
			c := newCompany(t, g, acme.ID, false)
			err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{c}})
			wantCode(t, err, hrgate.EINVALID) // a slug cannot hold the '_' of an id
			if cs, _ := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{acme.ID}}}); len(cs) != 1 {
				t.Fatalf("companies for %s = %v; want only acme", acme.ID, cs)
			}
		})

		t.Run("ErrIDIsAnotherSlug", func(t *testing.T) {
			c := newCompany(t, g, "other", false)
			c.ID = acme.Slug
			err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{c}})
			wantCode(t, err, hrgate.EINVALID) // a company id has the com_ form
			if cs, _ := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.CompanyScope{Refs: []string{acme.Slug}}}); len(cs) != 1 {
				t.Fatalf("companies for %s = %v; want only acme", acme.Slug, cs)
			}
		})

		t.Run("ErrForeignKey", func(t *testing.T) {
			missing := &hrgate.Company{ID: g.new(t, hrgate.PrefixCompany), Slug: "missing"}
			err := db.InsertBatch(ctx, &hrgate.Batch{Employees: []*hrgate.Employee{newEmployee(t, g, missing, 1)}})
			wantCode(t, err, hrgate.EINVALID)
			noSQL(t, err)
			if got := hrgate.ErrorMessage(err); got != "Referenced object does not exist." {
				t.Errorf("message = %q (%v)", got, err)
			}
		})

		t.Run("ErrTimeOffOfOtherCompany", func(t *testing.T) {
			beta := newCompany(t, g, "beta", false)
			e := newEmployee(t, g, beta, 1)
			mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{beta}, Employees: []*hrgate.Employee{e}})
			err := db.InsertBatch(ctx, &hrgate.Batch{TimeOffRequests: []*hrgate.TimeOffRequest{{
				ID: g.new(t, hrgate.PrefixTimeOff), CompanyID: acme.ID, EmployeeID: e.ID,
			}}})
			wantCode(t, err, hrgate.EINVALID)
		})

		t.Run("ErrInvalid", func(t *testing.T) {
			for _, b := range []*hrgate.Batch{
				{Companies: []*hrgate.Company{nil}},
				{Companies: []*hrgate.Company{{ID: "com_x"}}},
				{Employees: []*hrgate.Employee{{ID: "emp_x"}}},
				{TimeOffBalances: []*hrgate.TimeOffBalance{{ID: "tob_x", CompanyID: acme.ID}}},
			} {
				wantCode(t, db.InsertBatch(ctx, b), hrgate.EINVALID)
			}
		})

		t.Run("Empty", func(t *testing.T) {
			if err := db.InsertBatch(ctx, &hrgate.Batch{}); err != nil {
				t.Fatal(err)
			}
			if err := db.InsertBatch(ctx, nil); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestImport(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		g := newIDs(12)
		acme := newCompany(t, g, "acme", true)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{acme}})

		t.Run("AllOrNothing", func(t *testing.T) {
			fresh := newCompany(t, g, "fresh", true)
			err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
				if err := put(&hrgate.Batch{Companies: []*hrgate.Company{fresh}, Employees: []*hrgate.Employee{newEmployee(t, g, fresh, 1)}}); err != nil {
					return err
				}
				// The second batch reuses a slug: the whole import must go.
				dup := newCompany(t, g, "acme", true)
				dup.RemoteID = "other"
				return put(&hrgate.Batch{Companies: []*hrgate.Company{dup}})
			})
			wantCode(t, err, hrgate.ECONFLICT)
			if n, err := db.CountEmployees(ctx, hrgate.AllCompanies); err != nil || n != 0 {
				t.Fatalf("%d employees after a failed import, want 0 (%v)", n, err)
			}
			if cs, _ := db.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: "fresh"}); len(cs) != 0 {
				t.Fatal("the first batch of a failed import was kept")
			}
		})

		t.Run("CallerErrorRollsBack", func(t *testing.T) {
			boom := hrgate.Errorf(hrgate.EINVALID, "stop")
			err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
				if err := put(&hrgate.Batch{Employees: []*hrgate.Employee{newEmployee(t, g, acme, 2)}}); err != nil {
					return err
				}
				return boom
			})
			if err != boom {
				t.Fatalf("Import returned %v, want the caller's error", err)
			}
			if n, _ := db.CountEmployees(ctx, hrgate.AllCompanies); n != 0 {
				t.Fatalf("%d employees after an aborted import", n)
			}
		})

		t.Run("OK", func(t *testing.T) {
			err := db.Import(ctx, func(put func(*hrgate.Batch) error) error {
				for i := range 3 {
					if err := put(&hrgate.Batch{Employees: []*hrgate.Employee{newEmployee(t, g, acme, 10+i)}}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := db.CountEmployees(ctx, hrgate.AllCompanies); n != 3 {
				t.Fatalf("%d employees, want 3", n)
			}
		})
	})
}

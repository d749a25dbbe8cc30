package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sandbox"
)

func TestAdminEraseEmployee(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := mustOpenAdmin(t, dsn(t))
			var seeded []*hrgate.Employee
			err := a.store.Import(ctx, func(put func(*hrgate.Batch) error) error {
				return sandbox.Generate(ctx, sandbox.Options{Companies: 1, Employees: 3, Seed: 9, Now: time.Now().UTC()}, func(b *hrgate.Batch) error {
					seeded = append(seeded, b.Employees...)
					return put(b)
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			id := seeded[1].ID
			for i := range 2 { // idempotent
				var out struct {
					ID     string `json:"id"`
					Erased bool   `json:"erased"`
				}
				if status := a.call(t, "POST", "/admin/v1/employees/"+id+"/erase", "", &out); status != 200 || out.ID != id || !out.Erased {
					t.Fatalf("erase #%d: %d %+v", i+1, status, out)
				}
			}
			es, err := a.store.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
			if err != nil || len(es) != 2 {
				t.Fatalf("after the erase: %d employees, %v", len(es), err)
			}
			for _, e := range es {
				if e.ID == id {
					t.Fatal("the erased employee is still listed")
				}
			}
			var p problem
			if status := a.call(t, "POST", "/admin/v1/employees/emp_00000000000000000000000000/erase", "", &p); status != 404 {
				t.Fatalf("unknown employee: %d %+v", status, p)
			}
			if status := a.call(t, "POST", "/admin/v1/employees/nope/erase", "", &p); status != 400 || !strings.Contains(p.Detail, "emp_") {
				t.Fatalf("malformed id: %d %+v", status, p)
			}
			saved := a.token
			a.token = "wrong"
			status := a.call(t, "POST", "/admin/v1/employees/"+seeded[0].ID+"/erase", "", nil)
			a.token = saved
			if status != 401 {
				t.Fatalf("erase without the admin token: %d", status)
			}
			if n, _ := a.store.CountEmployees(ctx, hrgate.AllCompanies); n != 2 {
				t.Fatalf("%d employees after a refused erase", n)
			}
			if !strings.Contains(a.log.String(), `"employee":"`+id+`"`) {
				t.Fatalf("the erase is not logged:\n%s", a.log.String())
			}
		})
	}
}

// TestEraseHidesTimeOff: after an employee is erased, a consumer allowed
// to read time off gets none of the employee's requests or balances,
// whether it asks for the employee's or lists them all, while the other
// employees' time off is still there.
func TestEraseHidesTimeOff(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := MustOpenEnv(t, dsn(t))
			var id string
			for _, b := range e.seeded {
				for _, r := range b.TimeOffRequests {
					if r.CompanyID == e.planned.ID {
						id = r.EmployeeID
						break
					}
				}
			}
			if id == "" {
				t.Fatal("the sandbox gave the planned company no time off")
			}
			routes := []string{"/v1/time-off", "/v1/time-off-balances"}
			before := map[string]int{}
			for _, route := range routes {
				if n := len(e.get(t, e.planner, route+"?limit=200&employee_id="+id).items(t)); n == 0 {
					t.Fatalf("%s: the employee has no time off to erase", route)
				}
				before[route] = len(e.get(t, e.planner, route+"?limit=200").items(t))
			}
			if err := e.gate.EraseEmployee(ctx, id); err != nil {
				t.Fatal(err)
			}
			for _, route := range routes {
				r := e.get(t, e.planner, route+"?limit=200&employee_id="+id)
				if r.status != 200 || len(r.items(t)) != 0 {
					t.Fatalf("%s of the erased employee: %d %s", route, r.status, r.body)
				}
				r = e.get(t, e.planner, route+"?limit=200")
				items := r.items(t)
				if r.status != 200 || len(items) == 0 || len(items) >= before[route] {
					t.Fatalf("%s after the erase: %d, %d items of %d before", route, r.status, len(items), before[route])
				}
				if strings.Contains(string(r.body), id) {
					t.Fatalf("%s still names the erased employee", route)
				}
			}
		})
	}
}

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

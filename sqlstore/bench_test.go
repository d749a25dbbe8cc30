package sqlstore_test

import (
	"context"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// forEachBackend runs fn as a sub-benchmark per database.
func forEachBackend(b *testing.B, fn func(b *testing.B, dsn string)) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) { fn(b, be.dsn(b)) })
	}
}

// BenchmarkInsertBatch measures InsertBatch with batches of 1,000 employees
// carrying every field group, the shape of a full sync.
func BenchmarkInsertBatch(b *testing.B) {
	const perBatch = 1000
	forEachBackend(b, func(b *testing.B, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(b, dsn)
		g := newIDs(41)
		c := newCompany(b, g, "acme", false)
		mustInsert(b, db, &hrgate.Batch{Companies: []*hrgate.Company{c}})

		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			batch := &hrgate.Batch{Employees: make([]*hrgate.Employee, perBatch)}
			for j := range batch.Employees {
				batch.Employees[j] = newEmployee(b, g, c, i*perBatch+j)
			}
			b.StartTimer()
			if err := db.InsertBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "employees/s")
	})
}

// BenchmarkFindEmployeeByID measures the hot read path: one employee by id,
// every group, in a consumer's scope, among 10,000 employees.
func BenchmarkFindEmployeeByID(b *testing.B) {
	const n = 10000
	forEachBackend(b, func(b *testing.B, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(b, dsn)
		g := newIDs(43)
		batch := &hrgate.Batch{}
		for _, slug := range []string{"acme", "beta", "gamma", "delta"} {
			batch.Companies = append(batch.Companies, newCompany(b, g, slug, false))
		}
		ids := make([]string, n)
		for i := range n {
			e := newEmployee(b, g, batch.Companies[i%len(batch.Companies)], i)
			batch.Employees = append(batch.Employees, e)
			ids[i] = e.ID
		}
		mustInsert(b, db, batch)

		for _, sc := range []struct {
			name  string
			scope func(i int) hrgate.CompanyScope
		}{
			{"Refs", func(i int) hrgate.CompanyScope {
				return hrgate.CompanyScope{Refs: []string{batch.Companies[i%len(batch.Companies)].Slug}}
			}},
			{"All", func(int) hrgate.CompanyScope { return hrgate.AllCompanies }},
		} {
			b.Run(sc.name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					k := (i * 7919) % n
					es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{
						Scope: sc.scope(k), ID: ids[k], Groups: hrgate.AllGroups,
					})
					if err != nil || len(es) != 1 {
						b.Fatalf("FindEmployees = %v, %v", es, err)
					}
					i++
				}
			})
		}
		b.Run("Parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					k := (i * 7919) % n
					es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{
						Scope: hrgate.CompanyScope{Refs: []string{batch.Companies[k%4].Slug}}, ID: ids[k], Groups: hrgate.AllGroups,
					})
					if err != nil || len(es) != 1 {
						b.Errorf("FindEmployees = %v, %v", es, err)
						return
					}
					i++
				}
			})
		})
	})
}

// BenchmarkFindEmployeeEncryption measures the store's read of one
// employee by id with field encryption and without it (InsecurePlaintext)
// in the same run, for the groups of the demo payroll grant (two of them
// encrypted) and for every group (five encrypted). Data keys are cached by
// the keyring, as in a running server.
func BenchmarkFindEmployeeEncryption(b *testing.B) {
	const n = 2000
	payroll := hrgate.GroupsOf(hrgate.GroupIdentity, hrgate.GroupEmployment, hrgate.GroupCompensation, hrgate.GroupBanking)
	ctx := context.Background()
	dbs := map[string]*sqlstore.DB{}
	var ids []string
	for _, mode := range []string{"plaintext", "encrypted"} {
		dsn := sqliteDSN(b)
		var db *sqlstore.DB
		if mode == "encrypted" {
			db = MustOpenDB(b, dsn)
		} else {
			db = storetest.OpenWith(b, dsn, nil, sqlstore.Options{InsecurePlaintext: true})
		}
		g := newIDs(44)
		c := newCompany(b, g, "acme", false)
		batch := &hrgate.Batch{Companies: []*hrgate.Company{c}}
		ids = ids[:0]
		for i := range n {
			e := newEmployee(b, g, c, i)
			batch.Employees = append(batch.Employees, e)
			ids = append(ids, e.ID)
		}
		mustInsert(b, db, batch)
		dbs[mode] = db
	}
	for _, groups := range []struct {
		name string
		set  hrgate.GroupSet
	}{{"payroll", payroll}, {"all", hrgate.AllGroups}} {
		for _, mode := range []string{"plaintext", "encrypted"} {
			db := dbs[mode]
			b.Run(mode+"/"+groups.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{
						Scope: hrgate.CompanyScope{Refs: []string{"acme"}}, ID: ids[(i*7919)%n], Groups: groups.set,
					})
					if err != nil || len(es) != 1 {
						b.Fatalf("FindEmployees = %v, %v", es, err)
					}
					i++
				}
			})
		}
	}
	for _, mode := range []string{"plaintext", "encrypted"} {
		db := dbs[mode]
		b.Run(mode+"/page100", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups, Page: hrgate.Page{Limit: 100}})
				if err != nil || len(es) != 100 {
					b.Fatalf("FindEmployees = %d, %v", len(es), err)
				}
			}
		})
	}
}

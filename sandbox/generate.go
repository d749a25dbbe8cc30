package sandbox

import (
	"context"

	"github.com/hrgate/hrgate"
)

// Generate streams the sandbox described by o to emit, one batch at a time.
// The first batch of each company holds the company, its teams and its
// locations; its employees follow in batches of o.BatchSize together with
// their time-off requests and balances. Every manager is emitted before the
// employees who report to them, so each batch can be stored on its own.
//
// emit is called sequentially and may keep the batches it receives. An
// invalid o is an EINVALID error; an emit error or the end of ctx stops
// generation and is returned as is.
func Generate(ctx context.Context, o Options, emit func(*hrgate.Batch) error) error {
	if err := o.Validate(); err != nil {
		return err
	}
	size := o.batchSize()
	for c := range o.Companies {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := newCompanyGen(o, c)
		if err := emit(g.header()); err != nil {
			return err
		}
		for first := 0; first < o.Employees; first += size {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := emit(g.employees(first, min(first+size, o.Employees))); err != nil {
				return err
			}
		}
	}
	return nil
}

// Shares of employment types and statuses. Leaders (the CEO, department
// heads and managers, about one employee in eight) are always full-time and
// never terminated, so the shares of individual contributors are scaled up
// by 8/7 to give the whole company about 80% full-time, 10% part-time, 6%
// contractors, 2% interns, 2% temporary staff, 5% terminated and 3% on leave.
var (
	icTypes = []hrgate.EmploymentType{
		hrgate.TypeFullTime, hrgate.TypePartTime, hrgate.TypeContractor, hrgate.TypeIntern, hrgate.TypeTemporary,
	}
	icTypeWeights      = newWeighted(771, 114, 69, 23, 23)
	icTerminatedPerMil = 57
	leavePerMil        = 30
	seniorityWeights   = newWeighted(25, 40, 25, 10)
)

// Marital statuses of the unified model, with their weights.
var (
	maritalStatuses = []string{"single", "married", "divorced", "widowed", "domestic_partnership", "undisclosed"}
	maritalWeights  = newWeighted(34, 45, 8, 2, 6, 5)
)

// employees returns the batch of the company's employees first..end-1.
func (g *companyGen) employees(first, end int) *hrgate.Batch {
	n := end - first
	slab := make([]hrgate.Employee, n)
	b := &hrgate.Batch{
		Employees:       make([]*hrgate.Employee, n),
		TimeOffRequests: make([]*hrgate.TimeOffRequest, 0, n*2),
		TimeOffBalances: make([]*hrgate.TimeOffBalance, 0, n*2),
	}
	for i := range slab {
		b.Employees[i] = &slab[i]
		g.employee(b, &slab[i], first+i)
	}
	return b
}

// employee fills e, the company's i-th employee, and appends its time off
// to b.
func (g *companyGen) employee(b *hrgate.Batch, e *hrgate.Employee, i int) {
	r := g.r
	e.ID = r.id(hrgate.PrefixEmployee)
	e.CompanyID = g.company.ID
	e.Loaded = hrgate.AllGroups
	number := pad(g.index*g.opts.Employees+i+1, 6)
	e.RemoteID = "sandbox-emp-" + number

	lvl, dept, managerID := g.place(e.ID, i)
	e.Employment.ManagerID = managerID

	typ := hrgate.TypeFullTime
	status := hrgate.StatusActive
	if lvl == levelIC {
		typ = icTypes[icTypeWeights.pick(r)]
		if r.chance(icTerminatedPerMil) {
			status = hrgate.StatusTerminated
		}
	}
	if status == hrgate.StatusActive && lvl != levelCEO && r.chance(leavePerMil) {
		status = hrgate.StatusLeave
	}

	loc := 0 // the CEO and most heads sit at headquarters
	if lvl != levelCEO && (lvl != levelHead || r.chance(200)) {
		loc = g.locWeight.pick(r)
	}
	l := &g.locations[loc]
	c := l.country
	p := r.newPerson(c)

	dob, start, endDay := g.dates(lvl, typ, status)
	if status == hrgate.StatusTerminated {
		e.Employment.TerminationDate = formatDay(endDay)
	}

	title, seniority := r.jobTitle(lvl, dept, typ)
	factor := 100
	e.Employment.Department = executive
	if dept >= 0 {
		e.Employment.Department = departments[dept].name
		factor = departments[dept].payFactor
	}
	e.Employment.JobTitle = title
	e.Employment.WorkLocationID = l.id
	e.Employment.StartDate = formatDay(start)
	e.Employment.Status = status
	e.Employment.Type = typ

	e.Identity = hrgate.Identity{
		EmployeeNumber: pad(i+1, 6),
		FirstName:      p.first,
		LastName:       p.last,
		PreferredName:  p.preferred,
		WorkEmail:      g.emails.next(p.first, p.last),
	}

	// Contact: most people live in the city they work in.
	home := l.city
	if home == nil || r.chance(300) {
		home = &cities[c][r.IntN(len(cities[c]))]
	}
	birth := dateOf(dob)
	e.Contact = hrgate.Contact{
		PersonalEmail: r.personalEmail(p.first, p.last, birth.Year()),
		Phone:         r.phone(c, home),
		HomeAddress:   r.address(c, home, false),
	}

	e.Personal = hrgate.Personal{
		DateOfBirth:   formatDay(dob),
		Gender:        p.gender,
		MaritalStatus: maritalStatuses[maritalWeights.pick(r)],
	}
	e.Compensation = r.compensation(c, lvl, seniority, typ, factor)
	e.Banking = r.bankAccount(c, p.first+" "+p.last)

	e.GovernmentID = r.nationalID(c, p.gender, birth)

	// The record is created while the hire is prepared and last changed at
	// some point since, at the latest when the employee left.
	created := r.stamp(start-int64(r.between(1, 30)), g.nowUS)
	modifiedFrom := created
	if status == hrgate.StatusTerminated {
		modifiedFrom = max(created, r.stamp(endDay, g.nowUS))
	}
	e.CreatedAt = micro(created)
	e.ModifiedAt = micro(r.after(modifiedFrom, g.nowUS))

	span := employeeSpan{
		id: e.ID, companyID: e.CompanyID, number: number, country: c, typ: typ,
		start: start, end: endDay, createdUS: created, onLeave: status == hrgate.StatusLeave,
	}
	g.timeOffRequests(b, &span)
	g.timeOffBalances(b, &span)
}

// dates returns an employee's date of birth, start day and the day the
// employment ends (the termination day, or far ahead). Leaders are older and
// interns younger; everybody starts within the last 15 years once adult,
// interns within the last year and temporary staff within two; leavers
// leave after starting and no later than today.
func (g *companyGen) dates(lvl level, typ hrgate.EmploymentType, status hrgate.EmploymentStatus) (dob, start, end int64) {
	r := g.r
	dobLo, dobHi := g.dobLo, g.dobHi
	switch {
	case lvl == levelCEO || lvl == levelHead:
		dobHi = g.dobHiLeader
	case lvl == levelManager:
		dobHi = g.dobHiManager
	case typ == hrgate.TypeIntern:
		dobLo = g.dobLoIntern
	}
	dob = r.between64(dobLo, dobHi)
	startLo := max(g.startLo, addYears(dob, 18))
	switch typ {
	case hrgate.TypeIntern:
		startLo = max(startLo, g.today-365)
	case hrgate.TypeTemporary:
		startLo = max(startLo, g.today-730)
	}
	startHi := g.today
	if status == hrgate.StatusTerminated {
		startHi = g.today - 1
	}
	start = r.between64(min(startLo, startHi), startHi)
	end = g.today + 100*365
	if status == hrgate.StatusTerminated {
		end = r.between64(start+1, g.today)
	}
	return dob, start, end
}

// jobTitle returns the title of an employee at level lvl of department dept
// (-1 for the CEO) and, for individual contributors, their seniority.
func (r *rng) jobTitle(lvl level, dept int, typ hrgate.EmploymentType) (string, int) {
	switch lvl {
	case levelCEO:
		return "Chief Executive Officer", junior
	case levelHead:
		return departments[dept].head, junior
	case levelManager:
		return pick(r, departments[dept].managers), junior
	}
	d := &departments[dept]
	switch typ {
	case hrgate.TypeIntern:
		return d.name + " Intern", junior
	case hrgate.TypeTemporary:
		return pick(r, d.ics), junior
	}
	s := seniorityWeights.pick(r)
	return seniorityPrefix(d.name, s) + pick(r, d.ics), s
}

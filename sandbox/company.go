package sandbox

import (
	"strconv"
	"time"

	"github.com/hrgate/hrgate"
)

// location is a work location with what the employees placed there need.
type location struct {
	id      string
	country country
	city    *city // nil for the remote location
}

// companyGen generates one company. It holds only what later employees
// depend on: the locations, the departments' heads and recent managers, and
// the work e-mail counters.
type companyGen struct {
	r     *rng
	index int
	opts  Options

	nowUS int64 // Now in microseconds
	today int64 // the day of Now

	// Bounds of dates of birth and start dates, computed once.
	dobLo, dobHi, dobHiLeader, dobHiManager, dobLoIntern int64
	startLo                                              int64

	company   *hrgate.Company
	country   country
	locations []location
	locWeight weighted
	depts     []deptState
	emails    *workEmails
	ceoID     string
}

// newCompanyGen prepares company number index (from 0) of a sandbox.
func newCompanyGen(o Options, index int) *companyGen {
	now := o.Now.UTC()
	today := dayOf(now)
	g := &companyGen{
		r:       newRNG(o.Seed, index),
		index:   index,
		opts:    o,
		nowUS:   now.UnixMicro(),
		today:   today,
		country: country(index % int(numCountries)),
		dobLo:   dayOfDate(1960, time.January, 1),
		startLo: addYears(today, -15),
	}
	// Everybody is an adult by the day before today, so that even a person
	// who has already left can have started after turning 18.
	g.dobHi = min(dayOfDate(2005, time.December, 31), addYears(today-1, -18))
	g.dobHiLeader = max(g.dobLo, min(g.dobHi, addYears(today, -35)))
	g.dobHiManager = max(g.dobLo, min(g.dobHi, addYears(today, -27)))
	g.dobLoIntern = min(g.dobHi, max(g.dobLo, addYears(today, -26)))
	return g
}

// header returns the first batch of the company: the company, its teams and
// its locations.
func (g *companyGen) header() *hrgate.Batch {
	r := g.r
	n := companyNames[g.index]
	createdDay := addYears(g.today, -15) - int64(r.between(60, 400))
	created := r.stamp(createdDay, g.nowUS)
	c := &hrgate.Company{
		ID:         r.id(hrgate.PrefixCompany),
		Slug:       n.slug,
		Name:       n.name,
		Country:    g.country.code(),
		Sandbox:    true,
		RemoteID:   "sandbox-company-" + strconv.Itoa(g.index+1),
		CreatedAt:  micro(created),
		ModifiedAt: micro(r.after(created, g.nowUS)),
	}
	g.company = c
	g.emails = newWorkEmails(n.slug)
	b := &hrgate.Batch{Companies: []*hrgate.Company{c}}
	g.addLocations(b, createdDay, created)
	g.addTeams(b, createdDay, created)
	return b
}

// addLocations adds the headquarters in the company's country, up to two
// offices in other countries and a remote location, two to four in all.
func (g *companyGen) addLocations(b *hrgate.Batch, createdDay, companyCreated int64) {
	r := g.r
	others := make([]country, 0, numCountries-1)
	for c := range numCountries {
		if c != g.country {
			others = append(others, c)
		}
	}
	r.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	offices := append([]country{g.country}, others[:r.IntN(3)]...)
	remote := len(offices) == 1 || r.IntN(2) == 0

	weights := make([]int, 0, 4)
	add := func(name, typ string, c country, ct *city, addr hrgate.Address, weight int) {
		created := max(companyCreated, r.stamp(createdDay+int64(r.between(0, 2000)), g.nowUS))
		l := &hrgate.Location{
			ID:         r.id(hrgate.PrefixLocation),
			CompanyID:  g.company.ID,
			RemoteID:   "sandbox-loc-" + strconv.Itoa(g.index+1) + "-" + strconv.Itoa(len(g.locations)+1),
			Name:       name,
			Type:       typ,
			Address:    addr,
			CreatedAt:  micro(created),
			ModifiedAt: micro(r.after(created, g.nowUS)),
		}
		b.Locations = append(b.Locations, l)
		g.locations = append(g.locations, location{id: l.ID, country: c, city: ct})
		weights = append(weights, weight)
	}
	for i, c := range offices {
		ct := &cities[c][r.IntN(len(cities[c]))]
		name, weight := ct.name+" Office", 15
		if i == 0 {
			name, weight = ct.name+" HQ", 55
		}
		add(name, "office", c, ct, r.address(c, ct, true), weight)
	}
	if remote {
		// Remote staff are employed under the headquarters' country.
		add("Remote", "remote", g.country, nil, hrgate.Address{Country: g.country.code()}, 15)
	}
	g.locWeight = newWeighted(weights...)
}

// addTeams adds the Executive department, the departments and, under most
// departments, one to three teams.
func (g *companyGen) addTeams(b *hrgate.Batch, createdDay, companyCreated int64) {
	r := g.r
	add := func(name, typ, parent string) string {
		created := max(companyCreated, r.stamp(createdDay+int64(r.between(0, 30)), g.nowUS))
		t := &hrgate.Team{
			ID:         r.id(hrgate.PrefixTeam),
			CompanyID:  g.company.ID,
			RemoteID:   "sandbox-team-" + strconv.Itoa(g.index+1) + "-" + strconv.Itoa(len(b.Teams)+1),
			Name:       name,
			Type:       typ,
			ParentID:   parent,
			CreatedAt:  micro(created),
			ModifiedAt: micro(r.after(created, g.nowUS)),
		}
		b.Teams = append(b.Teams, t)
		return t.ID
	}
	add(executive, "department", "")
	g.depts = make([]deptState, len(departments))
	for i := range departments {
		g.depts[i].teamID = add(departments[i].name, "department", "")
	}
	for i := range departments {
		d := &departments[i]
		if i != 0 && r.chance(300) {
			continue // Engineering is always split; some small departments are not
		}
		names := append([]string(nil), d.teams...)
		r.Shuffle(len(names), func(a, b int) { names[a], names[b] = names[b], names[a] })
		for _, name := range names[:r.between(1, 3)] {
			add(name, "team", g.depts[i].teamID)
		}
	}
}

package sandbox

// The hierarchy is built as employees are generated, in order: the CEO
// first, then one head per department reporting to the CEO, then, as each
// department grows, managers reporting to its head and individual
// contributors reporting to one of its managers. A manager therefore always
// comes before their reports, so no batch refers to a later one and the
// graph cannot have a cycle.

// managerRing is how many recent managers of a department new individual
// contributors are spread over. Keeping only these, not every manager,
// bounds the memory of the hierarchy whatever the head count.
const managerRing = 32

// managerSpan is the number of individual contributors per manager: a
// department hires a new manager once its managers each have this many.
const managerSpan = 7

// deptState is the part of a department's hierarchy that later hires need.
type deptState struct {
	teamID   string
	headID   string
	ring     [managerRing]string
	managers int
	ics      int
}

// place puts the company's i-th employee, whose id is id, in the hierarchy
// and returns their level, their department (-1 for the CEO) and their
// manager's id ("" for the CEO).
func (g *companyGen) place(id string, i int) (lvl level, dept int, managerID string) {
	switch {
	case i == 0:
		g.ceoID = id
		return levelCEO, -1, ""
	case i <= len(departments):
		dept = i - 1
		g.depts[dept].headID = id
		return levelHead, dept, g.ceoID
	}
	dept = departmentWeights.pick(g.r)
	ds := &g.depts[dept]
	if ds.ics >= ds.managers*managerSpan {
		ds.ring[ds.managers%managerRing] = id
		ds.managers++
		return levelManager, dept, ds.headID
	}
	ds.ics++
	return levelIC, dept, ds.ring[g.r.IntN(min(ds.managers, managerRing))]
}

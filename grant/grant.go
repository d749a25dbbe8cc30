package grant

import (
	"slices"
	"strings"

	"github.com/hrgate/hrgate"
)

// Grant is a parsed, normalized set of scopes: which companies, which
// resources, and which employee field groups with which access. Equal
// grants have equal Scopes. The zero Grant, and a nil *Grant, grant
// nothing; every method accepts nil so that a missing grant fails closed.
//
// A Grant is immutable once built and safe for concurrent use.
type Grant struct {
	// groups holds the employee field groups per access, indexed by
	// Access. groups[AccessReadMasked] never overlaps groups[AccessRead]:
	// read implies read_masked, and keeping the two disjoint gives every
	// grant one canonical form.
	groups [AccessWrite + 1]hrgate.GroupSet
	// access holds the accesses granted on resources other than
	// employees; access[resEmployees] is unused.
	access [numResources]accessSet
	// allCompanies is set by "companies:*"; companies is then nil.
	allCompanies bool
	// companies holds the selectors (ids or slugs), sorted and unique.
	companies []string
}

// normalize restores the invariants documented on Grant.
func (g *Grant) normalize() {
	g.groups[AccessReadMasked] &^= g.groups[AccessRead]
	if g.allCompanies {
		g.companies = nil
		return
	}
	slices.Sort(g.companies)
	g.companies = slices.Compact(g.companies)
}

// Scopes returns the grant as canonical scopes, sorted, one per resource and
// access (company selectors are split over several scopes only when one
// would exceed MaxScopeLen), with field groups in canonical order. Parse(g.Scopes()...) yields
// a grant equal to g, so Scopes is the form to store.
func (g *Grant) Scopes() []string {
	if g == nil {
		return []string{}
	}
	out := make([]string, 0, 8)
	for _, a := range accesses {
		if set := g.groups[a]; set != 0 {
			out = append(out, ResourceEmployees+":"+a.String()+":"+set.String())
		}
	}
	for r := resEmployees + 1; r < numResources; r++ {
		for _, a := range accesses {
			if g.access[r].has(a) {
				out = append(out, resources[r].name+":"+a.String())
			}
		}
	}
	if g.allCompanies {
		out = append(out, ResourceCompanies+":*")
	}
	out = appendCompanyScopes(out, g.companies)
	slices.Sort(out)
	return out
}

// appendCompanyScopes appends companies scopes naming the selectors, as few
// as possible while each stays within MaxScopeLen so that Parse accepts
// them again.
func appendCompanyScopes(out []string, selectors []string) []string {
	const prefix = ResourceCompanies + ":"
	var b strings.Builder
	for _, sel := range selectors {
		if b.Len() > 0 && b.Len()+1+len(sel) > MaxScopeLen {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(prefix)
		} else {
			b.WriteByte(',')
		}
		b.WriteString(sel)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// String returns the canonical scopes joined by single spaces.
func (g *Grant) String() string { return strings.Join(g.Scopes(), " ") }

// IsEmpty reports whether g grants nothing at all.
func (g *Grant) IsEmpty() bool {
	return g == nil || g.Equal(&Grant{})
}

// Equal reports whether g and h grant exactly the same.
func (g *Grant) Equal(h *Grant) bool {
	if g == nil {
		g = &Grant{}
	}
	if h == nil {
		h = &Grant{}
	}
	return g.groups == h.groups && g.access == h.access &&
		g.allCompanies == h.allCompanies && slices.Equal(g.companies, h.companies)
}

// Covers reports whether h is a sub-grant of g: everything h allows, g
// allows too. Key scopes must be covered by their consumer's grant.
//
// Company selectors compare as text, except that "*" covers any selector: a
// grant naming "acme" does not cover one naming the same company by id,
// because the gate cannot know they match without a look-up and must not
// guess in favour of access.
func (g *Grant) Covers(h *Grant) bool {
	if h == nil {
		return true
	}
	if g == nil {
		g = &Grant{}
	}
	readable := g.groups[AccessRead] | g.groups[AccessReadMasked]
	if h.groups[AccessRead]&^g.groups[AccessRead] != 0 ||
		h.groups[AccessReadMasked]&^readable != 0 ||
		h.groups[AccessWrite]&^g.groups[AccessWrite] != 0 {
		return false
	}
	for r := range numResources {
		if h.access[r]&^g.access[r] != 0 {
			return false
		}
	}
	if g.allCompanies {
		return true
	}
	if h.allCompanies {
		return false
	}
	for _, c := range h.companies {
		if _, ok := slices.BinarySearch(g.companies, c); !ok {
			return false
		}
	}
	return true
}

// Intersect returns what both g and h allow; the effective grant of a
// credential is its scopes intersected with its consumer's current grant.
// A group readable in one and read_masked in the other comes out
// read_masked. Company selectors intersect as text, with "*" as the
// identity (see Covers).
func (g *Grant) Intersect(h *Grant) *Grant {
	out := new(Grant)
	if g == nil || h == nil {
		return out
	}
	out.groups[AccessRead] = g.groups[AccessRead] & h.groups[AccessRead]
	out.groups[AccessReadMasked] = (g.groups[AccessRead] | g.groups[AccessReadMasked]) &
		(h.groups[AccessRead] | h.groups[AccessReadMasked]) &^ out.groups[AccessRead]
	out.groups[AccessWrite] = g.groups[AccessWrite] & h.groups[AccessWrite]
	for r := range numResources {
		out.access[r] = g.access[r] & h.access[r]
	}
	switch {
	case g.allCompanies && h.allCompanies:
		out.allCompanies = true
	case g.allCompanies:
		out.companies = slices.Clone(h.companies)
	case h.allCompanies:
		out.companies = slices.Clone(g.companies)
	default:
		for _, c := range g.companies {
			if _, ok := slices.BinarySearch(h.companies, c); ok {
				out.companies = append(out.companies, c)
			}
		}
	}
	return out
}

// CompanyScope returns the companies the grant reaches, for store queries.
// A grant without a companies scope yields the zero CompanyScope, which
// matches no company. Refs is a fresh slice the caller may keep.
func (g *Grant) CompanyScope() hrgate.CompanyScope {
	switch {
	case g == nil:
		return hrgate.CompanyScope{}
	case g.allCompanies:
		return hrgate.CompanyScope{All: true}
	case len(g.companies) > 0:
		return hrgate.CompanyScope{Refs: slices.Clone(g.companies)}
	}
	return hrgate.CompanyScope{}
}

// CanRead reports whether the grant lets resource be read. For "employees"
// that is any field group readable in clear or masked; for "companies" it is
// any companies scope. Unknown resources are never readable.
func (g *Grant) CanRead(resource string) bool {
	if g == nil {
		return false
	}
	switch resource {
	case ResourceEmployees:
		return g.EmployeeGroups() != 0
	case ResourceCompanies:
		return g.allCompanies || len(g.companies) > 0
	}
	r, ok := lookupResource(resource)
	return ok && g.access[r].has(AccessRead)
}

// CanWrite reports whether the grant lets resource be written. For
// "employees" that is any writable field group. Companies are never
// writable through a grant.
func (g *Grant) CanWrite(resource string) bool {
	if g == nil {
		return false
	}
	if resource == ResourceEmployees {
		return g.groups[AccessWrite] != 0
	}
	r, ok := lookupResource(resource)
	return ok && g.access[r].has(AccessWrite)
}

// EmployeeGroups returns the field groups the grant lets out, in clear or
// masked. A store loads exactly these.
func (g *Grant) EmployeeGroups() hrgate.GroupSet {
	if g == nil {
		return 0
	}
	return g.groups[AccessRead] | g.groups[AccessReadMasked]
}

// MaskedGroups returns the field groups that come out masked: granted
// read_masked and not read.
func (g *Grant) MaskedGroups() hrgate.GroupSet {
	if g == nil {
		return 0
	}
	return g.groups[AccessReadMasked]
}

// WritableGroups returns the field groups the grant lets a consumer write.
func (g *Grant) WritableGroups() hrgate.GroupSet {
	if g == nil {
		return 0
	}
	return g.groups[AccessWrite]
}

package gate

import (
	"context"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

// Reader is the read side of the store as a principal sees it. Every
// method confines the query to the principal's companies and, for
// employees, loads only the field groups the grant lets out. A resource the
// grant does not name is EFORBIDDEN; an object outside the grant is simply
// absent, exactly as if it did not exist.
type Reader struct {
	store hrgate.ReadStore
	p     *Principal
}

// NewReader returns the principal's view of store.
func NewReader(store hrgate.ReadStore, p *Principal) *Reader {
	return &Reader{store: store, p: p}
}

// maxPage bounds every read through a Reader: api.max_page_size (at most
// 1000) plus the one row a transport fetches to learn whether another
// page follows. The store reads without limit when asked to; a consumer's
// reads never are.
const maxPage = 1001

func checkPage(p hrgate.Page) error {
	if p.Limit < 1 || p.Limit > maxPage {
		return hrgate.Errorf(hrgate.EINVALID, "A read needs a page size between 1 and %d.", maxPage)
	}
	return nil
}

func (r *Reader) require(resource string) error {
	if !r.p.Grant.CanRead(resource) {
		return hrgate.Errorf(hrgate.EFORBIDDEN, "This credential's grant does not include %s.", resource)
	}
	return nil
}

// Companies returns the companies in the grant matching f.
func (r *Reader) Companies(ctx context.Context, f hrgate.CompanyFilter) ([]*hrgate.Company, error) {
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	f.Scope = r.p.CompanyScope()
	return r.store.FindCompanies(ctx, f)
}

// Employees returns the employees in the grant matching f, with only the
// granted field groups loaded.
func (r *Reader) Employees(ctx context.Context, f hrgate.EmployeeFilter) ([]*hrgate.Employee, error) {
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if err := r.require("employees"); err != nil {
		return nil, err
	}
	f.Scope = r.p.CompanyScope()
	f.Groups = r.p.Grant.EmployeeGroups()
	// A filter on a field is a way to read it: filtering by status needs
	// the employment group unmasked, or the answer would reveal what the
	// projection hides.
	if f.Status != "" && (!f.Groups.Has(hrgate.GroupEmployment) || r.p.Grant.MaskedGroups().Has(hrgate.GroupEmployment)) {
		return nil, hrgate.Errorf(hrgate.EFORBIDDEN, "Filtering by employment_status needs the employment field group (employees:read:employment).")
	}
	if err := r.checkSearch(f); err != nil {
		return nil, err
	}
	return r.store.FindEmployees(ctx, f)
}

// Employee returns the employee with the given id as the principal sees
// it, with only the granted field groups loaded, or nil when there is no
// such employee in the grant: a malformed id, an employee that does not
// exist, one erased and one outside the grant all answer alike. The API's
// GET /v1/employees/{id} and webhook payloads both read through it.
func (r *Reader) Employee(ctx context.Context, id string) (*hrgate.Employee, error) {
	if !hrgate.ValidID(hrgate.PrefixEmployee, id) {
		return nil, nil
	}
	es, err := r.Employees(ctx, hrgate.EmployeeFilter{ID: id, Page: hrgate.Page{Limit: 1}})
	if err != nil || len(es) == 0 {
		return nil, err
	}
	return es[0], nil
}

// TimeOffRequest returns the time-off request with the given id as the
// principal sees it, or nil when there is none in the grant: a malformed
// id, a request that does not exist, one deleted and one outside the
// grant answer alike, as Employee does. A cancelled request is there,
// with its last state. Webhook payloads read through it.
func (r *Reader) TimeOffRequest(ctx context.Context, id string) (*hrgate.TimeOffRequest, error) {
	// An empty id would read every request in the grant.
	if !hrgate.ValidID(hrgate.PrefixTimeOff, id) {
		return nil, nil
	}
	rs, err := r.TimeOffRequests(ctx, hrgate.TimeOffFilter{ID: id, Page: hrgate.Page{Limit: 1}})
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// SeesCompany reports whether the company with the given id is in the
// principal's grant.
func (r *Reader) SeesCompany(ctx context.Context, id string) (bool, error) {
	cs, err := r.Companies(ctx, hrgate.CompanyFilter{ID: id, Page: hrgate.Page{Limit: 1}})
	return len(cs) > 0, err
}

// ConsumerPrincipal returns the principal a consumer's webhook deliveries
// are made as: the consumer's whole grant, over live data. It reads the
// grant as stored, at the time of the call, so that a narrowed grant
// narrows what the next delivery carries.
func ConsumerPrincipal(c *hrgate.Consumer) (*Principal, error) {
	g, err := grant.Parse(c.Scopes...)
	if err != nil {
		return nil, hrgate.Wrap(err, "consumer grant")
	}
	return &Principal{ConsumerID: c.ID, ConsumerName: c.Name, Env: hrgate.KeyLive, Grant: g}, nil
}

// TimeOffRequests returns the time-off requests in the grant matching f.
func (r *Reader) TimeOffRequests(ctx context.Context, f hrgate.TimeOffFilter) ([]*hrgate.TimeOffRequest, error) {
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if err := r.require("time_off"); err != nil {
		return nil, err
	}
	f.Scope = r.p.CompanyScope()
	return r.store.FindTimeOffRequests(ctx, f)
}

// TimeOffBalances returns the time-off balances in the grant matching f.
func (r *Reader) TimeOffBalances(ctx context.Context, f hrgate.TimeOffFilter) ([]*hrgate.TimeOffBalance, error) {
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if err := r.require("time_off"); err != nil {
		return nil, err
	}
	f.Scope = r.p.CompanyScope()
	return r.store.FindTimeOffBalances(ctx, f)
}

// Teams returns the teams in the grant matching f.
func (r *Reader) Teams(ctx context.Context, f hrgate.OrgFilter) ([]*hrgate.Team, error) {
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if err := r.require("teams"); err != nil {
		return nil, err
	}
	f.Scope = r.p.CompanyScope()
	return r.store.FindTeams(ctx, f)
}

// Locations returns the locations in the grant matching f.
func (r *Reader) Locations(ctx context.Context, f hrgate.OrgFilter) ([]*hrgate.Location, error) {
	if err := checkPage(f.Page); err != nil {
		return nil, err
	}
	if err := r.require("locations"); err != nil {
		return nil, err
	}
	f.Scope = r.p.CompanyScope()
	return r.store.FindLocations(ctx, f)
}

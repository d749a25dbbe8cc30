package http

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
)

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the served OpenAPI 3.1 document.
func OpenAPIDocument() []byte { return openAPIDocument }

// Query parameters shared by list routes.
var (
	pageParams     = []string{"limit", "cursor"}
	employeeParams = []string{"company_id", "modified_after", "employment_status", "national_id", "personal_email", "limit", "cursor"}
	timeOffParams  = []string{"company_id", "employee_id", "modified_after", "limit", "cursor"}
	balanceParams  = []string{"company_id", "employee_id", "limit", "cursor"}
	orgParams      = []string{"company_id", "limit", "cursor"}
)

func (s *Server) registerRoutes() {
	s.public("GET /healthz", s.healthz)
	s.public("GET /readyz", s.readyz)
	s.public("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeJSON(w, openAPIDocument)
		return nil
	})

	s.route("GET /v1/companies", pageParams, serveList(s, listSpec[*hrgate.Company]{
		route:  "companies",
		object: grant.ObjectCompany,
		fetch: func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]*hrgate.Company, error) {
			return rd.Companies(ctx, hrgate.CompanyFilter{Page: page})
		},
		id:     func(c *hrgate.Company) string { return c.ID },
		append: appendCompany,
	}))
	s.route("GET /v1/companies/{id}", nil, serveOne(s, "Company", grant.ObjectCompany,
		func(ctx context.Context, rd *gate.Reader, id string) ([]*hrgate.Company, error) {
			return rd.Companies(ctx, hrgate.CompanyFilter{ID: id, Page: hrgate.Page{Limit: 1}})
		}, func(c *hrgate.Company) string { return c.ID }, appendCompany))

	s.route("GET /v1/employees", employeeParams, serveList(s, listSpec[*hrgate.Employee]{
		route:  "employees",
		object: grant.ObjectEmployee,
		fetch: func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]*hrgate.Employee, error) {
			f := hrgate.EmployeeFilter{Page: page}
			var err error
			if f.CompanyID, err = q.id("company_id", hrgate.PrefixCompany); err != nil {
				return nil, err
			}
			if f.ModifiedAfter, err = q.time("modified_after"); err != nil {
				return nil, err
			}
			if f.Status, err = q.status(); err != nil {
				return nil, err
			}
			// Checked, authorized and searched through blind indexes by
			// the gate and the store; never echoed or logged.
			f.NationalID, f.PersonalEmail = q.get("national_id"), q.get("personal_email")
			return rd.Employees(ctx, f)
		},
		id:     func(e *hrgate.Employee) string { return e.ID },
		append: appendEmployee,
	}))
	s.route("GET /v1/employees/{id}", nil, serveOne(s, "Employee", grant.ObjectEmployee,
		func(ctx context.Context, rd *gate.Reader, id string) ([]*hrgate.Employee, error) {
			e, err := rd.Employee(ctx, id)
			if e == nil {
				return nil, err
			}
			return []*hrgate.Employee{e}, nil
		}, func(e *hrgate.Employee) string { return e.ID }, appendEmployee))

	s.route("GET /v1/time-off", timeOffParams, serveList(s, listSpec[*hrgate.TimeOffRequest]{
		route:  "time-off",
		object: grant.ObjectTimeOffRequest,
		fetch: func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]*hrgate.TimeOffRequest, error) {
			f, err := timeOffFilter(q, page)
			if err != nil {
				return nil, err
			}
			return rd.TimeOffRequests(ctx, f)
		},
		id: func(t *hrgate.TimeOffRequest) string { return t.ID },
		append: func(dst []byte, t *hrgate.TimeOffRequest, _ *gate.Principal) []byte {
			return grant.AppendTimeOffRequest(dst, t)
		},
	}))
	s.route("GET /v1/time-off-balances", balanceParams, serveList(s, listSpec[*hrgate.TimeOffBalance]{
		route:  "time-off-balances",
		object: grant.ObjectTimeOffBalance,
		fetch: func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]*hrgate.TimeOffBalance, error) {
			f, err := timeOffFilter(q, page)
			if err != nil {
				return nil, err
			}
			return rd.TimeOffBalances(ctx, f)
		},
		id: func(b *hrgate.TimeOffBalance) string { return b.ID },
		append: func(dst []byte, b *hrgate.TimeOffBalance, _ *gate.Principal) []byte {
			return grant.AppendTimeOffBalance(dst, b)
		},
	}))
	s.route("GET /v1/teams", orgParams, serveList(s, listSpec[*hrgate.Team]{
		route:  "teams",
		object: grant.ObjectTeam,
		fetch: func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]*hrgate.Team, error) {
			f, err := orgFilter(q, page)
			if err != nil {
				return nil, err
			}
			return rd.Teams(ctx, f)
		},
		id:     func(t *hrgate.Team) string { return t.ID },
		append: func(dst []byte, t *hrgate.Team, _ *gate.Principal) []byte { return grant.AppendTeam(dst, t) },
	}))
	s.route("GET /v1/locations", orgParams, serveList(s, listSpec[*hrgate.Location]{
		route:  "locations",
		object: grant.ObjectLocation,
		fetch: func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]*hrgate.Location, error) {
			f, err := orgFilter(q, page)
			if err != nil {
				return nil, err
			}
			return rd.Locations(ctx, f)
		},
		id:     func(l *hrgate.Location) string { return l.ID },
		append: func(dst []byte, l *hrgate.Location, _ *gate.Principal) []byte { return grant.AppendLocation(dst, l) },
	}))
	s.route("GET /v1/audit/events", auditParams, s.auditEvents)
	if s.sources != nil {
		s.registerSourceRoutes()
	}
	s.registerOAuthRoutes()
	s.finishRoutes()
}

func appendCompany(dst []byte, c *hrgate.Company, _ *gate.Principal) []byte {
	return grant.AppendCompany(dst, c)
}

// appendEmployee projects through the principal's grant: the one place the
// API decides which fields leave.
func appendEmployee(dst []byte, e *hrgate.Employee, p *gate.Principal) []byte {
	return grant.AppendEmployee(dst, e, p.Grant)
}

// timeOffFilter reads the filters of both time-off routes; a parameter a
// route does not take has already been refused by parseQuery.
func timeOffFilter(q query, page hrgate.Page) (hrgate.TimeOffFilter, error) {
	f := hrgate.TimeOffFilter{Page: page}
	var err error
	if f.CompanyID, err = q.id("company_id", hrgate.PrefixCompany); err != nil {
		return f, err
	}
	if f.EmployeeID, err = q.id("employee_id", hrgate.PrefixEmployee); err != nil {
		return f, err
	}
	f.ModifiedAfter, err = q.time("modified_after")
	return f, err
}

func orgFilter(q query, page hrgate.Page) (hrgate.OrgFilter, error) {
	f := hrgate.OrgFilter{Page: page}
	var err error
	f.CompanyID, err = q.id("company_id", hrgate.PrefixCompany)
	return f, err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, []byte(`{"status":"ok"}`))
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &hrgate.Error{Code: hrgate.EUNAVAILABLE, Message: "The database is not reachable.", Err: err}
	}
	writeJSON(w, []byte(`{"status":"ready"}`))
	return nil
}

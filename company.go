package hrgate

import "time"

// Company is an employer whose HR data hrgate holds. Consumers name companies
// in their grant by id or by slug.
type Company struct {
	ID      string
	Slug    string // unique, lower-case, readable ("acme")
	Name    string
	Country string // ISO 3166-1 alpha-2
	// Sandbox marks a company of synthetic data. Test keys see only
	// sandbox companies.
	Sandbox    bool
	SourceID   string
	RemoteID   string
	CreatedAt  time.Time
	ModifiedAt time.Time
}

// CompanyScope limits which companies a query may touch. Its zero value
// matches no company at all, so a query built without a grant sees nothing.
type CompanyScope struct {
	// All matches every company. Only internal callers set it.
	All bool
	// Refs are company ids or slugs; a company matches when its id or its
	// slug is listed.
	Refs []string
	// SandboxOnly further limits the scope to sandbox companies; it is set
	// for test keys.
	SandboxOnly bool
}

// AllCompanies is the scope of internal callers such as the CLI.
var AllCompanies = CompanyScope{All: true}

// Matches reports whether c is inside the scope.
func (s CompanyScope) Matches(c *Company) bool {
	if s.SandboxOnly && !c.Sandbox {
		return false
	}
	if s.All {
		return true
	}
	for _, r := range s.Refs {
		if r == c.ID || r == c.Slug {
			return true
		}
	}
	return false
}

// IsNone reports whether the scope matches no company.
func (s CompanyScope) IsNone() bool { return !s.All && len(s.Refs) == 0 }

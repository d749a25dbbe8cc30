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

// ValidSlug reports whether s is a company slug: 1 to 63 lower-case
// letters, digits or '-', starting with a letter or digit. A slug holds no
// '_', so it can never be a company id (com_…): scopes and filters name a
// company by either, and one must not reach two companies.
func ValidSlug(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

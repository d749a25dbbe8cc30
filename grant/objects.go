package grant

import (
	"time"

	"github.com/hrgate/hrgate"
)

// The catalogue of the objects other than employees. Their fields carry no
// field group: a resource scope (time_off:read, teams:read, ...) lets the
// whole object out.

var companyFields = []spec[hrgate.Company]{
	always(text("id", "id", func(c *hrgate.Company) string { return c.ID })),
	text("slug", "string", func(c *hrgate.Company) string { return c.Slug }),
	text("name", "string", func(c *hrgate.Company) string { return c.Name }),
	text("country", "string", func(c *hrgate.Company) string { return c.Country }),
	boolean("sandbox", func(c *hrgate.Company) bool { return c.Sandbox }),
	always(text("remote_id", "string", func(c *hrgate.Company) string { return c.RemoteID })),
	always(timestamp("created_at", func(c *hrgate.Company) time.Time { return c.CreatedAt })),
	always(timestamp("modified_at", func(c *hrgate.Company) time.Time { return c.ModifiedAt })),
}

type tor = hrgate.TimeOffRequest

var timeOffRequestFields = []spec[tor]{
	always(text("id", "id", func(t *tor) string { return t.ID })),
	always(text("company_id", "id", func(t *tor) string { return t.CompanyID })),
	text("employee_id", "id", func(t *tor) string { return t.EmployeeID }),
	always(text("remote_id", "string", func(t *tor) string { return t.RemoteID })),
	enum("type", []string{"vacation", "sick", "personal", "parental", "unpaid"}, func(t *tor) string { return t.Type }),
	enum("status", []string{"requested", "approved", "declined", "cancelled"}, func(t *tor) string { return t.Status }),
	text("start_date", "date", func(t *tor) string { return t.StartDate }),
	text("end_date", "date", func(t *tor) string { return t.EndDate }),
	decimal("amount", func(t *tor) string { return t.Amount }),
	enum("units", []string{"days", "hours"}, func(t *tor) string { return t.Units }),
	always(timestamp("created_at", func(t *tor) time.Time { return t.CreatedAt })),
	always(timestamp("modified_at", func(t *tor) time.Time { return t.ModifiedAt })),
}

type tob = hrgate.TimeOffBalance

var timeOffBalanceFields = []spec[tob]{
	always(text("id", "id", func(b *tob) string { return b.ID })),
	always(text("company_id", "id", func(b *tob) string { return b.CompanyID })),
	text("employee_id", "id", func(b *tob) string { return b.EmployeeID }),
	always(text("remote_id", "string", func(b *tob) string { return b.RemoteID })),
	enum("policy_type", []string{"vacation", "sick", "personal"}, func(b *tob) string { return b.PolicyType }),
	decimal("balance", func(b *tob) string { return b.Balance }),
	decimal("used", func(b *tob) string { return b.Used }),
	enum("units", []string{"days", "hours"}, func(b *tob) string { return b.Units }),
	always(timestamp("created_at", func(b *tob) time.Time { return b.CreatedAt })),
	always(timestamp("modified_at", func(b *tob) time.Time { return b.ModifiedAt })),
}

var teamFields = []spec[hrgate.Team]{
	always(text("id", "id", func(t *hrgate.Team) string { return t.ID })),
	always(text("company_id", "id", func(t *hrgate.Team) string { return t.CompanyID })),
	always(text("remote_id", "string", func(t *hrgate.Team) string { return t.RemoteID })),
	text("name", "string", func(t *hrgate.Team) string { return t.Name }),
	enum("type", []string{"department", "team"}, func(t *hrgate.Team) string { return t.Type }),
	text("parent_id", "id", func(t *hrgate.Team) string { return t.ParentID }),
	always(timestamp("created_at", func(t *hrgate.Team) time.Time { return t.CreatedAt })),
	always(timestamp("modified_at", func(t *hrgate.Team) time.Time { return t.ModifiedAt })),
}

var locationFields = []spec[hrgate.Location]{
	always(text("id", "id", func(l *hrgate.Location) string { return l.ID })),
	always(text("company_id", "id", func(l *hrgate.Location) string { return l.CompanyID })),
	always(text("remote_id", "string", func(l *hrgate.Location) string { return l.RemoteID })),
	text("name", "string", func(l *hrgate.Location) string { return l.Name }),
	enum("type", []string{"office", "remote"}, func(l *hrgate.Location) string { return l.Type }),
	address("address", func(l *hrgate.Location) *hrgate.Address { return &l.Address }),
	always(timestamp("created_at", func(l *hrgate.Location) time.Time { return l.CreatedAt })),
	always(timestamp("modified_at", func(l *hrgate.Location) time.Time { return l.ModifiedAt })),
}

package grant

import (
	"time"

	"github.com/hrgate/hrgate"
)

// The employee catalogue: names, types and output order of every employee
// field. Adding a field here adds it to Fields and to the projection at
// once; renaming one breaks every consumer, so don't.

type emp = hrgate.Employee

// employeeEnvelope is written for every employee, whatever the grant. It
// holds no personal data: ids, the source's own id and timestamps.
var employeeEnvelope = []spec[emp]{
	always(text("id", "id", func(e *emp) string { return e.ID })),
	always(text("company_id", "id", func(e *emp) string { return e.CompanyID })),
	always(text("remote_id", "string", func(e *emp) string { return e.RemoteID })),
	always(timestamp("created_at", func(e *emp) time.Time { return e.CreatedAt })),
	always(timestamp("modified_at", func(e *emp) time.Time { return e.ModifiedAt })),
}

// employeeGroups holds the fields of each field group, indexed by group.
var employeeGroups = [...][]spec[emp]{
	hrgate.GroupIdentity: {
		text("employee_number", "string", func(e *emp) string { return e.Identity.EmployeeNumber }),
		text("first_name", "string", func(e *emp) string { return e.Identity.FirstName }),
		text("last_name", "string", func(e *emp) string { return e.Identity.LastName }),
		text("preferred_name", "string", func(e *emp) string { return e.Identity.PreferredName }),
		text("work_email", "email", func(e *emp) string { return e.Identity.WorkEmail }),
	},
	hrgate.GroupEmployment: {
		text("job_title", "string", func(e *emp) string { return e.Employment.JobTitle }),
		text("department", "string", func(e *emp) string { return e.Employment.Department }),
		text("manager_id", "id", func(e *emp) string { return e.Employment.ManagerID }),
		text("work_location_id", "id", func(e *emp) string { return e.Employment.WorkLocationID }),
		text("start_date", "date", func(e *emp) string { return e.Employment.StartDate }),
		text("termination_date", "date", func(e *emp) string { return e.Employment.TerminationDate }),
		enum("employment_status", []string{"active", "leave", "terminated"},
			func(e *emp) string { return string(e.Employment.Status) }),
		enum("employment_type", []string{"full_time", "part_time", "contractor", "intern", "temporary"},
			func(e *emp) string { return string(e.Employment.Type) }),
	},
	hrgate.GroupContact: {
		text("personal_email", "email", func(e *emp) string { return e.Contact.PersonalEmail }),
		text("phone", "string", func(e *emp) string { return e.Contact.Phone }),
		address("home_address", func(e *emp) *hrgate.Address { return &e.Contact.HomeAddress }),
	},
	hrgate.GroupPersonal: {
		text("date_of_birth", "date", func(e *emp) string { return e.Personal.DateOfBirth }),
		text("gender", "string", func(e *emp) string { return e.Personal.Gender }),
		text("marital_status", "string", func(e *emp) string { return e.Personal.MaritalStatus }),
	},
	hrgate.GroupCompensation: {
		object("compensation", func(e *emp) bool { return e.Compensation.IsZero() },
			decimal("pay_rate", func(e *emp) string { return e.Compensation.PayRate }),
			keep(enum("pay_period", []string{"hour", "day", "week", "month", "year"},
				func(e *emp) string { return e.Compensation.PayPeriod })),
			keep(text("pay_currency", "string", func(e *emp) string { return e.Compensation.PayCurrency })),
			keep(enum("pay_frequency", []string{"weekly", "biweekly", "semimonthly", "monthly"},
				func(e *emp) string { return e.Compensation.PayFrequency })),
		),
	},
	hrgate.GroupBanking: {
		object("bank_account", func(e *emp) bool { return e.Banking.IsZero() },
			text("bank_name", "string", func(e *emp) string { return e.Banking.BankName }),
			text("account_holder", "string", func(e *emp) string { return e.Banking.AccountHolder }),
			text("iban", "string", func(e *emp) string { return e.Banking.IBAN }),
			text("account_number", "string", func(e *emp) string { return e.Banking.AccountNumber }),
			text("routing_number", "string", func(e *emp) string { return e.Banking.RoutingNumber }),
		),
	},
	hrgate.GroupGovernmentID: {
		object("national_id", func(e *emp) bool { return e.GovernmentID.IsZero() },
			keep(text("type", "string", func(e *emp) string { return e.GovernmentID.Type })),
			text("value", "string", func(e *emp) string { return e.GovernmentID.Value }),
		),
	},
}

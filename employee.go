package hrgate

import "time"

// EmploymentStatus is the state of an employment.
type EmploymentStatus string

// Employment statuses.
const (
	StatusActive     EmploymentStatus = "active"
	StatusLeave      EmploymentStatus = "leave"
	StatusTerminated EmploymentStatus = "terminated"
)

// Valid reports whether s is a known status.
func (s EmploymentStatus) Valid() bool {
	return s == StatusActive || s == StatusLeave || s == StatusTerminated
}

// EmploymentType is the contractual kind of an employment.
type EmploymentType string

// Employment types.
const (
	TypeFullTime   EmploymentType = "full_time"
	TypePartTime   EmploymentType = "part_time"
	TypeContractor EmploymentType = "contractor"
	TypeIntern     EmploymentType = "intern"
	TypeTemporary  EmploymentType = "temporary"
)

// Valid reports whether t is a known employment type.
func (t EmploymentType) Valid() bool {
	switch t {
	case TypeFullTime, TypePartTime, TypeContractor, TypeIntern, TypeTemporary:
		return true
	}
	return false
}

// Employee is one person employed by one company, with every field group of
// the unified model. A store fills only the groups a caller asked for and
// records which in Loaded; the others are left zero and must not be read.
//
// Empty strings mean "no value" and are rendered as JSON null.
type Employee struct {
	ID         string
	CompanyID  string
	SourceID   string
	RemoteID   string
	CreatedAt  time.Time
	ModifiedAt time.Time

	// Loaded is the set of field groups present in this value.
	Loaded GroupSet

	Identity     Identity
	Employment   Employment
	Contact      Contact
	Personal     Personal
	Compensation Compensation
	Banking      BankAccount
	GovernmentID NationalID
}

// Identity is the identity field group.
type Identity struct {
	EmployeeNumber string `json:"employee_number,omitempty"`
	FirstName      string `json:"first_name,omitempty"`
	LastName       string `json:"last_name,omitempty"`
	PreferredName  string `json:"preferred_name,omitempty"`
	WorkEmail      string `json:"work_email,omitempty"`
}

// Employment is the employment field group. Dates are ISO 8601 calendar
// dates (YYYY-MM-DD).
type Employment struct {
	JobTitle        string           `json:"job_title,omitempty"`
	Department      string           `json:"department,omitempty"`
	ManagerID       string           `json:"manager_id,omitempty"`
	WorkLocationID  string           `json:"work_location_id,omitempty"`
	StartDate       string           `json:"start_date,omitempty"`
	TerminationDate string           `json:"termination_date,omitempty"`
	Status          EmploymentStatus `json:"employment_status,omitempty"`
	Type            EmploymentType   `json:"employment_type,omitempty"`
}

// Contact is the contact field group.
type Contact struct {
	PersonalEmail string  `json:"personal_email,omitempty"`
	Phone         string  `json:"phone,omitempty"`
	HomeAddress   Address `json:"home_address,omitzero"`
}

// Address is a postal address. Country is ISO 3166-1 alpha-2.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// IsZero reports whether a has no field set.
func (a Address) IsZero() bool { return a == Address{} }

// Personal is the personal field group.
type Personal struct {
	DateOfBirth   string `json:"date_of_birth,omitempty"`
	Gender        string `json:"gender,omitempty"`
	MaritalStatus string `json:"marital_status,omitempty"`
}

// Compensation is the compensation field group. PayRate is a decimal number
// written as text ("85000.00") so that no money is ever a float.
type Compensation struct {
	PayRate      string `json:"pay_rate,omitempty"`
	PayPeriod    string `json:"pay_period,omitempty"`    // hour, day, week, month, year
	PayCurrency  string `json:"pay_currency,omitempty"`  // ISO 4217
	PayFrequency string `json:"pay_frequency,omitempty"` // weekly, biweekly, semimonthly, monthly
}

// IsZero reports whether c has no field set.
func (c Compensation) IsZero() bool { return c == Compensation{} }

// BankAccount is the banking field group.
type BankAccount struct {
	BankName      string `json:"bank_name,omitempty"`
	AccountHolder string `json:"account_holder,omitempty"`
	IBAN          string `json:"iban,omitempty"`
	AccountNumber string `json:"account_number,omitempty"`
	RoutingNumber string `json:"routing_number,omitempty"`
}

// IsZero reports whether b has no field set.
func (b BankAccount) IsZero() bool { return b == BankAccount{} }

// NationalID is the government_id field group. Type is one of "ssn" (US),
// "nino" (UK), "steuer_id" (DE), "nir" (FR) or another lower-case token.
type NationalID struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value,omitempty"`
}

// IsZero reports whether n has no field set.
func (n NationalID) IsZero() bool { return n == NationalID{} }

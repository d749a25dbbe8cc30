package hrgate

import "time"

// TimeOffRequest is a request for leave by one employee.
type TimeOffRequest struct {
	ID         string
	CompanyID  string
	EmployeeID string
	SourceID   string
	RemoteID   string
	Type       string // vacation, sick, personal, parental, unpaid
	Status     string // requested, approved, declined, cancelled
	StartDate  string // YYYY-MM-DD
	EndDate    string // YYYY-MM-DD
	Amount     string // decimal, in Units
	Units      string // days or hours
	CreatedAt  time.Time
	ModifiedAt time.Time
}

// TimeOffBalance is an employee's balance under one leave policy.
type TimeOffBalance struct {
	ID         string
	CompanyID  string
	EmployeeID string
	SourceID   string
	RemoteID   string
	PolicyType string // vacation, sick, personal
	Balance    string // decimal, in Units
	Used       string // decimal, in Units
	Units      string // days or hours
	CreatedAt  time.Time
	ModifiedAt time.Time
}

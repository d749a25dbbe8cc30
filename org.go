package hrgate

import "time"

// Team is a department or team of a company. Teams nest through ParentID.
type Team struct {
	ID         string
	CompanyID  string
	SourceID   string
	RemoteID   string
	Name       string
	Type       string // department or team
	ParentID   string
	CreatedAt  time.Time
	ModifiedAt time.Time
}

// Location is a work location of a company.
type Location struct {
	ID         string
	CompanyID  string
	SourceID   string
	RemoteID   string
	Name       string
	Type       string // office or remote
	Address    Address
	CreatedAt  time.Time
	ModifiedAt time.Time
}

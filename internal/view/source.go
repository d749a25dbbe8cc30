package view

import (
	"time"

	"github.com/hrgate/hrgate"
)

// Source is the JSON form of a source. It never holds the credential:
// that is shown once, by the command that creates the source or rotates
// its credential.
type Source struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	CompanyID string    `json:"company_id"`
	HasSecret bool      `json:"has_secret,omitempty"`
	HasToken  bool      `json:"has_token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// NewSource returns the view of s.
func NewSource(s *hrgate.Source) Source {
	return Source{ID: s.ID, Name: s.Name, Type: string(s.Type), CompanyID: s.CompanyID,
		HasSecret: s.HasSecret, HasToken: len(s.TokenHash) > 0, CreatedAt: s.CreatedAt}
}

package config

import "time"

// Sources configures what brings HR data in (docs/sources.md).
type Sources struct {
	// RunRetention is how long the record of a finished sync run (an
	// import, a SCIM request, an inbound event) is kept; 0 keeps them
	// all.
	RunRetention Duration `yaml:"run_retention"`
}

// DefaultRunRetention keeps a month of runs: enough to look into last
// month's imports, and a bound on a table every SCIM request adds to.
const DefaultRunRetention = 30 * 24 * time.Hour

func defaultSources() Sources { return Sources{RunRetention: Duration(DefaultRunRetention)} }

func (s *Sources) validate() error {
	return checkRetention("sources.run_retention", s.RunRetention, "keep every run")
}

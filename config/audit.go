package config

import "path/filepath"

// Audit configures the audit trail.
type Audit struct {
	// Database is where the trail is kept: a postgres:// URL or a SQLite
	// file path. Empty means audit.db in the data directory on SQLite, and
	// the data database on PostgreSQL.
	Database string `yaml:"database" secret:"url"`
	// Sinks stream the trail to SIEMs and collectors.
	Sinks []AuditSink `yaml:"sinks"`
}

func defaultAudit() Audit { return Audit{} }

// AuditDSN returns the audit database to open.
func (c *Config) AuditDSN() string {
	switch {
	case c.Audit.Database != "":
		return c.Audit.Database
	case IsPostgres(c.DatabaseDSN()):
		return c.DatabaseDSN()
	}
	return filepath.Join(c.DataDir, "audit.db")
}

func (a *Audit) validate() error {
	if err := checkDSN("audit.database", a.Database); err != nil {
		return err
	}
	for i := range a.Sinks {
		if err := a.Sinks[i].validate(i); err != nil {
			return err
		}
	}
	return checkSinkNames(a.Sinks)
}

package config

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// Audit configures the audit trail.
type Audit struct {
	// Database is where the trail is kept: a postgres:// URL or a SQLite
	// file path. Empty means audit.db in the data directory on SQLite, and
	// the data database on PostgreSQL.
	Database string `yaml:"database" secret:"url"`
	// Instance names this process in the events it records. Empty means
	// the host name.
	Instance string `yaml:"instance"`
	// CheckpointInterval is how often `serve` appends a signed checkpoint
	// to the trail when events were recorded since the last one.
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// InsecureDisable turns the audit trail off. It exists only to
	// measure what the trail costs (bench/readpath.sh): nothing is
	// recorded, and `serve` says so in a warning at start.
	InsecureDisable bool `yaml:"insecure_disable"`
	// Sinks stream the trail to SIEMs and collectors.
	Sinks []AuditSink `yaml:"sinks"`
}

func defaultAudit() Audit {
	return Audit{CheckpointInterval: Duration(time.Minute)}
}

// AuditDSN returns the audit database to open.
func (c *Config) AuditDSN() string {
	switch {
	case c.Audit.Database != "":
		return c.Audit.Database
	case hrgate.IsPostgresDSN(c.DatabaseDSN()):
		return c.DatabaseDSN()
	}
	return filepath.Join(c.DataDir, "audit.db")
}

func (a *Audit) validate() error {
	if err := checkDSN("audit.database", a.Database); err != nil {
		return err
	}
	if len(a.Instance) > 128 || strings.ContainsFunc(a.Instance, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return keyError("audit.instance", "must be at most 128 characters without control characters")
	}
	if a.CheckpointInterval < Duration(time.Second) || a.CheckpointInterval > Duration(24*time.Hour) {
		return keyError("audit.checkpoint_interval", "must be between 1s and 24h, e.g. 1m")
	}
	for i := range a.Sinks {
		if err := a.Sinks[i].validate(i); err != nil {
			return err
		}
	}
	return checkSinkNames(a.Sinks)
}

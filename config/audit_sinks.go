package config

import "fmt"

// AuditSink configures one destination the audit trail is streamed to.
type AuditSink struct {
	// Name identifies the sink and its delivery cursor; it must be unique.
	Name string `yaml:"name"`
	// Type is the kind of sink.
	Type string `yaml:"type"`
}

func (s *AuditSink) validate(i int) error {
	if s.Name == "" {
		return keyError(fmt.Sprintf("audit.sinks[%d].name", i), "must not be empty")
	}
	return nil
}

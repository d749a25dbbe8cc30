package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hrgate/hrgate"
)

// Duration is a time.Duration written as text ("30s", "5m", "90d") in YAML
// and in the environment.
type Duration time.Duration

// String returns the duration as Go duration text.
func (d Duration) String() string { return hrgate.FormatDuration(time.Duration(d)) }

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration written as text.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: expected a duration such as 30s", n.Line)
	}
	v, err := hrgate.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %s is not a duration (use e.g. 30s, 5m, 1h, 90d)", n.Line, hrgate.EchoQuoted(s))
	}
	*d = Duration(v)
	return nil
}

// checkRetention checks the retention d at key: 0, which keeps
// everything (kept says what), or between 1h and 3650d.
func checkRetention(key string, d Duration, kept string) error {
	if d != 0 && (d < Duration(time.Hour) || d > Duration(3650*24*time.Hour)) {
		return keyError(key, "must be 0 ("+kept+") or between 1h and 3650d")
	}
	return nil
}

package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hrgate/hrgate"
)

// Webhooks configures the delivery of change events to consumers'
// webhook endpoints (docs/webhooks.md).
type Webhooks struct {
	// Enabled runs the delivery worker in `serve`. Endpoints can be
	// managed either way; without the worker nothing is sent.
	Enabled bool `yaml:"enabled"`
	// AllowedNetworks lists the private, loopback or link-local networks
	// (CIDRs or single addresses) endpoints may reach; every other such
	// address is refused at connection time. Empty allows none.
	AllowedNetworks List `yaml:"allowed_networks"`
	// Timeout bounds one attempt, from dialling to the end of the
	// answer's headers: a 2xx within it is a success.
	Timeout Duration `yaml:"timeout"`
	// RetrySchedule is the wait before each retry after a failed
	// attempt; when it runs out the delivery has failed.
	RetrySchedule List `yaml:"retry_schedule"`
	// DisableAfter disables an endpoint whose attempts have all failed
	// for this long.
	DisableAfter Duration `yaml:"disable_after"`
	// RotationOverlap is how long a replaced signing secret keeps
	// signing beside the new one.
	RotationOverlap Duration `yaml:"rotation_overlap"`
	// Workers bounds the attempts in flight at once in one process.
	Workers int `yaml:"workers"`
	// PollInterval is how often the worker looks for work committed by
	// other processes; work of its own process wakes it at once.
	PollInterval Duration `yaml:"poll_interval"`
	// Retention is how long a finished delivery (succeeded, failed or
	// skipped), with its attempts, and a change event of the outbox are
	// kept; 0 keeps them all. Replay reaches no further back.
	Retention Duration `yaml:"retention"`
}

// List is a list of values written either as a YAML sequence or as one
// comma-separated string, which is also how the environment gives it
// (HRGATE_WEBHOOKS__ALLOWED_NETWORKS=10.0.0.0/8,127.0.0.1/32).
type List string

// Items returns the trimmed, non-empty values.
func (l List) Items() []string {
	var out []string
	for _, s := range strings.Split(string(l), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// UnmarshalYAML reads a sequence of scalars or one scalar.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var items []string
		if err := n.Decode(&items); err != nil {
			return fmt.Errorf("line %d: expected a list of values", n.Line)
		}
		*l = List(strings.Join(items, ","))
		return nil
	}
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: expected a list or a comma-separated string", n.Line)
	}
	*l = List(s)
	return nil
}

// DefaultRetention keeps a month of deliveries and change events: long
// enough to look into or replay what a receiver missed over a holiday, and
// a bound on tables every change and every attempt adds to.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultRetrySchedule is Svix's: eight attempts over about 32 hours.
const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,10h"

func defaultWebhooks() Webhooks {
	return Webhooks{
		Enabled:         true,
		Timeout:         Duration(15 * time.Second),
		RetrySchedule:   DefaultRetrySchedule,
		DisableAfter:    Duration(5 * 24 * time.Hour),
		RotationOverlap: Duration(24 * time.Hour),
		Workers:         16,
		PollInterval:    Duration(time.Second),
		Retention:       Duration(DefaultRetention),
	}
}

// Networks returns the allowed networks, parsed by hrgate.ParseCIDR like
// every other list of networks in the configuration: a single address
// stands for itself, and a range with host bits set is refused rather
// than silently widened, which on an SSRF allowlist would open more
// than the operator wrote.
func (w *Webhooks) Networks() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range w.AllowedNetworks.Items() {
		p, err := hrgate.ParseCIDR(s)
		if err != nil {
			return nil, keyError("webhooks.allowed_networks", err.Error())
		}
		out = append(out, p)
	}
	return out, nil
}

// Schedule returns the retry schedule, parsed.
func (w *Webhooks) Schedule() ([]time.Duration, error) {
	items := w.RetrySchedule.Items()
	if len(items) == 0 || len(items) > 50 {
		return nil, keyError("webhooks.retry_schedule", "must list 1 to 50 durations, e.g. "+DefaultRetrySchedule)
	}
	out := make([]time.Duration, len(items))
	for i, s := range items {
		d, err := hrgate.ParseDuration(s)
		if err != nil || d < time.Second || d > 7*24*time.Hour {
			return nil, keyError("webhooks.retry_schedule", fmt.Sprintf("%q is not a duration between 1s and 7d", hrgate.Echo(s)))
		}
		out[i] = d
	}
	return out, nil
}

func (w *Webhooks) validate() error {
	if _, err := w.Networks(); err != nil {
		return err
	}
	if _, err := w.Schedule(); err != nil {
		return err
	}
	switch {
	case w.Timeout < Duration(time.Second) || w.Timeout > Duration(5*time.Minute):
		return keyError("webhooks.timeout", "must be between 1s and 5m")
	case w.DisableAfter < Duration(time.Minute) || w.DisableAfter > Duration(90*24*time.Hour):
		return keyError("webhooks.disable_after", "must be between 1m and 90d")
	case w.RotationOverlap < 0 || w.RotationOverlap > Duration(30*24*time.Hour):
		return keyError("webhooks.rotation_overlap", "must be between 0s and 30d")
	case w.Workers < 1 || w.Workers > 1000:
		return keyError("webhooks.workers", "must be between 1 and 1000")
	case w.PollInterval < Duration(10*time.Millisecond) || w.PollInterval > Duration(10*time.Minute):
		return keyError("webhooks.poll_interval", "must be between 10ms and 10m")
	}
	return checkRetention("webhooks.retention", w.Retention, "keep everything")
}

package config_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
)

func TestWebhooksSection(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		c := config.Default()
		s, err := c.Webhooks.Schedule()
		want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
		if err != nil || !slices.Equal(s, want) {
			t.Fatalf("schedule = %v, %v", s, err)
		}
		if n, err := c.Webhooks.Networks(); err != nil || len(n) != 0 {
			t.Fatalf("default allowed networks = %v, %v; want none", n, err)
		}
		if !c.Webhooks.Enabled || time.Duration(c.Webhooks.Timeout) != 15*time.Second || time.Duration(c.Webhooks.DisableAfter) != 5*24*time.Hour ||
			time.Duration(c.Webhooks.RotationOverlap) != 24*time.Hour || c.Webhooks.Workers < 1 ||
			time.Duration(c.Webhooks.Retention) != config.DefaultRetention || config.DefaultRetention != 30*24*time.Hour {
			t.Fatalf("defaults = %+v", c.Webhooks)
		}
	})
	t.Run("EnvCommaSeparated", func(t *testing.T) {
		c, _, err := config.Load("", []string{"HRGATE_WEBHOOKS__ALLOWED_NETWORKS=10.1.0.0/16, 127.0.0.1/32", "HRGATE_WEBHOOKS__RETRY_SCHEDULE=1s,1m"})
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.Webhooks.Networks()
		if err != nil || !slices.Equal(n, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("127.0.0.1/32")}) {
			t.Fatalf("networks = %v, %v", n, err)
		}
		if s, _ := c.Webhooks.Schedule(); !slices.Equal(s, []time.Duration{time.Second, time.Minute}) {
			t.Fatalf("schedule = %v", s)
		}
	})
	t.Run("YAMLList", func(t *testing.T) {
		c, _, err := config.Load(writeFile(t, "webhooks:\n  allowed_networks:\n    - 192.168.0.0/24\n    - ::1/128\n  retry_schedule: [2s, 3s]\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := c.Webhooks.Networks(); err != nil || len(n) != 2 {
			t.Fatalf("networks = %v, %v", n, err)
		}
		if s, _ := c.Webhooks.Schedule(); !slices.Equal(s, []time.Duration{2 * time.Second, 3 * time.Second}) {
			t.Fatalf("schedule = %v", s)
		}
	})
	// allowed_networks is read by hrgate.ParseCIDR, as every list of
	// networks in the configuration is: a single address stands for
	// itself and a range is never widened.
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"NetworksEmpty", "", nil},
		{"NetworksOnlySpaces", "  ", nil},
		{"NetworksOneCIDR", "127.0.0.0/8", []string{"127.0.0.0/8"}},
		{"NetworksSpacesAndEmptyEntries", " 10.0.0.0/8 ,, 192.168.0.0/16 ,", []string{"10.0.0.0/8", "192.168.0.0/16"}},
		{"NetworksBareIPv4", "127.0.0.1", []string{"127.0.0.1/32"}},
		{"NetworksBareIPv6", "::1", []string{"::1/128"}},
		{"NetworksIPv6CIDR", "fd00::/8", []string{"fd00::/8"}},
		{"NetworksMappedBecomesIPv4", "::ffff:127.0.0.1", []string{"127.0.0.1/32"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := config.Load("", []string{"HRGATE_WEBHOOKS__ALLOWED_NETWORKS=" + c.in})
			if err != nil {
				t.Fatal(err)
			}
			n, err := cfg.Webhooks.Networks()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range n {
				got = append(got, p.String())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("networks = %v, want %v", got, c.want)
			}
		})
	}
	for _, c := range []struct{ name, env, want string }{
		{"ErrNetwork", "HRGATE_WEBHOOKS__ALLOWED_NETWORKS=10.0.0.0/33", `webhooks.allowed_networks: "10.0.0.0/33" is not a CIDR`},
		{"ErrHostBitsSet", "HRGATE_WEBHOOKS__ALLOWED_NETWORKS=10.1.2.3/8", `webhooks.allowed_networks: "10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?`},
		{"ErrNotAnAddress", "HRGATE_WEBHOOKS__ALLOWED_NETWORKS=10.0.0.0/8, not-a-network", `webhooks.allowed_networks: "not-a-network" is not an IP address or CIDR`},
		{"ErrHostName", "HRGATE_WEBHOOKS__ALLOWED_NETWORKS=localhost", `webhooks.allowed_networks: "localhost"`},
		{"ErrSchedule", "HRGATE_WEBHOOKS__RETRY_SCHEDULE=5s,soon", `webhooks.retry_schedule: "soon" is not a duration`},
		{"ErrScheduleTooShort", "HRGATE_WEBHOOKS__RETRY_SCHEDULE=10ms", "webhooks.retry_schedule"},
		{"ErrEmptySchedule", "HRGATE_WEBHOOKS__RETRY_SCHEDULE=", "webhooks.retry_schedule: must list 1 to 50 durations"},
		{"ErrTimeout", "HRGATE_WEBHOOKS__TIMEOUT=10m", "webhooks.timeout: must be between 1s and 5m"},
		{"ErrWorkers", "HRGATE_WEBHOOKS__WORKERS=0", "webhooks.workers"},
		{"ErrDisableAfter", "HRGATE_WEBHOOKS__DISABLE_AFTER=1s", "webhooks.disable_after"},
		{"ErrOverlap", "HRGATE_WEBHOOKS__ROTATION_OVERLAP=60d", "webhooks.rotation_overlap"},
		{"ErrPoll", "HRGATE_WEBHOOKS__POLL_INTERVAL=1ms", "webhooks.poll_interval"},
		{"ErrRetentionTooShort", "HRGATE_WEBHOOKS__RETENTION=59m", "webhooks.retention: must be 0 (keep everything) or between 1h and 3650d"},
		{"ErrRetentionNegative", "HRGATE_WEBHOOKS__RETENTION=-1h", "webhooks.retention"},
		{"ErrRetentionTooLong", "HRGATE_WEBHOOKS__RETENTION=3651d", "webhooks.retention"},
		{"ErrRetentionNotADuration", "HRGATE_WEBHOOKS__RETENTION=forever", "webhooks.retention"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := config.Load("", []string{c.env})
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestWebhooksRetention: 0s keeps everything, and the bounds themselves
// are accepted, from the environment and from YAML.
func TestWebhooksRetention(t *testing.T) {
	for _, c := range []struct {
		name, env string
		want      time.Duration
	}{
		{"KeepEverything", "HRGATE_WEBHOOKS__RETENTION=0s", 0},
		{"Shortest", "HRGATE_WEBHOOKS__RETENTION=1h", time.Hour},
		{"Week", "HRGATE_WEBHOOKS__RETENTION=7d", 7 * 24 * time.Hour},
		{"Longest", "HRGATE_WEBHOOKS__RETENTION=3650d", 3650 * 24 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := config.Load("", []string{c.env})
			if err == nil {
				err = cfg.Validate()
			}
			if err != nil || time.Duration(cfg.Webhooks.Retention) != c.want {
				t.Fatalf("retention = %v, %v; want %v", cfg.Webhooks.Retention, err, c.want)
			}
		})
	}
	t.Run("YAML", func(t *testing.T) {
		cfg, _, err := config.Load(writeFile(t, "webhooks:\n  retention: 90d\n"), nil)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil || time.Duration(cfg.Webhooks.Retention) != 90*24*time.Hour {
			t.Fatalf("retention = %v, %v; want 90d", cfg.Webhooks.Retention, err)
		}
	})
}

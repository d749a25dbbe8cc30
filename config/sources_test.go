package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
)

func TestSourcesSection(t *testing.T) {
	if got := time.Duration(config.Default().Sources.RunRetention); got != config.DefaultRunRetention {
		t.Fatalf("default run_retention = %v; want %v", got, config.DefaultRunRetention)
	}
	for _, c := range []struct {
		env     string
		want    time.Duration
		wantErr bool
	}{
		{"HRGATE_SOURCES__RUN_RETENTION=7d", 7 * 24 * time.Hour, false},
		{"HRGATE_SOURCES__RUN_RETENTION=0s", 0, false},
		{"HRGATE_SOURCES__RUN_RETENTION=1h", time.Hour, false},
		{"HRGATE_SOURCES__RUN_RETENTION=59m", 0, true},
		{"HRGATE_SOURCES__RUN_RETENTION=-1h", 0, true},
		{"HRGATE_SOURCES__RUN_RETENTION=3651d", 0, true},
		{"HRGATE_SOURCES__RUN_RETENTION=soon", 0, true},
	} {
		cfg, _, err := config.Load("", []string{c.env})
		if err == nil {
			err = cfg.Validate()
		}
		if c.wantErr {
			if err == nil || !strings.Contains(err.Error(), "run_retention") {
				t.Errorf("%s: err = %v; want one naming run_retention", c.env, err)
			}
			continue
		}
		if err != nil || time.Duration(cfg.Sources.RunRetention) != c.want {
			t.Errorf("%s: run_retention = %v, %v; want %v", c.env, cfg, err, c.want)
		}
	}
}

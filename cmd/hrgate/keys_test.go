package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestKeyLifecycleCLI(t *testing.T) {
	_, dd, mustRun := newDataDir(t)
	mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity companies:*")

	out := mustRun(t, "keys", "create", "--consumer", "payroll", "--allow-cidr", "10.1.2.0/24", "--allow-cidr", "2001:db8::/32",
		"--expires-in", "7d", "--description", "prod payroll", "--output", "json")
	var created struct {
		ID, Key    string
		AllowCIDRs []string  `json:"allow_cidrs"`
		ExpiresAt  time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created.AllowCIDRs) != 2 ||
		time.Until(created.ExpiresAt) > 7*24*time.Hour || time.Until(created.ExpiresAt) < 6*24*time.Hour {
		t.Fatalf("keys create: %s", out)
	}

	out = mustRun(t, "keys", "rotate", created.ID, "--grace", "2h", "--output", "json")
	var rotated struct {
		ID, Key, Replaces string
		AllowCIDRs        []string  `json:"allow_cidrs"`
		OldExpiresAt      time.Time `json:"old_key_expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated.Replaces != created.ID || rotated.Key == created.Key ||
		len(rotated.AllowCIDRs) != 2 || time.Until(rotated.OldExpiresAt) > 2*time.Hour {
		t.Fatalf("keys rotate: %s", out)
	}
	if code, _, errOut := run(t, nil, append([]string{"keys", "rotate", created.ID}, dd...)...); code != 2 || !strings.Contains(errOut, "rotated already") {
		t.Fatalf("second rotation: exit %d %s", code, errOut)
	}

	// The list shows both keys with their state and flags; never a secret.
	out = mustRun(t, "keys", "list", "--output", "json", "--stale", "0s", "--expiring", "3h")
	var keys []struct {
		ID, State  string
		ReplacedBy string `json:"replaced_by"`
		Flags      []string
	}
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 2 || strings.Contains(out, created.Key) || strings.Contains(out, rotated.Key) {
		t.Fatalf("keys list: %s", out)
	}
	byID := map[string][]string{}
	for _, k := range keys {
		byID[k.ID] = k.Flags
	}
	if f := strings.Join(byID[created.ID], ","); f != "stale,expiring" {
		t.Fatalf("old key flags %q", f)
	}
	if f := strings.Join(byID[rotated.ID], ","); f != "stale" {
		t.Fatalf("new key flags %q", f)
	}
	text := mustRun(t, "keys", "list")
	if !strings.Contains(text, "rotated") || !strings.Contains(text, "10.1.2.0/24,2001:db8::/32") || !strings.Contains(text, "in 6d") {
		t.Fatalf("keys list text:\n%s", text)
	}
	if out := mustRun(t, "keys", "list", "--flagged", "--expiring", "1d", "--output", "json"); strings.Count(out, `"id"`) != 1 || !strings.Contains(out, created.ID) {
		t.Fatalf("--flagged --expiring 1d should list only the old key: %s", out)
	}

	out = mustRun(t, "consumers", "rotation", "payroll", "--after", "30d", "--grace", "36h", "--output", "json")
	if !strings.Contains(out, `"max_age": "30d"`) || !strings.Contains(out, `"grace": "1d12h"`) {
		t.Fatalf("consumers rotation: %s", out)
	}
	if out := mustRun(t, "consumers", "show", "payroll"); !strings.Contains(out, "key rotation: after 30d, grace 1d12h") {
		t.Fatalf("consumers show: %s", out)
	}
	if out := mustRun(t, "keys", "fetch", "--output", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("keys fetch with nothing rotated: %s", out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ExpiryTooLong", []string{"keys", "create", "--consumer", "payroll", "--expires-in", "400d"}, "longest key lifetime allowed, 365d"},
		{"ExpiryGarbage", []string{"keys", "create", "--consumer", "payroll", "--expires-in", "soon"}, `"soon" is not a duration`},
		{"ExpiryZero", []string{"keys", "create", "--consumer", "payroll", "--expires-in", "0d"}, "every key expires"},
		{"BadCIDR", []string{"keys", "create", "--consumer", "payroll", "--allow-cidr", "10.1.2.3/24"}, "did you mean 10.1.2.0/24"},
		{"GraceTooLong", []string{"keys", "rotate", rotated.ID, "--grace", "40d"}, "grace period"},
		{"RotationAgeTooShort", []string{"consumers", "rotation", "payroll", "--after", "5m"}, "rotation age"},
		{"RotationNeedsAfter", []string{"consumers", "rotation", "payroll"}, "--after is required"},
		{"MaxLifetimeConfig", []string{"keys", "create", "--consumer", "payroll", "--expires-in", "3h"}, "longest key lifetime allowed, 2h"},
		{"MaxLifetimeConfigBad", []string{"keys", "create", "--consumer", "payroll"}, "keys.max_lifetime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			switch tc.name {
			case "MaxLifetimeConfig":
				env = []string{"HRGATE_KEYS__MAX_LIFETIME=2h"}
			case "MaxLifetimeConfigBad":
				env = []string{"HRGATE_KEYS__MAX_LIFETIME=30m"}
			}
			code, _, errOut := run(t, env, append(tc.args, dd...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q, want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

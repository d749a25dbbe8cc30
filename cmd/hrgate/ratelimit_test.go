package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate/internal/pgtest"
)

// limitJSON is the rate_limit member of consumers, keys and clients.
type limitJSON struct {
	Rate  string `json:"rate"`
	Burst int    `json:"burst"`
	Quota string `json:"quota"`
}

// Rate limits set with the flags the issue names come back from every
// command that shows consumers, keys and clients, in JSON and in text; an
// update changes only the parts it names; "default" clears a part; bad
// values are refused naming the flag, with nothing written.
func TestRateLimitsCLI(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			flags := []string{"--data-dir", filepath.Join(t.TempDir(), "data")}
			if db == "postgres" {
				flags = append(flags, "--database", pgtest.Schema(t, pgtest.URL(t)))
			}
			mustRun := func(t *testing.T, args ...string) string {
				t.Helper()
				code, out, errOut := run(t, nil, append(args, flags...)...)
				if code != 0 {
					t.Fatalf("hrgate %v: exit %d: %s", args, code, errOut)
				}
				return out
			}
			limitOf := func(t *testing.T, out string) limitJSON {
				t.Helper()
				var v struct {
					RateLimit *limitJSON `json:"rate_limit"`
				}
				if err := json.Unmarshal([]byte(out), &v); err != nil || v.RateLimit == nil {
					t.Fatalf("no rate_limit in %s (%v)", out, err)
				}
				return *v.RateLimit
			}
			wantLimit := func(t *testing.T, what string, got, want limitJSON) {
				t.Helper()
				if got != want {
					t.Fatalf("%s: rate_limit %+v, want %+v", what, got, want)
				}
			}

			out := mustRun(t, "consumers", "create", "payroll", "--scopes", "employees:read:identity companies:*",
				"--rate-limit", "200/s", "--burst", "400", "--quota", "100000/day", "--output", "json")
			wantLimit(t, "consumers create", limitOf(t, out), limitJSON{"200/s", 400, "100000/day"})
			if out := mustRun(t, "consumers", "show", "payroll"); !strings.Contains(out, "rate limit:  200/s burst 400, 100000/day") {
				t.Fatalf("consumers show:\n%s", out)
			}

			out = mustRun(t, "keys", "create", "--consumer", "payroll", "--rate-limit", "50/s", "--burst", "100",
				"--quota", "20000/day", "--output", "json")
			wantLimit(t, "keys create", limitOf(t, out), limitJSON{"50/s", 100, "20000/day"})
			var key struct{ ID, Key string }
			if err := json.Unmarshal([]byte(out), &key); err != nil {
				t.Fatal(err)
			}
			plain := mustRun(t, "keys", "create", "--consumer", "payroll")
			if !strings.Contains(plain, "rate limit: default") {
				t.Fatalf("keys create without limits:\n%s", plain)
			}

			out = mustRun(t, "clients", "create", "--consumer", "payroll", "--rate-limit", "300/m", "--output", "json")
			wantLimit(t, "clients create", limitOf(t, out), limitJSON{Rate: "5/s"})
			var client struct {
				ID string `json:"client_id"`
			}
			if err := json.Unmarshal([]byte(out), &client); err != nil {
				t.Fatal(err)
			}

			t.Run("UpdateChangesOnlyWhatIsNamed", func(t *testing.T) {
				out := mustRun(t, "keys", "update", key.ID, "--rate-limit", "30/m", "--output", "json")
				wantLimit(t, "keys update", limitOf(t, out), limitJSON{"30/m", 100, "20000/day"})
				out = mustRun(t, "keys", "update", key.ID, "--rate-limit", "default", "--output", "json")
				wantLimit(t, "keys update --rate-limit default", limitOf(t, out), limitJSON{Quota: "20000/day"})

				out = mustRun(t, "consumers", "update", "payroll", "--quota", "default", "--burst", "800", "--output", "json")
				wantLimit(t, "consumers update", limitOf(t, out), limitJSON{Rate: "200/s", Burst: 800})

				out = mustRun(t, "clients", "update", client.ID, "--quota", "10/day", "--output", "json")
				wantLimit(t, "clients update", limitOf(t, out), limitJSON{Rate: "5/s", Quota: "10/day"})
			})

			t.Run("ListsShowLimits", func(t *testing.T) {
				var keys []struct {
					ID        string
					RateLimit limitJSON `json:"rate_limit"`
				}
				if err := json.Unmarshal([]byte(mustRun(t, "keys", "list", "--output", "json")), &keys); err != nil || len(keys) != 2 {
					t.Fatalf("keys list: %+v, %v", keys, err)
				}
				for _, k := range keys {
					want := limitJSON{}
					if k.ID == key.ID {
						want = limitJSON{Quota: "20000/day"}
					}
					wantLimit(t, "keys list "+k.ID, k.RateLimit, want)
				}
				if text := mustRun(t, "keys", "list"); !strings.Contains(text, "default rate, 20000/day") || !strings.Contains(text, "RATE LIMIT") {
					t.Fatalf("keys list text:\n%s", text)
				}
				var consumers []struct {
					RateLimit limitJSON `json:"rate_limit"`
				}
				if err := json.Unmarshal([]byte(mustRun(t, "consumers", "list", "--output", "json")), &consumers); err != nil || len(consumers) != 1 {
					t.Fatalf("consumers list: %+v, %v", consumers, err)
				}
				wantLimit(t, "consumers list", consumers[0].RateLimit, limitJSON{Rate: "200/s", Burst: 800})
				if text := mustRun(t, "consumers", "list"); !strings.Contains(text, "200/s burst 800, default quota") {
					t.Fatalf("consumers list text:\n%s", text)
				}
				var clients []struct {
					RateLimit limitJSON `json:"rate_limit"`
				}
				if err := json.Unmarshal([]byte(mustRun(t, "clients", "list", "--output", "json")), &clients); err != nil || len(clients) != 1 {
					t.Fatalf("clients list: %+v, %v", clients, err)
				}
				wantLimit(t, "clients list", clients[0].RateLimit, limitJSON{Rate: "5/s", Quota: "10/day"})
				if text := mustRun(t, "clients", "list"); !strings.Contains(text, "5/s, 10/day") {
					t.Fatalf("clients list text:\n%s", text)
				}
			})

			t.Run("ErrBadValuesWriteNothing", func(t *testing.T) {
				// Without age_seconds, which moves with the clock.
				keyList := func(t *testing.T) string {
					t.Helper()
					var keys []map[string]any
					if err := json.Unmarshal([]byte(mustRun(t, "keys", "list", "--output", "json")), &keys); err != nil {
						t.Fatal(err)
					}
					for _, k := range keys {
						delete(k, "age_seconds")
					}
					b, _ := json.Marshal(keys)
					return string(b)
				}
				keysBefore := keyList(t)
				consumersBefore := mustRun(t, "consumers", "list", "--output", "json")
				clientsBefore := mustRun(t, "clients", "list", "--output", "json")
				for _, tc := range []struct {
					name string
					args []string
					want string
				}{
					{"RateWithoutUnit", []string{"keys", "create", "--consumer", "payroll", "--rate-limit", "50"}, "Invalid --rate-limit"},
					{"RateTooHigh", []string{"keys", "create", "--consumer", "payroll", "--rate-limit", "2000000/s"}, "Invalid --rate-limit"},
					{"BurstWithoutRate", []string{"keys", "create", "--consumer", "payroll", "--burst", "10"}, "Invalid --burst"},
					{"BurstNotANumber", []string{"consumers", "create", "other", "--rate-limit", "1/s", "--burst", "many"}, "Invalid --burst"},
					{"BurstTooHigh", []string{"clients", "create", "--consumer", "payroll", "--rate-limit", "1/s", "--burst", "1000001"}, "Invalid --burst"},
					{"QuotaPerHour", []string{"consumers", "create", "other", "--quota", "100/h"}, "Invalid --quota"},
					{"QuotaEmpty", []string{"clients", "create", "--consumer", "payroll", "--quota", ""}, "Invalid --quota"},
					{"UpdateRateTooHigh", []string{"keys", "update", key.ID, "--rate-limit", "1000001/s"}, "Invalid --rate-limit"},
					{"UpdateBurstAfterDefaultRate", []string{"keys", "update", key.ID, "--burst", "5"}, "Invalid --burst"},
					{"UpdateClearsRateKeepsBurst", []string{"consumers", "update", "payroll", "--rate-limit", "default", "--burst", "5"}, "Invalid --burst"},
					{"UpdateQuotaTooHigh", []string{"clients", "update", client.ID, "--quota", "1000000000001/day"}, "Invalid --quota"},
					{"UpdateNothing", []string{"consumers", "update", "payroll"}, "give --rate-limit, --burst or --quota"},
					{"UpdateKeyNothing", []string{"keys", "update", key.ID}, "give --rate-limit, --burst or --quota"},
					{"UpdateClientNothing", []string{"clients", "update", client.ID}, "give --rate-limit, --burst or --quota"},
					{"UpdateKeySecretAsID", []string{"keys", "update", key.Key, "--quota", "1/day"}, "secret"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						code, _, errOut := run(t, nil, append(tc.args, flags...)...)
						if code != 2 || !strings.Contains(errOut, tc.want) {
							t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
						}
						if tc.name == "UpdateKeySecretAsID" && strings.Contains(errOut, key.Key) {
							t.Fatal("the error echoes the key")
						}
					})
				}
				if after := keyList(t); after != keysBefore {
					t.Errorf("keys changed by refused commands:\n%s\nwas\n%s", after, keysBefore)
				}
				if after := mustRun(t, "consumers", "list", "--output", "json"); after != consumersBefore {
					t.Errorf("consumers changed by refused commands:\n%s\nwas\n%s", after, consumersBefore)
				}
				if after := mustRun(t, "clients", "list", "--output", "json"); after != clientsBefore {
					t.Errorf("clients changed by refused commands:\n%s\nwas\n%s", after, clientsBefore)
				}
			})
		})
	}
}

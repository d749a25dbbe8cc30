package gate_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

var cliFields = gate.LimitFields{Rate: "--rate-limit", Burst: "--burst", Quota: "--quota"}

func TestParseRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rate, quota  string
		burst        int
		want         hrgate.RateLimit
		wantErrField string
	}{
		{name: "OK", rate: "50/s", burst: 100, quota: "20000/day", want: hrgate.RateLimit{Rate: 50, Burst: 100, Quota: 20000}},
		{name: "PerMinute", rate: "90/m", want: hrgate.RateLimit{Rate: 1.5}},
		{name: "PerHour", rate: "36/h", quota: "5/d", want: hrgate.RateLimit{Rate: 0.01, Quota: 5}},
		{name: "Defaults", rate: "default", quota: "default"},
		{name: "Empty"},
		{name: "ErrRateSyntax", rate: "50", wantErrField: "--rate-limit"},
		{name: "ErrRateUnit", rate: "50/d", wantErrField: "--rate-limit"},
		{name: "ErrRateZero", rate: "0/s", wantErrField: "--rate-limit"},
		{name: "ErrRateTooHigh", rate: "1000001/s", wantErrField: "--rate-limit"},
		{name: "ErrRateBelowOneADay", rate: "0.04/h", wantErrField: "--rate-limit"},
		{name: "OneADay", rate: "0.0417/h", want: hrgate.RateLimit{Rate: 0.0417 / 3600}},
		{name: "ErrBurstWithoutRate", burst: 10, wantErrField: "--burst"},
		{name: "ErrBurstNegative", rate: "1/s", burst: -1, wantErrField: "--burst"},
		{name: "ErrBurstTooHigh", rate: "1/s", burst: 1_000_001, wantErrField: "--burst"},
		{name: "ErrQuotaSyntax", quota: "20000", wantErrField: "--quota"},
		{name: "ErrQuotaPerHour", quota: "20/h", wantErrField: "--quota"},
		{name: "ErrQuotaTooHigh", quota: "1000000000001/day", wantErrField: "--quota"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gate.ParseRateLimit(tc.rate, tc.burst, tc.quota, cliFields)
			if tc.wantErrField != "" {
				if hrgate.ErrorCode(err) != hrgate.EINVALID || !strings.HasPrefix(hrgate.ErrorMessage(err), "Invalid "+tc.wantErrField+":") {
					t.Fatalf("err = %v, want EINVALID naming %s", err, tc.wantErrField)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRateLimit = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// The principal of a key or of an OAuth token carries the credential's
// and its consumer's own limits, and after a change of either the next
// request sees the new ones although the credential was cached: on the
// gate that made the change and on another sharing the store.
func TestPrincipalCarriesRateLimits(t *testing.T) {
	forEachOAuthDB(t, func(t *testing.T, e *oauthEnv) {
		ctx := context.Background()
		g, g2 := e.g, e.g2
		consumerLimit := hrgate.RateLimit{Rate: 200, Burst: 400, Quota: 1_000_000}
		keyLimit := hrgate.RateLimit{Rate: 50, Burst: 100, Quota: 20000}
		clientLimit := hrgate.RateLimit{Rate: 5.0 / 60}
		if _, err := g.CreateConsumerWith(ctx, gate.ConsumerRequest{
			Name: "payroll", Scopes: []string{"employees:read:identity companies:*"}, RateLimit: consumerLimit,
		}); err != nil {
			t.Fatal(err)
		}
		k, keySecret, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", RateLimit: keyLimit})
		if err != nil {
			t.Fatal(err)
		}
		cl, clientSecret, err := g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll", RateLimit: clientLimit})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := g.IssueToken(ctx, gate.ClientAuth{ClientID: cl.ID, Secret: clientSecret}, "", office)
		if err != nil {
			t.Fatal(err)
		}

		check := func(t *testing.T, credential string, want, wantConsumer hrgate.RateLimit) {
			t.Helper()
			for i, gt := range []*gate.Gate{g, g2} {
				// Twice each: the second answer comes from the cache.
				for range 2 {
					p, err := gt.Authenticate(ctx, credential, office)
					if err != nil {
						t.Fatal(err)
					}
					if p.RateLimit != want || p.ConsumerRateLimit != wantConsumer {
						t.Fatalf("gate %d: principal limits %+v / consumer %+v; want %+v / %+v",
							i+1, p.RateLimit, p.ConsumerRateLimit, want, wantConsumer)
					}
				}
			}
		}

		t.Run("AfterCreation", func(t *testing.T) {
			check(t, keySecret, keyLimit, consumerLimit)
			check(t, tok.Value, clientLimit, consumerLimit)
		})

		t.Run("AfterKeyChange", func(t *testing.T) {
			keyLimit = hrgate.RateLimit{Rate: 10, Burst: 10}
			if _, err := g.SetKeyRateLimit(ctx, k.ID, keyLimit); err != nil {
				t.Fatal(err)
			}
			check(t, keySecret, keyLimit, consumerLimit)
		})

		t.Run("AfterConsumerChange", func(t *testing.T) {
			consumerLimit = hrgate.RateLimit{Quota: 500}
			if _, err := g2.SetConsumerRateLimit(ctx, "payroll", consumerLimit); err != nil {
				t.Fatal(err)
			}
			check(t, keySecret, keyLimit, consumerLimit)
			check(t, tok.Value, clientLimit, consumerLimit)
		})

		t.Run("AfterClientChange", func(t *testing.T) {
			clientLimit = hrgate.RateLimit{}
			if _, err := g.SetClientRateLimit(ctx, cl.ID, clientLimit); err != nil {
				t.Fatal(err)
			}
			check(t, tok.Value, clientLimit, consumerLimit)
		})

		t.Run("RotationKeepsTheLimit", func(t *testing.T) {
			next, nextSecret, _, err := g.RotateKey(ctx, k.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if next.RateLimit != keyLimit {
				t.Fatalf("successor limit %+v, want %+v", next.RateLimit, keyLimit)
			}
			check(t, nextSecret, keyLimit, consumerLimit)
		})
	})
}

// A limit changed by another process (the CLI) reaches a server's cached
// credential within the credential refresh interval, as a grant change
// does.
func TestRateLimitChangeReachesOtherProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hrgate.db")
	clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	open := func(opts sqlstore.Options) *gate.Gate {
		opts.AutoMigrate = true
		db, err := sqlstore.Open(ctx, path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return gate.New(db, gate.WithClock(clk.now))
	}
	server, cli := open(sqlstore.Options{Now: clk.now}), open(sqlstore.Options{})
	if _, err := cli.CreateConsumer(ctx, "payroll", "", []string{"employees:read:identity companies:*"}); err != nil {
		t.Fatal(err)
	}
	k, secret, err := cli.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // warm the server's cache
		if p, err := server.Authenticate(ctx, secret, local); err != nil || !p.RateLimit.IsZero() {
			t.Fatalf("principal %+v, %v", p, err)
		}
	}
	want := hrgate.RateLimit{Rate: 1, Burst: 2, Quota: 3}
	if _, err := cli.SetKeyRateLimit(ctx, k.ID, want); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.SetConsumerRateLimit(ctx, "payroll", want); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(sqlstore.DefaultCredentialRefresh)
	p, err := server.Authenticate(ctx, secret, local)
	if err != nil {
		t.Fatal(err)
	}
	if p.RateLimit != want || p.ConsumerRateLimit != want {
		t.Fatalf("after the refresh interval the server still applies %+v / %+v, want %+v", p.RateLimit, p.ConsumerRateLimit, want)
	}
}

// Limit changes are audited with the limits before and after; a refused
// change writes nothing, records nothing and keeps the caches.
func TestRateLimitChanges(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := hrgate.WithActor(context.Background(), hrgate.Actor{Kind: hrgate.ActorCLI, Name: "ops"})
			d := dsn(t)
			db := storetest.Open(t, d)
			log := mustOpenTrail(t, db, d, audit.Options{Instance: "t"})
			g := gate.New(db, gate.WithAudit(log))
			c, err := g.CreateConsumerWith(ctx, gate.ConsumerRequest{
				Name: "payroll", Scopes: []string{"employees:read:identity"}, RateLimit: hrgate.RateLimit{Quota: 20000},
			})
			if err != nil {
				t.Fatal(err)
			}
			k, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", RateLimit: hrgate.RateLimit{Rate: 50, Burst: 100}})
			if err != nil {
				t.Fatal(err)
			}
			cl, _, err := g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll", RateLimit: hrgate.RateLimit{Rate: 0.5}})
			if err != nil {
				t.Fatal(err)
			}

			t.Run("ErrOutOfBoundsChangesNothing", func(t *testing.T) {
				before, err := db.CredentialEpoch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				bad := []hrgate.RateLimit{{Burst: 5}, {Rate: 2e6, Burst: 1}, {Rate: 1, Burst: -1}, {Quota: -1}, {Quota: 2e12}}
				for _, r := range bad {
					_, err := g.SetKeyRateLimit(ctx, k.ID, r)
					wantCode(t, err, hrgate.EINVALID)
					_, err = g.SetConsumerRateLimit(ctx, c.ID, r)
					wantCode(t, err, hrgate.EINVALID)
					_, err = g.SetClientRateLimit(ctx, cl.ID, r)
					wantCode(t, err, hrgate.EINVALID)
					_, _, err = g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", RateLimit: r})
					wantCode(t, err, hrgate.EINVALID)
					_, err = g.CreateConsumerWith(ctx, gate.ConsumerRequest{Name: "other", RateLimit: r})
					wantCode(t, err, hrgate.EINVALID)
					_, _, err = g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll", RateLimit: r})
					wantCode(t, err, hrgate.EINVALID)
				}
				if after, err := db.CredentialEpoch(ctx); err != nil || after != before {
					t.Fatalf("epoch %d → %d, %v on refused changes", before, after, err)
				}
				if keys, err := db.ListAPIKeys(ctx, ""); err != nil || len(keys) != 1 || keys[0].RateLimit != k.RateLimit {
					t.Fatalf("keys after refused changes: %+v, %v", keys, err)
				}
				if cs, err := db.ListConsumers(ctx); err != nil || len(cs) != 1 || cs[0].RateLimit != c.RateLimit {
					t.Fatalf("consumers after refused changes: %+v, %v", cs, err)
				}
				if cls, err := db.ListClients(ctx, ""); err != nil || len(cls) != 1 || cls[0].RateLimit != cl.RateLimit {
					t.Fatalf("clients after refused changes: %+v, %v", cls, err)
				}
			})

			if _, err := g.SetConsumerRateLimit(ctx, "payroll", hrgate.RateLimit{Rate: 200, Burst: 400}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.SetKeyRateLimit(ctx, k.ID, hrgate.RateLimit{}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.SetClientRateLimit(ctx, cl.ID, hrgate.RateLimit{Rate: 1.0 / 3600, Quota: 10}); err != nil {
				t.Fatal(err)
			}
			missing, err := hrgate.NewID(hrgate.PrefixAPIKey, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			_, err = g.SetKeyRateLimit(ctx, missing, hrgate.RateLimit{})
			wantCode(t, err, hrgate.ENOTFOUND)
			_, err = g.SetKeyRateLimit(ctx, "payroll", hrgate.RateLimit{})
			wantCode(t, err, hrgate.EINVALID)

			evs, err := log.AuditEvents(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct{ typ, target, before, after string }{
				{hrgate.AuditConsumerCreated, c.ID, "", `"rate_limit":{"quota":"20000/day"}`},
				{hrgate.AuditKeyCreated, k.ID, "", `"rate_limit":{"rate":"50/s","burst":100}`},
				{hrgate.AuditClientCreated, cl.ID, "", `"rate_limit":{"rate":"30/m"}`},
				{hrgate.AuditConsumerUpdated, c.ID, `"rate_limit":{"quota":"20000/day"}`, `"rate_limit":{"rate":"200/s","burst":400}`},
				{hrgate.AuditKeyUpdated, k.ID, `"rate_limit":{"rate":"50/s","burst":100}`, `"env":"live"`},
				{hrgate.AuditClientUpdated, cl.ID, `"rate_limit":{"rate":"30/m"}`, `"rate_limit":{"rate":"1/h","quota":"10/day"}`},
			}
			if len(evs) != len(want) {
				for _, ev := range evs {
					t.Logf("%s %s", ev.Type, ev.After)
				}
				t.Fatalf("%d events, want %d", len(evs), len(want))
			}
			for i, w := range want {
				ev := evs[i]
				if ev.Type != w.typ || ev.Target != w.target || ev.ConsumerID != c.ID || ev.ActorKind != hrgate.ActorCLI || ev.Actor != "ops" {
					t.Errorf("event %d: %+v", i, ev)
				}
				if !strings.Contains(string(ev.Before), w.before) || !strings.Contains(string(ev.After), w.after) {
					t.Errorf("event %d (%s): before %s after %s", i, ev.Type, ev.Before, ev.After)
				}
			}
			// The key's limit went back to the defaults: no rate_limit after.
			if strings.Contains(string(evs[4].After), "rate_limit") {
				t.Errorf("a key back at the defaults still shows a limit: %s", evs[4].After)
			}
		})
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if hrgate.ErrorCode(err) != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

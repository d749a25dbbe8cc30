package gate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// Every change through the gate lands in the trail with its actor and
// the attributes before and after, and no secret does.
func TestChangesAreAudited(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := hrgate.WithActor(context.Background(), hrgate.Actor{Kind: hrgate.ActorAdmin, Name: "admin-token",
				ClientAddr: "192.0.2.9", RequestID: "req_1"})
			d := dsn(t)
			db := storetest.Open(t, d)
			log := mustOpenTrail(t, db, d, audit.Options{Instance: "t"})
			g := gate.New(db, gate.WithAudit(log))

			c, err := g.CreateConsumer(ctx, "payroll", "pays", []string{"employees:read:identity companies:*"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.SetGrant(ctx, "payroll", []string{"employees:read:identity,employment companies:*"}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.SetKeyRotation(ctx, "payroll", hrgate.KeyRotation{MaxAge: 90 * 24 * time.Hour, Grace: time.Hour}); err != nil {
				t.Fatal(err)
			}
			k, keySecret, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
			if err != nil {
				t.Fatal(err)
			}
			next, nextSecret, _, err := g.RotateKey(ctx, k.ID, gate.DefaultGrace)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.RevokeKey(ctx, next.ID); err != nil {
				t.Fatal(err)
			}
			cl, clientSecret, err := g.CreateClient(ctx, gate.ClientRequest{Consumer: "payroll"})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.DeleteClient(ctx, cl.ID); err != nil {
				t.Fatal(err)
			}
			if err := g.DeleteConsumer(ctx, "payroll"); err != nil {
				t.Fatal(err)
			}

			evs, err := log.AuditEvents(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct{ typ, target, before, after string }{
				{hrgate.AuditConsumerCreated, c.ID, "", `"scopes":["companies:*","employees:read:identity"]`},
				{hrgate.AuditConsumerUpdated, c.ID, `"scopes":["companies:*","employees:read:identity"]`, `"employees:read:identity,employment"`},
				{hrgate.AuditConsumerUpdated, c.ID, `"name":"payroll"`, `"key_rotation_max_age":"90d"`},
				{hrgate.AuditKeyCreated, k.ID, "", `"env":"live"`},
				{hrgate.AuditKeyRotated, k.ID, `"id":"` + k.ID, `"replaces":"` + k.ID},
				{hrgate.AuditKeyRevoked, next.ID, `"id":"` + next.ID, `"revoked_at"`},
				{hrgate.AuditClientCreated, cl.ID, "", `"auth_method":"client_secret"`},
				{hrgate.AuditClientDeleted, cl.ID, `"id":"` + cl.ID, ""},
				{hrgate.AuditConsumerDeleted, c.ID, `"name":"payroll"`, ""},
			}
			if len(evs) != len(want) {
				t.Fatalf("%d events, want %d", len(evs), len(want))
			}
			for i, w := range want {
				ev := evs[i]
				if ev.Type != w.typ || ev.Target != w.target || ev.ConsumerID != c.ID ||
					ev.ActorKind != hrgate.ActorAdmin || ev.Actor != "admin-token" || ev.ClientAddr != "192.0.2.9" || ev.RequestID != "req_1" {
					t.Errorf("event %d: %+v", i, ev)
				}
				if !strings.Contains(string(ev.Before), w.before) || !strings.Contains(string(ev.After), w.after) ||
					(w.before == "") != (ev.Before == nil) || (w.after == "") != (ev.After == nil) {
					t.Errorf("event %d (%s): before %s after %s", i, ev.Type, ev.Before, ev.After)
				}
				for _, secret := range []string{keySecret, nextSecret, clientSecret} {
					if strings.Contains(string(ev.Before)+string(ev.After), secret) {
						t.Fatalf("event %d holds a secret", i)
					}
				}
				if strings.Contains(string(ev.After), "hash") || strings.Contains(string(ev.Before), "hash") {
					t.Fatalf("event %d holds a hash of a secret", i)
				}
			}
		})
	}
}

// Automatic rotation acts as the system.
func TestAutomaticRotationIsAudited(t *testing.T) {
	ctx := context.Background()
	d := storetest.SQLite(t)
	db := storetest.Open(t, d)
	log := mustOpenTrail(t, db, d+".audit", audit.Options{})
	clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	g := gate.New(db, gate.WithAudit(log), gate.WithClock(clk.now))
	if _, err := g.CreateConsumer(ctx, "payroll", "", []string{"teams:read companies:*"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SetKeyRotation(ctx, "payroll", hrgate.KeyRotation{MaxAge: 24 * time.Hour, Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(25 * time.Hour)
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 1 {
		t.Fatalf("rotated %d: %v", n, err)
	}
	if _, err := g.TakeKeyDeliveries(ctx, "payroll"); err != nil {
		t.Fatal(err)
	}
	evs, err := log.FindAuditEvents(ctx, hrgate.AuditFilter{Types: []string{hrgate.AuditKeyRotated, hrgate.AuditKeyFetched}, Limit: 10})
	if err != nil || len(evs) != 2 {
		t.Fatalf("%d events: %v", len(evs), err)
	}
	if evs[0].ActorKind != hrgate.ActorSystem || evs[0].Actor != "key-rotation" {
		t.Fatalf("rotation actor %q %q", evs[0].ActorKind, evs[0].Actor)
	}
	if evs[1].Type != hrgate.AuditKeyFetched || evs[1].ActorKind != hrgate.ActorSystem {
		t.Fatalf("fetch event %+v", evs[1])
	}
}

// mustOpenTrail opens an audit log at dsn, with the audit keys kept in
// db, closed when the test ends.
func mustOpenTrail(tb testing.TB, db *sqlstore.DB, dsn string, opts audit.Options) *audit.Log {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenAuditLog(ctx, dsn, sqlstore.Options{AutoMigrate: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	keys, err := audit.LoadKeys(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	log, err := audit.Open(ctx, st, keys, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = log.Close() })
	return log
}

package gate_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
)

func mustConsumer(t *testing.T, g *gate.Gate) {
	t.Helper()
	if _, err := g.CreateConsumer(context.Background(), "payroll", "", []string{"employees:read:identity companies:*"}); err != nil {
		t.Fatal(err)
	}
}

// reason authenticates and returns "" on success or the true failure reason.
func reason(t *testing.T, g *gate.Gate, secret string, addr netip.Addr) string {
	t.Helper()
	_, err := g.Authenticate(context.Background(), secret, addr)
	if err == nil {
		return ""
	}
	if hrgate.ErrorCode(err) != hrgate.EUNAUTHORIZED || hrgate.ErrorMessage(err) != "Missing or invalid credentials." {
		t.Fatalf("failure must be the generic 401, got %v", err)
	}
	return gate.AuthFailureReason(err)
}

func TestKeyAllowlist(t *testing.T) {
	ctx := context.Background()
	g, _, _ := MustOpenGate(t)
	mustConsumer(t, g)
	k, secret, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", AllowCIDRs: []string{"127.0.0.2", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.AllowCIDRs) != 2 || k.AllowCIDRs[0] != "127.0.0.2/32" {
		t.Fatalf("allowlist stored as %v", k.AllowCIDRs)
	}
	for addr, ok := range map[string]bool{
		"127.0.0.2": true, "::ffff:127.0.0.2": true, "2001:db8::5": true,
		"127.0.0.1": false, "10.0.0.2": false, "::1": false,
	} {
		r := reason(t, g, secret, netip.MustParseAddr(addr))
		if (r == "") != ok {
			t.Errorf("from %s: reason %q, want allowed=%v", addr, r, ok)
		}
		if !ok && r != "client address outside the key's allowlist (key "+k.ID+")" {
			t.Errorf("from %s: reason %q", addr, r)
		}
	}
	for _, bad := range []string{"10.1.2.3/24", "example.com", "10.0.0.0/40"} {
		if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", AllowCIDRs: []string{bad}}); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Errorf("allow-cidr %q: %v, want EINVALID", bad, err)
		}
	}
}

func TestKeyExpiry(t *testing.T) {
	ctx := context.Background()
	g, _, clk := MustOpenGate(t)
	mustConsumer(t, g)
	start := clk.t
	k, secret, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", ExpiresIn: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !k.ExpiresAt.Equal(start.Add(90 * 24 * time.Hour)) {
		t.Fatalf("expires at %v", k.ExpiresAt)
	}
	clk.t = k.ExpiresAt.Add(-time.Microsecond)
	if r := reason(t, g, secret, local); r != "" {
		t.Fatalf("key failed a microsecond before expiry: %s", r)
	}
	clk.t = k.ExpiresAt
	if r := reason(t, g, secret, local); r != "key expired (key "+k.ID+")" {
		t.Fatalf("at expiry: %q", r)
	}

	// Without an expiry a key gets the longest lifetime; longer is refused.
	clk.t = start
	k2, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
	if err != nil || !k2.ExpiresAt.Equal(start.Add(gate.DefaultMaxKeyLifetime)) {
		t.Fatalf("default expiry %v, %v", k2.ExpiresAt, err)
	}
	for _, d := range []time.Duration{gate.DefaultMaxKeyLifetime + time.Hour, time.Second, -time.Hour} {
		if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", ExpiresIn: d}); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Errorf("expires in %v: %v, want EINVALID", d, err)
		}
	}
}

func TestKeyRotationWithGrace(t *testing.T) {
	ctx := context.Background()
	g, _, clk := MustOpenGate(t)
	mustConsumer(t, g)
	old, oldSecret, err := g.CreateKey(ctx, gate.KeyRequest{
		Consumer: "payroll", AllowCIDRs: []string{"127.0.0.0/8"}, ExpiresIn: 30 * 24 * time.Hour, Description: "prod",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := reason(t, g, oldSecret, local); r != "" { // cached before rotation
		t.Fatal(r)
	}
	clk.t = clk.t.Add(10 * 24 * time.Hour)
	next, newSecret, oldNow, err := g.RotateKey(ctx, old.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if next.ConsumerID != old.ConsumerID || next.Description != "prod" || len(next.AllowCIDRs) != 1 ||
		next.AllowCIDRs[0] != "127.0.0.0/8" || !next.ExpiresAt.Equal(clk.t.Add(30*24*time.Hour)) {
		t.Fatalf("successor %+v", next)
	}
	if oldNow.ReplacedByID != next.ID || !oldNow.ExpiresAt.Equal(clk.t.Add(24*time.Hour)) {
		t.Fatalf("old key after rotation %+v", oldNow)
	}

	// During the grace period both keys work.
	clk.t = clk.t.Add(23 * time.Hour)
	if r := reason(t, g, oldSecret, local); r != "" {
		t.Fatalf("old key during grace: %s", r)
	}
	if r := reason(t, g, newSecret, local); r != "" {
		t.Fatalf("new key: %s", r)
	}
	// After it only the new one does.
	clk.t = clk.t.Add(time.Hour)
	if r := reason(t, g, oldSecret, local); r != "key expired (key "+old.ID+")" {
		t.Fatalf("old key after grace: %q", r)
	}
	if r := reason(t, g, newSecret, local); r != "" {
		t.Fatalf("new key after grace: %s", r)
	}
	// The successor keeps the allowlist.
	if r := reason(t, g, newSecret, netip.MustParseAddr("10.0.0.1")); r == "" {
		t.Fatal("successor lost the allowlist")
	}

	// A key is rotated once; a revoked one not at all.
	if _, _, _, err := g.RotateKey(ctx, old.ID, gate.DefaultGrace); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
		t.Fatalf("second rotation: %v", err)
	}
	if err := g.RevokeKey(ctx, next.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := g.RotateKey(ctx, next.ID, gate.DefaultGrace); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
		t.Fatalf("rotation of a revoked key: %v", err)
	}
	if _, _, _, err := g.RotateKey(ctx, "key_nope", gate.DefaultGrace); hrgate.ErrorCode(err) != hrgate.EINVALID {
		t.Fatalf("bad id: %v", err)
	}
	if _, _, _, err := g.RotateKey(ctx, next.ID, 31*24*time.Hour); hrgate.ErrorCode(err) != hrgate.EINVALID {
		t.Fatalf("grace too long: %v", err)
	}
}

func TestRotationWithoutGraceEndsOldKeyAtOnce(t *testing.T) {
	ctx := context.Background()
	g, _, _ := MustOpenGate(t)
	mustConsumer(t, g)
	old, oldSecret, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := g.RotateKey(ctx, old.ID, gate.NoGrace); err != nil {
		t.Fatal(err)
	}
	if r := reason(t, g, oldSecret, local); r == "" {
		t.Fatal("old key works after a rotation without grace")
	}
}

func TestAutomaticRotation(t *testing.T) {
	ctx := context.Background()
	g, _, clk := MustOpenGate(t)
	mustConsumer(t, g)
	if _, err := g.CreateConsumer(ctx, "other", "", []string{"companies:*"}); err != nil {
		t.Fatal(err)
	}
	k, secret, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SetKeyRotation(ctx, "payroll", hrgate.KeyRotation{MaxAge: 30 * 24 * time.Hour, Grace: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []hrgate.KeyRotation{{MaxAge: time.Minute}, {MaxAge: 400 * 24 * time.Hour}, {MaxAge: 48 * time.Hour, Grace: -time.Hour}, {MaxAge: 48 * time.Hour}} {
		if _, err := g.SetKeyRotation(ctx, "payroll", bad); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Errorf("rotation %+v: %v, want EINVALID", bad, err)
		}
	}

	clk.t = clk.t.Add(29 * 24 * time.Hour)
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 0 {
		t.Fatalf("before the age: rotated %d, %v", n, err)
	}
	clk.t = clk.t.Add(24 * time.Hour)
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 1 {
		t.Fatalf("at the age: rotated %d, %v", n, err)
	}
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 0 {
		t.Fatalf("run again: rotated %d, %v", n, err)
	}
	pending, err := g.PendingKeyDeliveries(ctx)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending %v, %v", pending, err)
	}

	// The new secret is handed out once, to an operator asking for it.
	if ds, err := g.TakeKeyDeliveries(ctx, "other"); err != nil || len(ds) != 0 {
		t.Fatalf("other consumer's deliveries %v, %v", ds, err)
	}
	ds, err := g.TakeKeyDeliveries(ctx, "payroll")
	if err != nil || len(ds) != 1 || ds[0].ReplacesID != k.ID || !pending[ds[0].KeyID] {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if again, err := g.TakeKeyDeliveries(ctx, ""); err != nil || len(again) != 0 {
		t.Fatalf("a delivery was handed out twice: %v, %v", again, err)
	}
	if r := reason(t, g, ds[0].Secret, local); r != "" {
		t.Fatalf("delivered key: %s", r)
	}
	clk.t = clk.t.Add(47 * time.Hour)
	if r := reason(t, g, secret, local); r != "" {
		t.Fatalf("old key during grace: %s", r)
	}
	clk.t = clk.t.Add(time.Hour)
	if r := reason(t, g, secret, local); r == "" {
		t.Fatal("old key works after the grace period")
	}
}

// A key that would expire before its consumer's rotation age is rotated
// when its remaining life falls to the grace period, so the integration
// never faces an expired key without a successor.
func TestAutomaticRotationBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	g, _, clk := MustOpenGate(t)
	mustConsumer(t, g)
	if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", ExpiresIn: 10 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SetKeyRotation(ctx, "payroll", hrgate.KeyRotation{MaxAge: 90 * 24 * time.Hour, Grace: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(8 * 24 * time.Hour)
	if n, _ := g.RotateDueKeys(ctx); n != 0 {
		t.Fatal("rotated too early")
	}
	clk.t = clk.t.Add(24 * time.Hour)
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 1 {
		t.Fatalf("rotated %d, %v", n, err)
	}
}

// Automatic rotation never runs away: a grace period at least as long as
// the rotation age is refused, and a key too short-lived for its grace
// period is left to expire instead of being replaced at every tick.
func TestAutomaticRotationIsBounded(t *testing.T) {
	ctx := context.Background()
	g, _, clk := MustOpenGate(t)
	mustConsumer(t, g)
	if _, err := g.SetKeyRotation(ctx, "payroll", hrgate.KeyRotation{MaxAge: time.Hour, Grace: 30 * 24 * time.Hour}); hrgate.ErrorCode(err) != hrgate.EINVALID {
		t.Fatalf("grace longer than the age: %v", err)
	}
	if _, err := g.SetKeyRotation(ctx, "payroll", hrgate.KeyRotation{MaxAge: 90 * 24 * time.Hour, Grace: 2 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll", ExpiresIn: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for range 60 {
		clk.t = clk.t.Add(time.Minute)
		n, err := g.RotateDueKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 0 {
		t.Fatalf("a 2h key under a 2d grace period was rotated %d times", total)
	}

	// A key whose own secret waits to be fetched is not rotated again.
	if _, _, err := g.CreateKey(ctx, gate.KeyRequest{Consumer: "payroll"}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(91 * 24 * time.Hour)
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 1 {
		t.Fatalf("first rotation: %d, %v", n, err)
	}
	clk.t = clk.t.Add(91 * 24 * time.Hour)
	if n, err := g.RotateDueKeys(ctx); err != nil || n != 0 {
		t.Fatalf("an unfetched successor was rotated: %d, %v", n, err)
	}
}

// Expired token state is purged by the background loop, not on requests.
func TestRunTokenPurge(t *testing.T) {
	ctx := context.Background()
	g, db, clk := MustOpenGate(t)
	if err := db.UseAssertionID(ctx, "cli_x:old", clk.t.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.UseAssertionID(ctx, "cli_x:fresh", clk.t.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { g.RunTokenPurge(run, time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for db.UseAssertionID(ctx, "cli_x:old", clk.t.Add(time.Hour)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the expired assertion id was not purged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	if err := db.UseAssertionID(ctx, "cli_x:fresh", clk.t.Add(time.Hour)); hrgate.ErrorCode(err) != hrgate.ECONFLICT {
		t.Fatalf("an unexpired assertion id was purged: %v", err)
	}
}

package http_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
)

// TestBruteForce sends 1,000 wrong keys from one address: they end in a
// lockout (429 with Retry-After) that no longer even looks at the key,
// while a correct key from another address is served. The lockout is
// audited once per lockout, not once per refused request.
func TestBruteForce(t *testing.T) {
	dsn := storetest.SQLite(t)
	db := storetest.Open(t, dsn)
	trail := mustOpenTrail(t, db, dsn)
	g := gate.New(db, gate.WithAudit(trail))
	mustConsumer(t, g, "payroll", "companies:*")
	key := mustKey(t, g, "payroll", false)
	cfg := limitsConfig(t)
	srv, _ := startLimited(t, cfg, db, g, limits.NewMemory(nil), hrhttp.WithAudit(trail))
	attacker := fromAddr(t, srv.CertFile, "127.0.0.1")
	url := srv.URL() + "/v1/companies"

	counts := map[int]int{}
	var last response
	for i := range 1000 {
		wrong := "hrg_live_" + randomHex(t, 20)
		if i%10 == 9 {
			wrong = "" // no credential at all counts as well
		}
		last = call(t, attacker, http.MethodGet, url, wrong)
		counts[last.status]++
	}
	t.Logf("answers to 1,000 wrong keys: %v", counts)
	if last.status != http.StatusTooManyRequests || problemType(t, last) != "urn:hrgate:problem:locked_out" {
		t.Fatalf("the 1,000th wrong key: %d %s", last.status, last.body)
	}
	if ra, err := strconv.Atoi(last.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("lockout with Retry-After %q", last.header.Get("Retry-After"))
	}
	if counts[http.StatusUnauthorized] > 100 || counts[http.StatusTooManyRequests] < 900 {
		t.Fatalf("answers %v: the lockout did not hold the guesses back", counts)
	}
	// Locked out, the address is refused even with the right key: the
	// key is not looked at.
	if r := call(t, attacker, http.MethodGet, url, key); r.status != http.StatusTooManyRequests {
		t.Fatalf("the right key from the locked-out address: %d", r.status)
	}
	// Another address is not locked out.
	if r := call(t, fromAddr(t, srv.CertFile, "127.0.0.2"), http.MethodGet, url, key); r.status != http.StatusOK {
		t.Fatalf("the right key from another address: %d %s", r.status, r.body)
	}

	_ = trail.Close() // makes every enqueued event durable
	evs, err := trail.FindAuditEvents(context.Background(), hrgate.AuditFilter{Types: []string{hrgate.AuditAuthLockout}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	lockouts := 0
	for _, ev := range evs {
		if ev.ClientAddr != "127.0.0.1" || ev.ActorKind != hrgate.ActorSystem || !strings.Contains(ev.Reason, "locked out for") {
			t.Errorf("lockout event %+v", ev)
		}
		lockouts++
	}
	// Each lockout follows 10 failures; the 401s are those failures.
	if lockouts < 1 || lockouts != counts[http.StatusUnauthorized]/10 {
		t.Fatalf("%d lockout events for %d failed authentications; want one per 10", lockouts, counts[http.StatusUnauthorized])
	}
}

// TestBruteForceOAuth guesses one client's secret: the guessing address
// is locked out, the client named is not, since naming it takes no
// secret.
func TestBruteForceOAuth(t *testing.T) {
	env := MustOpenEnv(t, storetest.SQLite(t))
	clientID, secret := env.newClient(t, gate.ClientRequest{Consumer: "payroll"})
	cfg := limitsConfig(t)
	cfg.Limits.BruteForce.Threshold = 5
	srv, _ := startLimited(t, cfg, env.store, env.gate, limits.NewMemory(nil))
	env.srv, env.client = srv, fromAddr(t, srv.CertFile, "127.0.0.1")
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := range 5 {
		if r := env.postForm(t, "/oauth2/token", form, clientID, "wrong-"+strconv.Itoa(i)); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	if r := env.postForm(t, "/oauth2/token", form, clientID, secret); r.status != http.StatusTooManyRequests {
		t.Fatalf("the right secret from the guessing address: %d %s", r.status, r.body)
	}
	// Naming a client takes no secret: the guesser must not have locked
	// the client out for its holder elsewhere.
	env.client = fromAddr(t, srv.CertFile, "127.0.0.2")
	if r := env.postForm(t, "/oauth2/token", form, clientID, secret); r.status != http.StatusOK {
		t.Fatalf("the right secret from another address after a stranger's guesses: %d %s", r.status, r.body)
	}
}

// TestBruteForceOAuthAuditsNoStrangerText fails client authentication
// naming a "client" that is no client id, long and with control
// characters, until the address is locked out: the lockout is audited
// without the text, which is the guesser's, not a credential's.
func TestBruteForceOAuthAuditsNoStrangerText(t *testing.T) {
	env := MustOpenAuditEnv(t, storetest.SQLite(t))
	trail := env.trail
	cfg := limitsConfig(t)
	cfg.Limits.BruteForce.Threshold = 2
	srv, _ := startLimited(t, cfg, env.store, env.gate, limits.NewMemory(nil), hrhttp.WithAudit(trail))
	env.srv, env.client = srv, fromAddr(t, srv.CertFile, "127.0.0.1")
	stranger := "evil\x1b[2J\n" + strings.Repeat("x", 4000)
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := range 2 {
		if r := env.postForm(t, "/oauth2/token", form, stranger, "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	if r := env.postForm(t, "/oauth2/token", form, stranger, "wrong"); r.status != http.StatusTooManyRequests {
		t.Fatalf("after the threshold: %d %s", r.status, r.body)
	}
	_ = trail.Close()
	evs, err := trail.FindAuditEvents(context.Background(), hrgate.AuditFilter{Types: []string{hrgate.AuditAuthLockout}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d lockout events; want 1", len(evs))
	}
	if ev := evs[0]; ev.ClientAddr != "127.0.0.1" || ev.CredentialID != "" {
		t.Fatalf("lockout event names credential %q (client %s); want none", ev.CredentialID, ev.ClientAddr)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestTokenAllowanceOfStranger names another client at the token endpoint
// until the token limit refuses the stranger: the client's own holder,
// from its own address, still gets its tokens.
func TestTokenAllowanceOfStranger(t *testing.T) {
	env := MustOpenEnv(t, storetest.SQLite(t))
	clientID, secret := env.newClient(t, gate.ClientRequest{Consumer: "payroll"})
	cfg := limitsConfig(t)
	cfg.Limits.Routes = map[string]config.RateLimit{"token": {Rate: "1/h", Burst: 2}}
	srv, _ := startLimited(t, cfg, env.store, env.gate, limits.NewMemory(nil))
	env.srv, env.client = srv, fromAddr(t, srv.CertFile, "127.0.0.1")
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := range 2 {
		if r := env.postForm(t, "/oauth2/token", form, clientID, "wrong-"+strconv.Itoa(i)); r.status != http.StatusUnauthorized {
			t.Fatalf("stranger %d: %d %s", i, r.status, r.body)
		}
	}
	if r := env.postForm(t, "/oauth2/token", form, clientID, "wrong"); r.status != http.StatusTooManyRequests {
		t.Fatalf("stranger past the token limit: %d %s", r.status, r.body)
	}
	env.client = fromAddr(t, srv.CertFile, "127.0.0.2")
	if r := env.postForm(t, "/oauth2/token", form, clientID, secret); r.status != http.StatusOK {
		t.Fatalf("the client's holder after a stranger spent its name: %d %s", r.status, r.body)
	}
}

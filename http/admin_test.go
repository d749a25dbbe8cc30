package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/oapitest"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
	"github.com/hrgate/hrgate/webhooks"
)

type adminEnv struct {
	store  *sqlstore.DB
	srv    *hrhttp.Server
	client *http.Client
	token  string
	gate   *gate.Gate
	doc    *oapitest.Doc
	clock  *testClock
	log    *lockedBuffer
	// trail is set by mustOpenAdminWithAudit.
	trail *audit.Log
}

// lockedBuffer collects the server's log lines for assertions.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func mustOpenAdmin(t *testing.T, dsn string) *adminEnv {
	t.Helper()
	return openAdmin(t, dsn, false)
}

// mustOpenAdminWithAudit is mustOpenAdmin with the audit trail on.
func mustOpenAdminWithAudit(t *testing.T, dsn string) *adminEnv {
	t.Helper()
	return openAdmin(t, dsn, true)
}

func openAdmin(t *testing.T, dsn string, withAudit bool) *adminEnv {
	t.Helper()
	db := storetest.Open(t, dsn)
	clk := &testClock{t: time.Now()}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Admin.Addr = "127.0.0.1:0"
	token, err := hrhttp.IssueAdminToken(context.Background(), db, nil)
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	auth := hrhttp.NewStoredTokenAuth(db)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gateOpts := []gate.Option{gate.WithClock(clk.now), gate.WithLogger(log)}
	var srvOpts []hrhttp.Option
	var trail *audit.Log
	if withAudit {
		trail = mustOpenTrail(t, db, dsn)
		gateOpts = append(gateOpts, gate.WithAudit(trail))
		srvOpts = append(srvOpts, hrhttp.WithAudit(trail))
	}
	g := gate.New(db, gateOpts...)
	whOpts := []webhooks.Option{webhooks.WithLogger(log)}
	if trail != nil {
		whOpts = append(whOpts, webhooks.WithAudit(trail))
	}
	srvOpts = append(srvOpts, hrhttp.WithWebhooks(webhooks.New(db, whOpts...)))
	srv, err := hrhttp.NewAdminServer(cfg, db, g, auth, log, srvOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	doc, err := oapitest.Load(hrhttp.AdminOpenAPIDocument())
	if err != nil {
		t.Fatalf("admin OpenAPI document: %v", err)
	}
	return &adminEnv{store: db, srv: srv, client: tlsClient(t, srv.CertFile, nil), token: token, gate: g, doc: doc, clock: clk, log: logs, trail: trail}
}

// call sends a request with the admin token (unless token is "-"),
// validates the answer against the admin OpenAPI document and decodes it.
func (a *adminEnv) call(t *testing.T, method, path, body string, out any, hdr ...string) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := oapitest.ReadBody(t, resp)
	a.doc.Validate(t, resp, b)
	if resp.Header.Get("Cache-Control") != "no-store" && !strings.HasSuffix(path, "openapi.json") {
		t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, resp.Header.Get("Cache-Control"))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type problem struct {
	Type, Detail string
}

func TestAdminAPI(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			a := mustOpenAdmin(t, dsn(t))
			ctx := context.Background()

			t.Run("Authentication", func(t *testing.T) {
				for _, tok := range []string{"", "wrong", a.token + "x", strings.ToUpper(a.token)} {
					saved := a.token
					a.token = tok
					var p problem
					status := a.call(t, "GET", "/admin/v1/consumers", "", &p)
					a.token = saved
					if status != 401 || p.Type != "urn:hrgate:problem:unauthorized" {
						t.Fatalf("token %q: %d %+v", tok, status, p)
					}
				}
				// A consumer's API key is not an admin credential.
				mustConsumer(t, a.gate, "intruder", "companies:*")
				_, key, err := a.gate.CreateKey(ctx, gate.KeyRequest{Consumer: "intruder"})
				if err != nil {
					t.Fatal(err)
				}
				saved := a.token
				a.token = key
				status := a.call(t, "GET", "/admin/v1/keys", "", nil)
				a.token = saved
				if status != 401 {
					t.Fatalf("API key on the admin API: %d", status)
				}
				if status := a.call(t, "DELETE", "/admin/v1/consumers/intruder", "", nil); status != 204 {
					t.Fatalf("delete: %d", status)
				}
			})

			var c struct{ ID, Name string }
			if status := a.call(t, "POST", "/admin/v1/consumers", `{"name":"payroll","scopes":["employees:read:identity companies:*"]}`, &c); status != 201 || c.Name != "payroll" {
				t.Fatalf("create consumer: %d %+v", status, c)
			}

			t.Run("BadInput", func(t *testing.T) {
				for _, tc := range []struct {
					method, path, body string
					hdr                []string
					status             int
					detail             string
				}{
					{"POST", "/admin/v1/consumers", `{"name":"payroll","scopes":["companies:*"]}`, nil, 409, ""},
					{"POST", "/admin/v1/consumers", `{"name":"x","scopes":["companies:*"],"admin":true}`, nil, 400, `unknown field "admin"`},
					{"POST", "/admin/v1/consumers", `{"name":"x","scopes":"companies:*"}`, nil, 400, `"scopes" must be []string`},
					{"POST", "/admin/v1/consumers", `{"name":"x",`, nil, 400, "cut short"},
					{"POST", "/admin/v1/consumers", `{"name":"x","scopes":["companies:*"]} {}`, nil, 400, "exactly one object"},
					{"POST", "/admin/v1/consumers", `{"name":"x","scopes":["companies:*"]}`, []string{"Content-Type", "text/plain"}, 400, "Content-Type: application/json"},
					{"POST", "/admin/v1/consumers", `{"name":"Bad Name","scopes":["companies:*"]}`, nil, 400, "Invalid consumer name"},
					{"POST", "/admin/v1/keys", `{"consumer":"payroll","expires_in":"400d"}`, nil, 400, "keys.max_lifetime"},
					{"POST", "/admin/v1/keys", `{"consumer":"payroll","expires_in":"soon"}`, nil, 400, `"expires_in"`},
					{"POST", "/admin/v1/keys", `{"consumer":"payroll","allow_cidrs":["10.0.0.1/8"]}`, nil, 400, "did you mean 10.0.0.0/8"},
					{"POST", "/admin/v1/keys", `{"consumer":"ghost"}`, nil, 404, ""},
					{"POST", "/admin/v1/keys", `{}`, nil, 400, "needs a consumer"},
					{"GET", "/admin/v1/keys?stale=forever", "", nil, 400, `"stale"`},
					// A bad duration names its field, never the value: here a
					// key pasted into the wrong field, and any echo-me text.
					{"POST", "/admin/v1/keys/key_nope/rotate", `{"grace":"hrg_live_` + strings.Repeat("A", 49) + `"}`, nil, 400, `"grace"`},
					{"GET", "/admin/v1/keys?expiring=echo-me", "", nil, 400, `"expiring"`},
					{"GET", "/admin/v1/keys?limit=5", "", nil, 400, "limit"},
					{"PUT", "/admin/v1/consumers/payroll/key-rotation", `{"max_age":"5m"}`, nil, 400, "rotation age"},
					{"PUT", "/admin/v1/consumers/payroll/grant", `{"scopes":[]}`, nil, 400, "empty grant"},
					{"PUT", "/admin/v1/consumers/payroll/grant", `{"scopes":[" "]}`, nil, 400, "empty grant"},
					{"DELETE", "/admin/v1/clients/hrg_cs_" + strings.Repeat("B", 49), "", nil, 400, "client's secret, not its id"},
					{"POST", "/admin/v1/keys/key_nope/rotate", "", nil, 400, "Invalid key id"},
					{"POST", "/admin/v1/keys/hrg_live_" + strings.Repeat("A", 49) + "/revoke", "", nil, 400, "treat it as exposed"},
					// Any hrgate secret pasted where an id belongs is recognised,
					// not only the kind the route expects; none is echoed.
					{"POST", "/admin/v1/keys/" + a.token + "/revoke", "", nil, 400, "treat it as exposed"},
					{"DELETE", "/admin/v1/clients/hrg_live_" + strings.Repeat("A", 49), "", nil, 400, "treat it as exposed"},
					{"PUT", "/admin/v1/keys/hrg_cs_" + strings.Repeat("B", 49) + "/rate-limit", `{}`, nil, 400, "treat it as exposed"},
					{"POST", "/admin/v1/keys/hrg_scim_" + strings.Repeat("C", 49) + "/revoke", "", nil, 400, "a SCIM source's token, not a key id"},
					{"DELETE", "/admin/v1/clients/whsec_" + strings.Repeat("D", 43) + "=", "", nil, 400, "a webhook signing secret, not a client id"},
					{"PUT", "/admin/v1/keys/whsec_" + strings.Repeat("D", 43) + "/rate-limit", `{}`, nil, 400, "treat it as exposed"},
					{"GET", "/admin/v1/consumers/ghost", "", nil, 404, ""},
					{"GET", "/admin/v1/consumers", "", []string{"Accept", "text/html"}, 406, ""},
				} {
					var p problem
					hdr := tc.hdr
					status := a.call(t, tc.method, tc.path, tc.body, &p, hdr...)
					if status != tc.status || !strings.Contains(p.Detail, tc.detail) {
						t.Errorf("%s %s %s: %d %q, want %d and %q", tc.method, tc.path, tc.body, status, p.Detail, tc.status, tc.detail)
					}
					if strings.Contains(strings.ToLower(p.Detail), "sql") {
						t.Errorf("problem reveals internals: %q", p.Detail)
					}
					if strings.Contains(p.Detail, "echo-me") {
						t.Errorf("%s %s: the problem echoes the value given: %q", tc.method, tc.path, p.Detail)
					}
					for _, pat := range []*regexp.Regexp{hrgate.APIKeyPattern, hrgate.ClientSecretPattern, hrgate.AdminTokenPattern, hrgate.SourceTokenPattern, hrgate.WebhookSecretPattern} {
						if m := pat.FindString(p.Detail); m != "" {
							t.Errorf("%s %s: the problem echoes a secret (%.12s…)", tc.method, tc.path, m)
						}
					}
				}
				// Nothing was written by the refused requests.
				var list struct{ Data []struct{ Name string } }
				a.call(t, "GET", "/admin/v1/consumers", "", &list)
				if len(list.Data) != 1 {
					t.Fatalf("consumers after bad input: %+v", list.Data)
				}
				var keys struct{ Data []any }
				a.call(t, "GET", "/admin/v1/keys", "", &keys)
				if len(keys.Data) != 0 {
					t.Fatalf("keys after bad input: %+v", keys.Data)
				}
			})

			t.Run("KeyLifecycle", func(t *testing.T) {
				var k struct {
					ID, Key    string
					AllowCIDRs []string `json:"allow_cidrs"`
				}
				if status := a.call(t, "POST", "/admin/v1/keys", `{"consumer":"payroll","allow_cidrs":["127.0.0.2"],"expires_in":"30d","description":"admin-made"}`, &k); status != 201 {
					t.Fatalf("create key: %d", status)
				}
				if _, err := a.gate.Authenticate(ctx, k.Key, netip.MustParseAddr("127.0.0.2")); err != nil {
					t.Fatalf("key from the admin API does not authenticate: %v", err)
				}
				if _, err := a.gate.Authenticate(ctx, k.Key, netip.MustParseAddr("127.0.0.1")); err == nil {
					t.Fatal("key works outside its allowlist")
				}

				var list struct {
					Data []struct {
						ID, State, Consumer string
						Flags               []string
					}
				}
				raw := &bytes.Buffer{}
				a.call(t, "GET", "/admin/v1/keys?consumer=payroll&stale=0s", "", &list)
				_ = json.NewEncoder(raw).Encode(list)
				if len(list.Data) != 1 || list.Data[0].Consumer != "payroll" || !slices.Contains(list.Data[0].Flags, "stale") || strings.Contains(raw.String(), k.Key) {
					t.Fatalf("list: %+v", list)
				}

				var next struct{ ID, Key, Replaces string }
				if status := a.call(t, "POST", "/admin/v1/keys/"+k.ID+"/rotate", `{"grace":"1h"}`, &next); status != 201 || next.Replaces != k.ID {
					t.Fatalf("rotate: %d %+v", status, next)
				}
				var p problem
				if status := a.call(t, "POST", "/admin/v1/keys/"+k.ID+"/rotate", "", &p); status != 409 || !strings.Contains(p.Detail, next.ID) {
					t.Fatalf("second rotate: %d %+v", status, p)
				}
				var revoked struct{ State string }
				if status := a.call(t, "POST", "/admin/v1/keys/"+next.ID+"/revoke", "", &revoked); status != 200 || revoked.State != "revoked" {
					t.Fatalf("revoke: %d %+v", status, revoked)
				}
				if _, err := a.gate.Authenticate(ctx, next.Key, netip.MustParseAddr("127.0.0.2")); err == nil {
					t.Fatal("revoked key works")
				}

				var cons struct {
					KeyRotation struct {
						MaxAge string `json:"max_age"`
						Grace  string `json:"grace"`
					} `json:"key_rotation"`
				}
				if status := a.call(t, "PUT", "/admin/v1/consumers/payroll/key-rotation", `{"max_age":"90d","grace":"2d"}`, &cons); status != 200 ||
					cons.KeyRotation.MaxAge != "90d" || cons.KeyRotation.Grace != "2d" {
					t.Fatalf("key rotation: %d %+v", status, cons)
				}
				// Automatic rotation queues the new secret; the admin API
				// hands it out once.
				var fresh struct{ ID, Key string }
				if status := a.call(t, "POST", "/admin/v1/keys", `{"consumer":"payroll"}`, &fresh); status != 201 {
					t.Fatalf("create key: %d", status)
				}
				a.clock.t = a.clock.t.Add(91 * 24 * time.Hour)
				if n, err := a.gate.RotateDueKeys(ctx); err != nil || n != 1 {
					t.Fatalf("RotateDueKeys = %d, %v", n, err)
				}
				var flagged struct {
					Data []struct {
						ID    string
						Flags []string
					}
				}
				a.call(t, "GET", "/admin/v1/keys?consumer=payroll", "", &flagged)
				var flags []string
				for _, k := range flagged.Data {
					if k.ID == fresh.ID {
						flags = k.Flags
					}
				}
				if !slices.Contains(flags, "successor-not-fetched") {
					t.Fatalf("rotated key flags %v", flags)
				}
				var ds struct {
					Data []struct{ ID, Key, Replaces string }
				}
				if status := a.call(t, "POST", "/admin/v1/key-deliveries/take?consumer=payroll", "", &ds); status != 200 || len(ds.Data) != 1 ||
					ds.Data[0].Replaces != fresh.ID || !strings.HasPrefix(ds.Data[0].Key, "hrg_live_") {
					t.Fatalf("deliveries: %d %+v", status, ds)
				}
				if _, err := a.gate.Authenticate(ctx, ds.Data[0].Key, netip.MustParseAddr("192.0.2.1")); err != nil {
					t.Fatalf("delivered key: %v", err)
				}
				ds.Data = nil
				if status := a.call(t, "POST", "/admin/v1/key-deliveries/take", "", &ds); status != 200 || len(ds.Data) != 0 {
					t.Fatalf("a delivery was handed out twice: %d %+v", status, ds)
				}
				if status := a.call(t, "PUT", "/admin/v1/consumers/payroll/grant", `{"scopes":["companies:*"]}`, nil); status != 200 {
					t.Fatalf("grant: %d", status)
				}
				if status := a.call(t, "DELETE", "/admin/v1/consumers/payroll", "", nil); status != 204 {
					t.Fatalf("delete: %d", status)
				}
				if status := a.call(t, "GET", "/admin/v1/consumers/payroll", "", nil); status != 404 {
					t.Fatalf("deleted consumer: %d", status)
				}
			})

			t.Run("Clients", func(t *testing.T) {
				mustConsumer(t, a.gate, "benefits", "employees:read:identity companies:*")
				var cl struct {
					ClientID     string   `json:"client_id"`
					ClientSecret string   `json:"client_secret"`
					AllowCIDRs   []string `json:"allow_cidrs"`
				}
				if status := a.call(t, "POST", "/admin/v1/clients", `{"consumer":"benefits","allow_cidrs":["10.0.0.0/8"],"description":"benefits sync"}`, &cl); status != 201 ||
					!strings.HasPrefix(cl.ClientSecret, "hrg_cs_") || len(cl.AllowCIDRs) != 1 {
					t.Fatalf("create client: %d %+v", status, cl)
				}
				stored, err := a.gate.Clients(ctx, "benefits")
				if err != nil || len(stored) != 1 || !bytes.Equal(stored[0].SecretHash, hrgate.HashClientSecret(cl.ClientSecret)) {
					t.Fatalf("stored client %+v, %v", stored, err)
				}
				var p problem
				if status := a.call(t, "POST", "/admin/v1/clients", `{"consumer":"benefits","scopes":["employees:read:banking companies:*"]}`, &p); status != 400 || !strings.Contains(p.Detail, "not within the grant") {
					t.Fatalf("client outside the grant: %d %+v", status, p)
				}
				if status := a.call(t, "POST", "/admin/v1/clients", `{"consumer":"benefits","jwk":{"kty":"oct","k":"c2VjcmV0"}}`, &p); status != 400 {
					t.Fatalf("symmetric JWK: %d %+v", status, p)
				}
				var list struct {
					Data []struct {
						ClientID string `json:"client_id"`
					}
				}
				raw := &bytes.Buffer{}
				a.call(t, "GET", "/admin/v1/clients?consumer=benefits", "", &list)
				_ = json.NewEncoder(raw).Encode(list)
				if len(list.Data) != 1 || list.Data[0].ClientID != cl.ClientID || strings.Contains(raw.String(), cl.ClientSecret) {
					t.Fatalf("list clients: %+v", list)
				}
				if status := a.call(t, "DELETE", "/admin/v1/clients/"+cl.ClientID, "", nil); status != 204 {
					t.Fatalf("delete client: %d", status)
				}
				if status := a.call(t, "DELETE", "/admin/v1/clients/"+cl.ClientID, "", nil); status != 404 {
					t.Fatalf("delete deleted client: %d", status)
				}
			})

			t.Run("BodyLimit", func(t *testing.T) {
				// 1 MiB is the default limit: a larger body is refused,
				// whether its length is announced or not, and nothing is
				// written.
				big := `{"name":"bulky","scopes":["companies:*"],"description":"` + strings.Repeat("x", 2<<20) + `"}`
				for _, chunked := range []bool{false, true} {
					var body io.Reader = strings.NewReader(big)
					if chunked {
						body = io.MultiReader(strings.NewReader(big)) // no length: sent chunked
					}
					req, _ := http.NewRequest("POST", a.srv.URL()+"/admin/v1/consumers", body)
					req.Header.Set("Authorization", "Bearer "+a.token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := a.client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b := oapitest.ReadBody(t, resp)
					a.doc.Validate(t, resp, b)
					if resp.StatusCode != 413 || !strings.Contains(string(b), "urn:hrgate:problem:too_large") {
						t.Fatalf("chunked=%v: %d %s", chunked, resp.StatusCode, b)
					}
				}
				if _, err := a.gate.Consumer(ctx, "bulky"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
					t.Fatalf("an oversized request left a consumer behind: %v", err)
				}
			})

			t.Run("NoSecretInTheLog", func(t *testing.T) {
				logs := a.log.String()
				if !strings.Contains(logs, `"route":"POST /admin/v1/keys"`) {
					t.Fatalf("the admin requests were not logged:\n%s", logs)
				}
				for _, pat := range []*regexp.Regexp{hrgate.APIKeyPattern, hrgate.ClientSecretPattern, regexp.MustCompile(regexp.QuoteMeta(a.token))} {
					if m := pat.FindString(logs); m != "" {
						t.Fatalf("the log holds a secret (%.12s…)", m)
					}
				}
			})

			t.Run("Document", func(t *testing.T) {
				saved := a.token
				a.token = ""
				status := a.call(t, "GET", "/admin/v1/openapi.json", "", nil)
				a.token = saved
				if status != 200 {
					t.Fatalf("openapi.json: %d", status)
				}
				ops := a.doc.Operations()
				for _, r := range a.srv.Routes() {
					if !slices.Contains(ops, r) {
						t.Errorf("route %s is not in the admin OpenAPI document", r)
					}
				}
			})
		})
	}
}

// adminLimit is the rate_limit member of the admin API's answers.
type adminLimit struct {
	Rate  string `json:"rate"`
	Burst int    `json:"burst"`
	Quota string `json:"quota"`
}

// Rate limits set through the admin API come back in every answer, reach
// the principal of the next request (the credential cache notwithstanding)
// and are audited; a bad value is a 400 naming the member, with nothing
// written and nothing audited.
func TestAdminRateLimits(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			a := mustOpenAdminWithAudit(t, dsn(t))
			ctx := context.Background()
			local := netip.MustParseAddr("127.0.0.1")
			principal := func(t *testing.T, key string) *gate.Principal {
				t.Helper()
				p, err := a.gate.Authenticate(ctx, key, local)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}

			var c struct {
				ID        string
				RateLimit adminLimit `json:"rate_limit"`
			}
			if status := a.call(t, "POST", "/admin/v1/consumers",
				`{"name":"payroll","scopes":["employees:read:identity companies:*"],"rate_limit":{"rate":"200/s","burst":400,"quota":"100000/day"}}`, &c); status != 201 ||
				c.RateLimit != (adminLimit{"200/s", 400, "100000/day"}) {
				t.Fatalf("create consumer: %d %+v", status, c)
			}
			var k struct {
				ID, Key   string
				RateLimit adminLimit `json:"rate_limit"`
			}
			if status := a.call(t, "POST", "/admin/v1/keys",
				`{"consumer":"payroll","rate_limit":{"rate":"50/s","burst":100,"quota":"20000/day"}}`, &k); status != 201 ||
				k.RateLimit != (adminLimit{"50/s", 100, "20000/day"}) {
				t.Fatalf("create key: %d %+v", status, k)
			}
			var cl struct {
				ID        string     `json:"client_id"`
				RateLimit adminLimit `json:"rate_limit"`
			}
			if status := a.call(t, "POST", "/admin/v1/clients", `{"consumer":"payroll","rate_limit":{"rate":"300/m"}}`, &cl); status != 201 ||
				cl.RateLimit != (adminLimit{Rate: "5/s"}) {
				t.Fatalf("create client: %d %+v", status, cl)
			}
			p := principal(t, k.Key)
			if p.RateLimit != (hrgate.RateLimit{Rate: 50, Burst: 100, Quota: 20000}) ||
				p.ConsumerRateLimit != (hrgate.RateLimit{Rate: 200, Burst: 400, Quota: 100000}) {
				t.Fatalf("principal limits %v / %v", p.RateLimit, p.ConsumerRateLimit)
			}

			t.Run("Update", func(t *testing.T) {
				var kv struct {
					RateLimit adminLimit `json:"rate_limit"`
				}
				if status := a.call(t, "PUT", "/admin/v1/keys/"+k.ID+"/rate-limit", `{"rate":"10/s","quota":"default"}`, &kv); status != 200 ||
					kv.RateLimit != (adminLimit{Rate: "10/s"}) {
					t.Fatalf("PUT key rate-limit: %d %+v", status, kv)
				}
				var cv struct {
					RateLimit adminLimit `json:"rate_limit"`
				}
				if status := a.call(t, "PUT", "/admin/v1/consumers/payroll/rate-limit", `{}`, &cv); status != 200 || cv.RateLimit != (adminLimit{}) {
					t.Fatalf("PUT consumer rate-limit: %d %+v", status, cv)
				}
				var clv struct {
					RateLimit adminLimit `json:"rate_limit"`
				}
				if status := a.call(t, "PUT", "/admin/v1/clients/"+cl.ID+"/rate-limit", `{"quota":"10/day"}`, &clv); status != 200 ||
					clv.RateLimit != (adminLimit{Quota: "10/day"}) {
					t.Fatalf("PUT client rate-limit: %d %+v", status, clv)
				}
				// The key's credential was cached by the request above.
				p := principal(t, k.Key)
				if p.RateLimit != (hrgate.RateLimit{Rate: 10}) || !p.ConsumerRateLimit.IsZero() {
					t.Fatalf("principal after the changes: %v / %v", p.RateLimit, p.ConsumerRateLimit)
				}
				changes, err := a.trail.FindAuditEvents(ctx, hrgate.AuditFilter{
					Types: []string{hrgate.AuditKeyUpdated, hrgate.AuditConsumerUpdated, hrgate.AuditClientUpdated}, Limit: 100,
				})
				if err != nil || len(changes) != 3 {
					t.Fatalf("change events: %d, %v", len(changes), err)
				}
				for i, want := range []struct{ typ, before, after string }{
					{hrgate.AuditKeyUpdated, `"rate_limit":{"rate":"50/s","burst":100,"quota":"20000/day"}`, `"rate_limit":{"rate":"10/s"}`},
					{hrgate.AuditConsumerUpdated, `"rate_limit":{"rate":"200/s","burst":400,"quota":"100000/day"}`, `"name":"payroll"`},
					{hrgate.AuditClientUpdated, `"rate_limit":{"rate":"5/s"}`, `"rate_limit":{"quota":"10/day"}`},
				} {
					ev := changes[i]
					if ev.Type != want.typ || ev.ActorKind != hrgate.ActorAdmin ||
						!strings.Contains(string(ev.Before), want.before) || !strings.Contains(string(ev.After), want.after) {
						t.Errorf("event %d: %s by %s, before %s after %s", i, ev.Type, ev.ActorKind, ev.Before, ev.After)
					}
				}
			})

			t.Run("Read", func(t *testing.T) {
				var consumers struct {
					Data []struct {
						RateLimit *adminLimit `json:"rate_limit"`
					}
				}
				a.call(t, "GET", "/admin/v1/consumers", "", &consumers)
				if len(consumers.Data) != 1 || consumers.Data[0].RateLimit == nil || *consumers.Data[0].RateLimit != (adminLimit{}) {
					t.Fatalf("consumers: %+v", consumers.Data)
				}
				var keys struct {
					Data []struct {
						RateLimit adminLimit `json:"rate_limit"`
					}
				}
				a.call(t, "GET", "/admin/v1/keys", "", &keys)
				if len(keys.Data) != 1 || keys.Data[0].RateLimit != (adminLimit{Rate: "10/s"}) {
					t.Fatalf("keys: %+v", keys.Data)
				}
				var clients struct {
					Data []struct {
						RateLimit adminLimit `json:"rate_limit"`
					}
				}
				a.call(t, "GET", "/admin/v1/clients", "", &clients)
				if len(clients.Data) != 1 || clients.Data[0].RateLimit != (adminLimit{Quota: "10/day"}) {
					t.Fatalf("clients: %+v", clients.Data)
				}
			})

			t.Run("ErrBadValuesWriteNothing", func(t *testing.T) {
				snapshot := func(t *testing.T) string {
					t.Helper()
					var all []string
					for _, path := range []string{"/admin/v1/consumers", "/admin/v1/clients"} {
						var v any
						a.call(t, "GET", path, "", &v)
						b, _ := json.Marshal(v)
						all = append(all, string(b))
					}
					keys, err := a.store.ListAPIKeys(ctx, "")
					if err != nil {
						t.Fatal(err)
					}
					b, _ := json.Marshal(keys)
					return strings.Join(append(all, string(b)), "\n")
				}
				changeEvents := func(t *testing.T) int {
					t.Helper()
					evs, err := a.trail.FindAuditEvents(ctx, hrgate.AuditFilter{Types: []string{
						hrgate.AuditConsumerCreated, hrgate.AuditConsumerUpdated, hrgate.AuditKeyCreated,
						hrgate.AuditKeyUpdated, hrgate.AuditClientCreated, hrgate.AuditClientUpdated,
					}, Limit: 1000})
					if err != nil {
						t.Fatal(err)
					}
					return len(evs)
				}
				before, eventsBefore := snapshot(t), changeEvents(t)
				missingKey, err := hrgate.NewID(hrgate.PrefixAPIKey, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				for _, tc := range []struct {
					method, path, body string
					status             int
					detail             string
				}{
					{"POST", "/admin/v1/consumers", `{"name":"other","rate_limit":{"rate":"50"}}`, 400, `Invalid "rate_limit.rate"`},
					{"POST", "/admin/v1/consumers", `{"name":"other","rate_limit":{"burst":5}}`, 400, `Invalid "rate_limit.burst"`},
					{"POST", "/admin/v1/consumers", `{"name":"other","rate_limit":{"quota":"0/day"}}`, 400, `Invalid "rate_limit.quota"`},
					{"POST", "/admin/v1/keys", `{"consumer":"payroll","rate_limit":{"quota":"5/h"}}`, 400, `Invalid "rate_limit.quota"`},
					{"POST", "/admin/v1/keys", `{"consumer":"payroll","rate_limit":{"rate":"2000000/s","burst":1}}`, 400, `Invalid "rate_limit.rate"`},
					{"POST", "/admin/v1/keys", `{"consumer":"payroll","rate_limit":{"rate":"1/s","burst":"100"}}`, 400, `"rate_limit.burst" must be int`},
					{"POST", "/admin/v1/clients", `{"consumer":"payroll","rate_limit":{"rate":"1/s","burst":-1}}`, 400, `Invalid "rate_limit.burst"`},
					{"POST", "/admin/v1/clients", `{"consumer":"payroll","rate_limit":{"rate":"1/s","window":"1m"}}`, 400, `unknown field "window"`},
					{"PUT", "/admin/v1/consumers/payroll/rate-limit", `{"quota":"1000000000001/day"}`, 400, `Invalid "quota"`},
					{"PUT", "/admin/v1/consumers/payroll/rate-limit", `{"rate":"1/s","burst":1000001}`, 400, `Invalid "burst"`},
					{"PUT", "/admin/v1/keys/" + k.ID + "/rate-limit", `{"rate":"fast"}`, 400, `Invalid "rate"`},
					{"PUT", "/admin/v1/keys/" + k.ID + "/rate-limit", `{"burst":10}`, 400, `Invalid "burst"`},
					{"PUT", "/admin/v1/keys/" + k.ID + "/rate-limit", ``, 400, "Content-Type"},
					{"PUT", "/admin/v1/clients/" + cl.ID + "/rate-limit", `{"rate":"NaN/s"}`, 400, `Invalid "rate"`},
					{"PUT", "/admin/v1/keys/" + missingKey + "/rate-limit", `{}`, 404, ""},
					{"PUT", "/admin/v1/keys/" + k.Key + "/rate-limit", `{}`, 400, "treat it as exposed"},
					{"PUT", "/admin/v1/consumers/ghost/rate-limit", `{}`, 404, ""},
				} {
					var p problem
					status := a.call(t, tc.method, tc.path, tc.body, &p)
					if status != tc.status || !strings.Contains(p.Detail, tc.detail) {
						t.Errorf("%s %s %s: %d %q, want %d and %q", tc.method, tc.path, tc.body, status, p.Detail, tc.status, tc.detail)
					}
				}
				if after := snapshot(t); after != before {
					t.Errorf("refused requests changed the data:\n%s\nwas\n%s", after, before)
				}
				if n := changeEvents(t); n != eventsBefore {
					t.Errorf("refused requests were audited as changes: %d events, were %d", n, eventsBefore)
				}
			})
		})
	}
}

package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
)

const (
	scimUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	scimHRGate     = "urn:hrgate:params:scim:schemas:extension:hrgate:2.0:User"
	scimPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimBulk       = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	scimError      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// scimEnv is a server with the SCIM endpoint on, the audit trail and the
// limits, a company "acme" with a SCIM source "workday", another SCIM
// source "bamboo" of the same company, and a consumer whose live key may
// read acme's employees.
type scimEnv struct {
	srv     *hrhttp.Server
	db      *sqlstore.DB
	trail   *audit.Log
	svc     *sources.Service
	client  *http.Client
	src     *hrgate.Source
	token   string
	other   string // bamboo's token
	reader  string // the consumer's key
	company *hrgate.Company
}

func openSCIMEnv(t *testing.T, dsn string, tune ...func(*config.Config)) *scimEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
	now := time.Now().UTC().Truncate(time.Microsecond)
	id, err := hrgate.NewID(hrgate.PrefixCompany, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	co := &hrgate.Company{ID: id, Slug: "acme", Name: "Acme", Country: "DE", CreatedAt: now, ModifiedAt: now}
	if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{co}}); err != nil {
		t.Fatal(err)
	}
	trail, _ := openTrail(t, db, dsn)
	svc := sources.New(db, sources.WithAudit(trail))
	src, cred, err := svc.Create(ctx, "workday", "acme", hrgate.SourceSCIM)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := svc.Create(ctx, "bamboo", "acme", hrgate.SourceSCIM)
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(db, gate.WithAudit(trail))
	mustConsumer(t, g, "payroll", "employees:read:identity,employment companies:acme")
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.MaxBodyBytes = 64 << 10
	cfg.Limits.BruteForce.Threshold = 5
	for _, f := range tune {
		f(cfg)
	}
	lim, err := hrhttp.NewLimits(cfg.Limits, limits.NewMemory(nil), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() })
	srv, err := hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler),
		hrhttp.WithSources(svc), hrhttp.WithAudit(trail), hrhttp.WithLimits(lim))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &scimEnv{srv: srv, db: db, trail: trail, svc: svc, client: tlsClient(t, srv.CertFile, nil), src: src,
		token: cred.Token, other: other.Token, reader: mustKey(t, g, "payroll", false), company: co}
}

type scimResp struct {
	status int
	header http.Header
	body   []byte
}

func (r scimResp) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return m
}

// call sends a SCIM request with the source token; body is marshalled
// unless it is a string or []byte. hdr are header name/value pairs.
func (e *scimEnv) call(t *testing.T, token, method, path string, body any, hdr ...string) scimResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL()+"/scim/v2"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
			t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
		}
	}
	return scimResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustStatus fails unless r has the status, and for an error the SCIM
// error shape with scimType (when given).
func mustStatus(t *testing.T, r scimResp, status int, scimType ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status < 400 {
		return
	}
	m := r.object(t)
	if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != scimError {
		t.Fatalf("not a SCIM error: %s", r.body)
	}
	if m["status"] != fmt.Sprint(status) {
		t.Fatalf("status member %v, want %q", m["status"], fmt.Sprint(status))
	}
	if len(scimType) > 0 && m["scimType"] != scimType[0] {
		t.Fatalf("scimType %v, want %s: %s", m["scimType"], scimType[0], r.body)
	}
}

// ada is the user of RFC 7643 §8.2's spirit with hrgate's extension.
func ada(userName, externalID string) map[string]any {
	u := map[string]any{
		"schemas":  []string{scimUser, scimEnterprise, scimHRGate},
		"userName": userName,
		"name":     map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"title":    "Engineer",
		"emails": []any{
			map[string]any{"value": "ada@example.com", "type": "work", "primary": true},
			map[string]any{"value": "ada@home.example.org", "type": "home"},
		},
		"phoneNumbers": []any{map[string]any{"value": "+44 20 7946 0000", "type": "work"}},
		"addresses": []any{map[string]any{"type": "home", "streetAddress": "12 St James's Square\nFlat 2",
			"locality": "London", "postalCode": "SW1Y 4JH", "country": "gb"}},
		scimEnterprise: map[string]any{"employeeNumber": "701984", "department": "Analytical Engines"},
		scimHRGate: map[string]any{
			"startDate": "2020-01-06", "employmentType": "full_time", "dateOfBirth": "1985-12-10",
			"compensation": map[string]any{"payRate": json.Number("85000"), "payPeriod": "year", "payCurrency": "GBP", "payFrequency": "monthly"},
			"bankAccount":  map[string]any{"bankName": "Coutts", "iban": "GB82 WEST 1234 5698 7654 32"},
			"nationalId":   map[string]any{"type": "nino", "value": "QQ123456C"},
		},
		"unknownAttribute": "ignored",
	}
	if externalID != "" {
		u["externalId"] = externalID
	}
	return u
}

func TestSCIM(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := openSCIMEnv(t, dsn(t))
			t.Run("CreateGetAndReadThroughAPI", e.testCreateGet)
			t.Run("Replace", e.testReplace)
			t.Run("Patch", e.testPatch)
			t.Run("Manager", e.testManager)
			t.Run("Filter", e.testFilter)
			t.Run("Paginate", e.testPaginate)
			t.Run("Bulk", e.testBulk)
			t.Run("Delete", e.testDelete)
			t.Run("Errors", e.testErrors)
			t.Run("SourcesAreIsolated", e.testIsolation)
			t.Run("Discovery", e.testDiscovery)
			t.Run("AuditAndRuns", e.testAuditAndRuns)
			// Last: it locks the test client's address out.
			t.Run("BadTokensAreLockedOut", e.testLockout)
		})
	}
}

func (e *scimEnv) create(t *testing.T, userName, externalID string) map[string]any {
	t.Helper()
	r := e.call(t, e.token, "POST", "/Users", ada(userName, externalID))
	mustStatus(t, r, http.StatusCreated)
	return r.object(t)
}

func (e *scimEnv) testCreateGet(t *testing.T) {
	r := e.call(t, e.token, "POST", "/Users", ada("ada@example.com", "w-1001"))
	mustStatus(t, r, http.StatusCreated)
	u := r.object(t)
	id, _ := u["id"].(string)
	if !hrgate.ValidID(hrgate.PrefixEmployee, id) {
		t.Fatalf("id %v", u["id"])
	}
	if loc := r.header.Get("Location"); loc != e.srv.URL()+"/scim/v2/Users/"+id {
		t.Errorf("Location %q", loc)
	}
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Errorf("ETag %q", etag)
	}
	meta, _ := u["meta"].(map[string]any)
	if meta["resourceType"] != "User" || meta["version"] != etag || meta["location"] != r.header.Get("Location") || meta["created"] == nil {
		t.Errorf("meta %v", meta)
	}
	if u["externalId"] != "w-1001" || u["userName"] != "ada@example.com" || u["active"] != true || u["title"] != "Engineer" {
		t.Errorf("user %s", r.body)
	}
	if ext, _ := u[scimHRGate].(map[string]any); ext["employmentStatus"] != "active" || ext["compensation"] != nil || ext["bankAccount"] != nil || ext["nationalId"] != nil {
		t.Errorf("hrgate extension %v: restricted groups must never be returned", ext)
	}
	if strings.Contains(string(r.body), "QQ123456C") || strings.Contains(string(r.body), "85000") {
		t.Error("a restricted value was returned")
	}
	addr := u["addresses"].([]any)[0].(map[string]any)
	if addr["streetAddress"] != "12 St James's Square\nFlat 2" || addr["country"] != "GB" {
		t.Errorf("address %v", addr)
	}

	// GET, and If-None-Match.
	g := e.call(t, e.token, "GET", "/Users/"+id, nil)
	mustStatus(t, g, http.StatusOK)
	if g.header.Get("ETag") != etag {
		t.Errorf("GET ETag %q, POST %q", g.header.Get("ETag"), etag)
	}
	if nm := e.call(t, e.token, "GET", "/Users/"+id, nil, "If-None-Match", etag); nm.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", nm.status)
	}
	if p := e.call(t, e.token, "GET", "/Users/"+id+"?attributes=userName,name.givenName", nil).object(t); len(p) != 4 ||
		p["name"].(map[string]any)["givenName"] != "Ada" || p["userName"] == nil {
		t.Errorf("attributes projection: %v", p)
	}
	if p := e.call(t, e.token, "GET", "/Users/"+id+"?excludedAttributes=emails,"+scimEnterprise+":department", nil).object(t); p["emails"] != nil ||
		p[scimEnterprise].(map[string]any)["department"] != nil || p["userName"] == nil {
		t.Errorf("excludedAttributes projection: %v", p)
	}

	// Every field is stored as the engine stores a CSV value.
	es, err := e.db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups})
	if err != nil || len(es) != 1 {
		t.Fatal(err, len(es))
	}
	s := es[0]
	if s.RemoteID != "w-1001" || s.SourceID != e.src.ID || s.CompanyID != e.company.ID || s.Identity.WorkEmail != "ada@example.com" ||
		s.Contact.PersonalEmail != "ada@home.example.org" || s.Contact.Phone != "+44 20 7946 0000" || s.Contact.HomeAddress.Line2 != "Flat 2" ||
		s.Identity.EmployeeNumber != "701984" || s.Employment.Department != "Analytical Engines" || s.Compensation.PayRate != "85000" ||
		s.Banking.IBAN != "GB82WEST12345698765432" || s.GovernmentID.Value != "QQ123456C" || s.Personal.DateOfBirth != "1985-12-10" {
		t.Errorf("stored %+v", s)
	}

	// The acceptance: a granted consumer reads the user on /v1/employees.
	req, _ := http.NewRequest("GET", e.srv.URL()+"/v1/employees/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+e.reader)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var emp map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&emp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/employees/%s: %d %v", id, resp.StatusCode, err)
	}
	if emp["first_name"] != "Ada" || emp["work_email"] != "ada@example.com" || emp["department"] != "Analytical Engines" || emp["company_id"] != e.company.ID {
		t.Errorf("/v1 employee %v", emp)
	}
}

func (e *scimEnv) testReplace(t *testing.T) {
	u := e.create(t, "grace@example.com", "")
	id := u["id"].(string)
	if ext, _ := u["externalId"].(string); !strings.HasPrefix(ext, "scim_") {
		t.Errorf("generated externalId %q", ext)
	}
	put := map[string]any{
		"schemas": []string{scimUser}, "userName": "grace.hopper@example.com",
		"name": map[string]any{"givenName": "Grace", "familyName": "Hopper"}, "active": true,
		"emails": []any{map[string]any{"value": "grace@example.com", "type": "work"}},
	}
	r := e.call(t, e.token, "PUT", "/Users/"+id, put)
	mustStatus(t, r, http.StatusOK)
	got := r.object(t)
	if got["userName"] != "grace.hopper@example.com" || got["title"] != nil || got["phoneNumbers"] != nil {
		t.Errorf("PUT result %s", r.body)
	}
	if got[scimEnterprise] != nil {
		t.Errorf("PUT without the enterprise extension kept it: %v", got[scimEnterprise])
	}
	es, _ := e.db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups})
	// The hrgate extension was not in the body: its groups stay.
	if es[0].Compensation.PayRate != "85000" || es[0].Personal.DateOfBirth != "1985-12-10" || es[0].Employment.StartDate != "2020-01-06" {
		t.Errorf("PUT without the hrgate extension changed its groups: %+v", es[0])
	}
	// externalId cannot change.
	put["externalId"] = "other"
	mustStatus(t, e.call(t, e.token, "PUT", "/Users/"+id, put), 400, "mutability")
}

func (e *scimEnv) testPatch(t *testing.T) {
	u := e.create(t, "katherine@example.com", "w-patch")
	id := u["id"].(string)
	patch := func(ops ...map[string]any) scimResp {
		return e.call(t, e.token, "PATCH", "/Users/"+id, map[string]any{"schemas": []string{scimPatchOp}, "Operations": ops})
	}
	// RFC 7644 §3.5.2 examples, on hrgate's attributes.
	r := patch(
		map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": "kj@example.com"},
		map[string]any{"op": "replace", "path": "name.givenName", "value": "Katherine"},
		map[string]any{"op": "add", "path": scimEnterprise + ":department", "value": "Flight Research"},
		map[string]any{"op": "remove", "path": `emails[type eq "home"]`},
		map[string]any{"op": "Replace", "value": map[string]any{"title": "Mathematician", "name.familyName": "Johnson"}},
		map[string]any{"op": "add", "path": "phoneNumbers", "value": []any{}},
		map[string]any{"op": "remove", "path": "phoneNumbers"},
		map[string]any{"op": "replace", "path": scimHRGate + ":compensation.payRate", "value": "90000"},
	)
	mustStatus(t, r, http.StatusOK)
	got := r.object(t)
	emails := got["emails"].([]any)
	if len(emails) != 1 || emails[0].(map[string]any)["value"] != "kj@example.com" {
		t.Errorf("emails %v", emails)
	}
	if got["name"].(map[string]any)["givenName"] != "Katherine" || got["name"].(map[string]any)["familyName"] != "Johnson" ||
		got["title"] != "Mathematician" || got[scimEnterprise].(map[string]any)["department"] != "Flight Research" || got["phoneNumbers"] != nil {
		t.Errorf("patched %s", r.body)
	}
	es, _ := e.db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups})
	if es[0].Compensation.PayRate != "90000" || es[0].Compensation.PayCurrency != "GBP" || es[0].Contact.PersonalEmail != "" {
		t.Errorf("stored after patch %+v", es[0])
	}
	// A filter that matches nothing adds the value, as identity
	// providers expect; active "False" as some send it.
	r = patch(map[string]any{"op": "add", "path": `emails[type eq "home"].value`, "value": "kj@home.example.org"},
		map[string]any{"op": "replace", "path": "active", "value": "False"})
	mustStatus(t, r, http.StatusOK)
	got = r.object(t)
	if len(got["emails"].([]any)) != 2 || got["active"] != false || got[scimHRGate].(map[string]any)["employmentStatus"] != "terminated" {
		t.Errorf("patched %s", r.body)
	}
	// Bad values name the attribute, never the value.
	r = patch(map[string]any{"op": "replace", "path": scimHRGate + ":bankAccount.iban", "value": "DE00 1234"})
	mustStatus(t, r, 400, "invalidValue")
	if d := r.object(t)["detail"].(string); !strings.Contains(d, "bankAccount.iban") || strings.Contains(d, "DE00") {
		t.Errorf("detail %q", d)
	}
	mustStatus(t, patch(map[string]any{"op": "remove"}), 400, "noTarget")
	mustStatus(t, patch(map[string]any{"op": "replace", "path": "nosuch", "value": "x"}), 400, "invalidPath")
	mustStatus(t, patch(map[string]any{"op": "replace", "path": "id", "value": "x"}), 400, "mutability")
	mustStatus(t, patch(map[string]any{"op": "replace", "path": `emails[type eq "work" or value pr]`, "value": map[string]any{"value": "x@example.com"}}), 200)
	mustStatus(t, patch(map[string]any{"op": "move", "path": "title"}), 400, "invalidSyntax")
	// If-Match.
	etag := e.call(t, e.token, "GET", "/Users/"+id, nil).header.Get("ETag")
	body := map[string]any{"schemas": []string{scimPatchOp}, "Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Lead"}}}
	mustStatus(t, e.call(t, e.token, "PATCH", "/Users/"+id, body, "If-Match", `W/"stale"`), 412)
	r = e.call(t, e.token, "PATCH", "/Users/"+id, body, "If-Match", etag)
	mustStatus(t, r, 200)
	if r.header.Get("ETag") == etag {
		t.Error("the ETag did not change with the user")
	}
}

func (e *scimEnv) testManager(t *testing.T) {
	boss := e.create(t, "boss@example.com", "")["id"].(string)
	u := ada("report@example.com", "")
	u[scimEnterprise] = map[string]any{"manager": map[string]any{"value": boss}}
	r := e.call(t, e.token, "POST", "/Users", u)
	mustStatus(t, r, 201)
	m := r.object(t)[scimEnterprise].(map[string]any)["manager"].(map[string]any)
	if m["value"] != boss || m["$ref"] != e.srv.URL()+"/scim/v2/Users/"+boss {
		t.Errorf("manager %v", m)
	}
	// A manager of another source, or no employee at all, is refused.
	otherSrc := e.call(t, e.other, "POST", "/Users", ada("elsewhere@example.com", ""))
	mustStatus(t, otherSrc, 201)
	u["userName"] = "report2@example.com"
	u[scimEnterprise] = map[string]any{"manager": map[string]any{"value": otherSrc.object(t)["id"]}}
	mustStatus(t, e.call(t, e.token, "POST", "/Users", u), 400, "invalidValue")
	id := r.object(t)["id"].(string)
	self := map[string]any{"schemas": []string{scimPatchOp}, "Operations": []any{map[string]any{"op": "replace", "path": scimEnterprise + ":manager", "value": id}}}
	mustStatus(t, e.call(t, e.token, "PATCH", "/Users/"+id, self), 400, "invalidValue")
}

func (e *scimEnv) list(t *testing.T, query string) (int, []map[string]any) {
	t.Helper()
	r := e.call(t, e.token, "GET", "/Users?"+query, nil)
	mustStatus(t, r, 200)
	m := r.object(t)
	var out []map[string]any
	for _, it := range m["Resources"].([]any) {
		out = append(out, it.(map[string]any))
	}
	total, _ := m["totalResults"].(float64)
	return int(total), out
}

func (e *scimEnv) testFilter(t *testing.T) {
	base := e.create(t, "Filter.One@Example.com", "f-1")
	e.create(t, "filter.two@example.com", "f-2")
	created := base["meta"].(map[string]any)["created"].(string)
	q := func(f string) string { return "filter=" + urlEscape(f) }
	for _, tc := range []struct {
		name, filter string
		want         int
	}{
		{"eqUserNameIgnoresCase", `userName eq "filter.one@example.com"`, 1},
		{"eqExternalId", `externalId eq "f-2"`, 1},
		{"eqExternalIdIsCaseExact", `externalId eq "F-2"`, 0},
		{"eqId", `id eq "` + base["id"].(string) + `"`, 1},
		{"ne", `userName sw "filter." and userName ne "filter.two@example.com"`, 1},
		{"co", `userName co "TWO@"`, 1},
		{"sw", `userName sw "filter."`, 2},
		{"ew", `userName ew "two@example.com"`, 1},
		{"pr", `userName sw "filter" and title pr`, 2},
		{"gtLastModified", `userName sw "filter" and meta.lastModified gt "` + created + `"`, 1},
		{"geLastModified", `userName sw "filter" and meta.lastModified ge "` + created + `"`, 2},
		{"ltLastModified", `userName sw "filter" and meta.lastModified lt "2000-01-01T00:00:00Z"`, 0},
		{"leLastModified", `userName sw "filter" and meta.lastModified le "2999-01-01T00:00:00Z"`, 2},
		{"or", `externalId eq "f-1" or externalId eq "f-2"`, 2},
		{"notParentheses", `userName sw "filter" and not (externalId eq "f-1")`, 1},
		{"valuePath", `emails[type eq "work" and value co "@example.com"] and userName sw "filter"`, 2},
		{"enterprise", scimEnterprise + `:department eq "analytical engines" and userName sw "filter"`, 2},
		{"subAttribute", `name.familyName eq "Lovelace" and externalId sw "f-"`, 2},
		{"boolean", `active eq true and externalId eq "f-1"`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total, items := e.list(t, q(tc.filter))
			if total != tc.want || len(items) != tc.want {
				t.Errorf("%s: total %d, %d items, want %d", tc.filter, total, len(items), tc.want)
			}
		})
	}
	for _, bad := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `nosuch eq "a"`,
		scimHRGate + `:compensation.payRate gt "1"`, `meta.lastModified gt "yesterday"`, strings.Repeat("(", 40) + `userName pr` + strings.Repeat(")", 40)} {
		r := e.call(t, e.token, "GET", "/Users?"+q(bad), nil)
		mustStatus(t, r, 400, "invalidFilter")
	}
}

func (e *scimEnv) testPaginate(t *testing.T) {
	for i := range 5 {
		e.create(t, fmt.Sprintf("page%d@example.com", i), fmt.Sprintf("p-%d", i))
	}
	f := "filter=" + urlEscape(`userName sw "page"`)
	var seen []string
	for start := 1; start <= 5; start += 2 {
		total, items := e.list(t, fmt.Sprintf("%s&startIndex=%d&count=2", f, start))
		if total != 5 {
			t.Fatalf("totalResults %d", total)
		}
		for _, it := range items {
			seen = append(seen, it["id"].(string))
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d users, want 5", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("pages are not in id order: %v", seen)
		}
	}
	total, items := e.list(t, f+"&count=0")
	if total != 5 || len(items) != 0 {
		t.Errorf("count=0: %d %d", total, len(items))
	}
	all, _ := e.list(t, "")
	if all < 5 {
		t.Errorf("unfiltered total %d", all)
	}
}

func (e *scimEnv) testBulk(t *testing.T) {
	bulk := func(failOnErrors int, ops ...map[string]any) (scimResp, []map[string]any) {
		r := e.call(t, e.token, "POST", "/Bulk", map[string]any{"schemas": []string{scimBulk}, "failOnErrors": failOnErrors, "Operations": ops})
		mustStatus(t, r, 200)
		var out []map[string]any
		for _, o := range r.object(t)["Operations"].([]any) {
			out = append(out, o.(map[string]any))
		}
		return r, out
	}
	report := ada("bulk.report@example.com", "b-2")
	report[scimEnterprise] = map[string]any{"manager": map[string]any{"value": "bulkId:boss"}}
	// The report refers to the manager created after it: it waits.
	_, ops := bulk(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "report", "data": report},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "boss", "data": ada("bulk.boss@example.com", "b-1")},
		map[string]any{"method": "PATCH", "path": "/Users/bulkId:boss", "data": map[string]any{"schemas": []string{scimPatchOp},
			"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Director"}}}},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "dup", "data": ada("bulk.boss@example.com", "b-3")},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "orphan", "data": map[string]any{"userName": "o@example.com",
			"name": map[string]any{"givenName": "O", "familyName": "P"}, scimEnterprise: map[string]any{"manager": "bulkId:nosuch"}}},
	)
	if len(ops) != 5 {
		t.Fatalf("%d results", len(ops))
	}
	want := []string{"201", "201", "200", "409", "409"}
	for i, o := range ops {
		if o["status"] != want[i] {
			t.Errorf("operation %d: status %v, want %s: %v", i, o["status"], want[i], o)
		}
	}
	bossID := lastSeg(ops[1]["location"].(string))
	r := e.call(t, e.token, "GET", "/Users/"+lastSeg(ops[0]["location"].(string)), nil)
	if m := r.object(t)[scimEnterprise].(map[string]any)["manager"].(map[string]any); m["value"] != bossID {
		t.Errorf("bulkId reference resolved to %v, want %s", m["value"], bossID)
	}
	if ops[3]["response"].(map[string]any)["scimType"] != "uniqueness" {
		t.Errorf("duplicate userName: %v", ops[3])
	}
	// "bulkId:" inside a longer value is text: the order does not wait
	// on it, and it is stored as sent, not rewritten to an id.
	memo := ada("bulk.memo@example.com", "b-5")
	memo["title"] = "Reports to bulkId:lead"
	_, ops = bulk(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "lead", "data": ada("bulk.lead@example.com", "b-4")},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "memo", "data": memo},
	)
	if len(ops) != 2 || ops[0]["status"] != "201" || ops[1]["status"] != "201" {
		t.Fatalf("bulkId inside a value: %v", ops)
	}
	r = e.call(t, e.token, "GET", "/Users/"+lastSeg(ops[1]["location"].(string)), nil)
	if title := r.object(t)["title"]; title != "Reports to bulkId:lead" {
		t.Errorf("a title holding \"bulkId:lead\" was stored as %v", title)
	}
	// failOnErrors: the request stops after the first error.
	_, ops = bulk(1,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "bad", "data": map[string]any{"userName": "nameless@example.com"}},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "never", "data": ada("never@example.com", "")},
	)
	if len(ops) != 1 || ops[0]["status"] != "400" {
		t.Errorf("failOnErrors 1: %v", ops)
	}
	if _, items := e.list(t, "filter="+urlEscape(`userName eq "never@example.com"`)); len(items) != 0 {
		t.Error("an operation after failOnErrors ran")
	}
	// maxOperations.
	var many []map[string]any
	for i := range 51 {
		many = append(many, map[string]any{"method": "DELETE", "path": "/Users/emp_x" + fmt.Sprint(i)})
	}
	r = e.call(t, e.token, "POST", "/Bulk", map[string]any{"schemas": []string{scimBulk}, "Operations": many})
	mustStatus(t, r, 413)
}

func (e *scimEnv) testDelete(t *testing.T) {
	u := e.create(t, "leaver@example.com", "d-1")
	id := u["id"].(string)
	mustStatus(t, e.call(t, e.token, "DELETE", "/Users/"+id, nil, "If-Match", `W/"stale"`), 412)
	if r := e.call(t, e.token, "DELETE", "/Users/"+id, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	mustStatus(t, e.call(t, e.token, "GET", "/Users/"+id, nil), 404)
	mustStatus(t, e.call(t, e.token, "DELETE", "/Users/"+id, nil), 404)
	if total, _ := e.list(t, "filter="+urlEscape(`externalId eq "d-1"`)); total != 0 {
		t.Errorf("a deleted user is listed")
	}
	// Nothing is hard-deleted: the employee is terminated.
	es, _ := e.db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups})
	if len(es) != 1 || es[0].Employment.Status != hrgate.StatusTerminated || es[0].Employment.TerminationDate == "" {
		t.Fatalf("deleted user's employee: %+v", es)
	}
	// Its userName is free again.
	mustStatus(t, e.call(t, e.token, "POST", "/Users", ada("leaver@example.com", "d-2")), 201)
}

func (e *scimEnv) testErrors(t *testing.T) {
	e.create(t, "unique@example.com", "u-1")
	mustStatus(t, e.call(t, e.token, "POST", "/Users", ada("UNIQUE@example.com", "u-2")), 409, "uniqueness")
	mustStatus(t, e.call(t, e.token, "POST", "/Users", ada("unique2@example.com", "u-1")), 409, "uniqueness")
	mustStatus(t, e.call(t, e.token, "POST", "/Users", `{"userName": `), 400, "invalidSyntax")
	mustStatus(t, e.call(t, e.token, "POST", "/Users", `[1,2]`), 400, "invalidSyntax")
	mustStatus(t, e.call(t, e.token, "POST", "/Users", map[string]any{"name": map[string]any{"givenName": "No", "familyName": "Name"}}), 400, "invalidValue")
	mustStatus(t, e.call(t, e.token, "POST", "/Users", map[string]any{"userName": "=cmd|' /C calc'!A0", "name": map[string]any{"givenName": "F", "familyName": "I"}}), 400, "invalidValue")
	big := ada("big@example.com", "")
	big["title"] = strings.Repeat("x", 70<<10)
	mustStatus(t, e.call(t, e.token, "POST", "/Users", big), 413)
	mustStatus(t, e.call(t, e.token, "GET", "/Users/emp_nosuch", nil), 404)
	mustStatus(t, e.call(t, e.token, "GET", "/Groups", nil), 404)
	mustStatus(t, e.call(t, e.token, "PATCH", "/Users", nil), 405)
	bad := ada("badname@example.com", "")
	bad["name"] = map[string]any{"givenName": "Bad\u202eName", "familyName": "X"}
	r := e.call(t, e.token, "POST", "/Users", bad)
	mustStatus(t, r, 400, "invalidValue")
	if d := r.object(t)["detail"].(string); !strings.Contains(d, "name.givenName") {
		t.Errorf("detail %q does not name the attribute", d)
	}
	for _, tok := range []string{"", "nonsense", "hrg_scim_" + strings.Repeat("A", 49)} {
		mustStatus(t, e.call(t, tok, "GET", "/Users", nil), 401)
	}
}

func (e *scimEnv) testIsolation(t *testing.T) {
	mine := e.create(t, "mine@example.com", "iso-1")["id"].(string)
	theirs := e.call(t, e.other, "POST", "/Users", ada("mine@example.com", "iso-1"))
	mustStatus(t, theirs, 201) // userName and externalId are per source
	tid := theirs.object(t)["id"].(string)
	mustStatus(t, e.call(t, e.token, "GET", "/Users/"+tid, nil), 404)
	mustStatus(t, e.call(t, e.token, "DELETE", "/Users/"+tid, nil), 404)
	mustStatus(t, e.call(t, e.other, "GET", "/Users/"+mine, nil), 404)
	total, items := e.list(t, "filter="+urlEscape(`userName eq "mine@example.com"`))
	if total != 1 || items[0]["id"] != mine {
		t.Errorf("source sees %d users named mine: %v", total, items)
	}
}

func (e *scimEnv) testDiscovery(t *testing.T) {
	r := e.call(t, e.token, "GET", "/ServiceProviderConfig", nil)
	mustStatus(t, r, 200)
	cfg := r.object(t)
	if b := cfg["bulk"].(map[string]any); b["supported"] != true || b["maxOperations"] != float64(50) || b["maxPayloadSize"] != float64(64<<10) {
		t.Errorf("bulk %v", b)
	}
	if cfg["patch"].(map[string]any)["supported"] != true || cfg["etag"].(map[string]any)["supported"] != true {
		t.Errorf("config %s", r.body)
	}
	r = e.call(t, e.token, "GET", "/Schemas", nil)
	mustStatus(t, r, 200)
	if n := r.object(t)["totalResults"]; n != float64(3) {
		t.Errorf("%v schemas", n)
	}
	mustStatus(t, e.call(t, e.token, "GET", "/Schemas/"+scimEnterprise, nil), 200)
	mustStatus(t, e.call(t, e.token, "GET", "/ResourceTypes/User", nil), 200)
	mustStatus(t, e.call(t, e.token, "GET", "/ResourceTypes/Group", nil), 404)
}

func (e *scimEnv) testAuditAndRuns(t *testing.T) {
	r := e.call(t, e.token, "POST", "/Users", ada("audited@example.com", "a-1"))
	mustStatus(t, r, 201)
	id := r.object(t)["id"].(string)
	reqID := r.header.Get("X-Request-Id")
	evs, err := e.trail.AuditEvents(context.Background(), 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var ev *hrgate.AuditEvent
	for _, x := range evs {
		if x.RequestID == reqID && x.Type == hrgate.AuditAPIRequest {
			ev = x
		}
	}
	if ev == nil {
		t.Fatalf("no audit event for request %s", reqID)
	}
	if ev.ActorKind != hrgate.ActorSource || ev.Actor != "workday" || ev.CredentialID != e.src.ID || ev.Route != "POST /scim/v2/Users" ||
		ev.Status != 201 || len(ev.RecordIDs) != 1 || ev.RecordIDs[0] != id {
		t.Errorf("audit event %+v", ev)
	}
	runs, err := e.svc.Runs(context.Background(), "workday", 1)
	if err != nil || len(runs) != 1 || runs[0].Kind != "scim" || runs[0].Created != 1 || runs[0].Status != hrgate.RunSucceeded {
		t.Errorf("run %+v %v", runs, err)
	}
}

func (e *scimEnv) testLockout(t *testing.T) {
	bad := "hrg_scim_" + strings.Repeat("B", 49)
	locked := false
	for range 10 {
		r := e.call(t, bad, "GET", "/Users", nil)
		if r.status == http.StatusTooManyRequests {
			locked = true
			break
		}
		mustStatus(t, r, 401)
	}
	if !locked {
		t.Fatal("guessing tokens never locked the address out")
	}
	// Locked out: even the right token is refused, before it is checked.
	mustStatus(t, e.call(t, e.token, "GET", "/Users", nil), 429)
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", `"`, "%22", "&", "%26", "+", "%2B", "#", "%23", "[", "%5B", "]", "%5D")
	return r.Replace(s)
}

func lastSeg(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// TestSCIMSourceRateLimited: a SCIM source is limited as a credential is,
// by limits.credential keyed by its id, so a leaked token cannot push at
// any rate; another source keeps its own allowance.
func TestSCIMSourceRateLimited(t *testing.T) {
	e := openSCIMEnv(t, storetest.SQLite(t), func(c *config.Config) {
		c.Limits.Credential = config.RateLimit{Rate: "1/h", Burst: 2}
	})
	for range 2 {
		mustStatus(t, e.call(t, e.token, "GET", "/Users", nil), 200)
	}
	r := e.call(t, e.token, "GET", "/Users", nil)
	mustStatus(t, r, 429)
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	mustStatus(t, e.call(t, e.other, "GET", "/Users", nil), 200)
}

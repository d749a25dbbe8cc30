package http_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"github.com/hrgate/hrgate/internal/storetest"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

// TestAPI runs the whole API suite once per database.
func TestAPI(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := MustOpenEnv(t, dsn(t))
			t.Run("PayrollSeesItsGrantOnly", e.testPayroll)
			t.Run("PlannerSeesOneCompanyNamesAndTimeOff", e.testPlanner)
			t.Run("OutsideCompanyIsIndistinguishableFromMissing", e.testOutsideCompany)
			t.Run("Authentication", e.testAuthentication)
			t.Run("BadInput", e.testBadInput)
			t.Run("Pagination", e.testPagination)
			t.Run("TestKeysSeeOnlySandbox", e.testSandboxIsolation)
			t.Run("Transport", e.testTransport)
			t.Run("Public", e.testPublic)
			t.Run("OAuth", e.testOAuth)
		})
	}
}

func (e *testEnv) testPayroll(t *testing.T) {
	list := e.get(t, e.payroll, "/v1/employees?limit=50")
	if list.status != 200 {
		t.Fatalf("status %d: %s", list.status, list.body)
	}
	items := list.items(t)
	if len(items) != 50 {
		t.Fatalf("got %d employees, want 50", len(items))
	}
	sawCompensation, sawMaskedIBAN := false, false
	for _, it := range items {
		assertOnlyKeys(t, it, "employee_number", "first_name", "last_name", "preferred_name", "work_email",
			"job_title", "department", "manager_id", "work_location_id", "start_date", "termination_date",
			"employment_status", "employment_type", "compensation", "bank_account")
		if _, ok := it["national_id"]; ok {
			t.Fatal("payroll must never see national_id")
		}
		if c, ok := it["compensation"].(map[string]any); ok {
			if _, isNum := c["pay_rate"].(float64); isNum {
				sawCompensation = true
			}
		}
		if b, ok := it["bank_account"].(map[string]any); ok {
			for _, f := range []string{"iban", "account_number", "routing_number"} {
				v, _ := b[f].(string)
				if v == "" {
					continue
				}
				if !strings.Contains(v, "*") {
					t.Errorf("bank_account.%s = %q is not masked", f, v)
				}
				visible := 0
				for _, r := range v {
					if r != '*' && r != ' ' && r != '-' {
						visible++
					}
				}
				if visible > 4 {
					t.Errorf("bank_account.%s = %q shows more than four characters", f, v)
				}
				sawMaskedIBAN = true
			}
		}
	}
	if !sawCompensation || !sawMaskedIBAN {
		t.Errorf("payroll did not read compensation (%v) and masked bank data (%v)", sawCompensation, sawMaskedIBAN)
	}
	// The raw values really are in the store: masking is the projection's work.
	id := items[0]["id"].(string)
	one := e.get(t, e.payroll, "/v1/employees/"+id)
	if one.status != 200 {
		t.Fatalf("single read: %d %s", one.status, one.body)
	}
	if _, ok := one.object(t)["national_id"]; ok {
		t.Fatal("single read leaks national_id")
	}
	stored, err := e.store.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Groups: hrgate.AllGroups})
	if err != nil || len(stored) != 1 {
		t.Fatal(err)
	}
	if nid := stored[0].GovernmentID.Value; nid == "" || strings.Contains(string(one.body), nid) {
		t.Fatalf("national id %q missing from store or present in response", nid)
	}
	if iban := stored[0].Banking.IBAN; iban != "" && strings.Contains(string(one.body), iban) {
		t.Fatal("unmasked IBAN in response")
	}
}

func (e *testEnv) testPlanner(t *testing.T) {
	for _, path := range []string{"/v1/employees?limit=200", "/v1/time-off?limit=200", "/v1/time-off-balances?limit=200", "/v1/companies"} {
		r := e.get(t, e.planner, path)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		items := r.items(t)
		if len(items) == 0 {
			t.Fatalf("%s: planner sees nothing", path)
		}
		for _, it := range items {
			cid, _ := it["company_id"].(string)
			if path == "/v1/companies" {
				cid, _ = it["id"].(string)
			}
			if cid != e.planned.ID {
				t.Fatalf("%s: planner sees company %s, granted only %s", path, cid, e.planned.ID)
			}
			if strings.HasPrefix(path, "/v1/employees") {
				assertOnlyKeys(t, it, "employee_number", "first_name", "last_name", "preferred_name", "work_email")
				if it["first_name"] == nil {
					t.Errorf("planner cannot read names: %v", it)
				}
			}
		}
	}
	// Filtering by a field outside the grant would reveal it: refused.
	if r := e.get(t, e.planner, "/v1/employees?employment_status=terminated"); r.status != http.StatusForbidden {
		t.Errorf("planner filtered by employment_status: %d %s", r.status, r.body)
	}
	if r := e.get(t, e.payroll, "/v1/employees?employment_status=terminated"); r.status != 200 {
		t.Errorf("payroll cannot filter by employment_status: %d", r.status)
	} else {
		for _, it := range r.items(t) {
			if it["employment_status"] != "terminated" {
				t.Fatalf("filter returned %v", it["employment_status"])
			}
		}
	}
	for _, path := range []string{"/v1/teams", "/v1/locations"} {
		if r := e.get(t, e.planner, path); r.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403 (grant has no %s)", path, r.status, path)
		}
	}
}

func (e *testEnv) testOutsideCompany(t *testing.T) {
	ctx := context.Background()
	other := e.companies[0]
	emps, err := e.store.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, CompanyID: other.ID, Page: hrgate.Page{Limit: 1}})
	if err != nil || len(emps) != 1 {
		t.Fatal(err)
	}
	random, _ := hrgate.NewID(hrgate.PrefixEmployee, rand.Reader)
	outside := e.get(t, e.planner, "/v1/employees/"+emps[0].ID)
	missing := e.get(t, e.planner, "/v1/employees/"+random)
	garbage := e.get(t, e.planner, "/v1/employees/not-an-id")
	for _, r := range []response{outside, missing, garbage} {
		if r.status != 404 {
			t.Fatalf("status %d, want 404: %s", r.status, r.body)
		}
	}
	a, b, c := problemWithoutRequestID(t, outside), problemWithoutRequestID(t, missing), problemWithoutRequestID(t, garbage)
	if a != b || b != c {
		t.Fatalf("404 bodies differ:\noutside: %s\nmissing: %s\ngarbage: %s", a, b, c)
	}
	if strings.Join(outside.header.Values("Content-Type"), "") != strings.Join(missing.header.Values("Content-Type"), "") ||
		outside.header.Get("Content-Length") != missing.header.Get("Content-Length") {
		t.Fatal("404 headers differ between outside and missing")
	}
	// The same employee is readable with a grant that covers its company.
	if r := e.get(t, e.payroll, "/v1/employees/"+emps[0].ID); r.status != 200 {
		t.Fatalf("payroll cannot read the employee: %d", r.status)
	}
	// Companies alike, by id and by slug.
	for _, ref := range []string{other.ID, other.Slug} {
		r := e.get(t, e.planner, "/v1/companies/"+ref)
		if r.status != 404 || problemWithoutRequestID(t, r) != problemWithoutRequestID(t, e.get(t, e.planner, "/v1/companies/no-such-co")) {
			t.Fatalf("company %s outside the grant: %d %s", ref, r.status, r.body)
		}
	}
	if r := e.get(t, e.planner, "/v1/companies/"+e.planned.Slug); r.status != 200 {
		t.Fatalf("planner's own company by slug: %d", r.status)
	}
}

func (e *testEnv) testAuthentication(t *testing.T) {
	ctx := context.Background()
	revokedKey := mustKey(t, e.gate, "payroll", true)
	if r := e.get(t, revokedKey, "/v1/employees?limit=1"); r.status != 200 {
		t.Fatalf("fresh key: %d", r.status)
	}
	keys, err := e.gate.Keys(ctx, "payroll")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if string(k.Hash) == string(hrgate.HashAPIKey(revokedKey)) {
			if err := e.gate.RevokeKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	valid := e.payroll
	flipped := valid[:len(valid)-8] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, valid[len(valid)-8:])
	forged, _ := hrgate.GenerateAPIKey(hrgate.KeyTest, rand.Reader) // well-formed, never issued
	var bodies []string
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"Missing", nil},
		{"Revoked", []string{"Authorization", "Bearer " + revokedKey}},
		{"Malformed", []string{"Authorization", "Bearer hrg_live_nope"}},
		{"BadChecksum", []string{"Authorization", "Bearer " + flipped}},
		{"Unknown", []string{"Authorization", "Bearer " + forged}},
		{"WrongScheme", []string{"Authorization", "Basic " + valid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, "", "/v1/employees", tc.hdr...)
			if r.status != 401 {
				t.Fatalf("status %d, want 401", r.status)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			bodies = append(bodies, problemWithoutRequestID(t, r))
		})
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("401 bodies differ, revealing why: %s vs %s", bodies[0], b)
		}
	}
	t.Run("KeyInQueryStringRefused", func(t *testing.T) {
		r := e.get(t, "", "/v1/employees?api_key="+valid)
		if r.status != 400 || !strings.Contains(string(r.body), "Authorization header") {
			t.Fatalf("status %d body %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), valid) {
			t.Fatal("the key is echoed back")
		}
		// Every kind of hrgate secret, not API keys only.
		for _, secret := range []string{"hrg_scim_" + strings.Repeat("a", 49), "whsec_" + strings.Repeat("A", 43) + "="} {
			r := e.get(t, "", "/v1/employees?token="+url.QueryEscape(secret))
			if r.status != 400 || !strings.Contains(string(r.body), "Authorization header") || strings.Contains(string(r.body), secret) {
				t.Fatalf("a secret in the query: status %d body %s", r.status, r.body)
			}
		}
	})
}

func (e *testEnv) testBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		hdr        []string
		status     int
		detail     string
	}{
		{"NegativeLimit", "/v1/employees?limit=-1", nil, 400, "limit must be a whole number from 1 to 200"},
		{"HugeLimit", "/v1/employees?limit=100000", nil, 400, "limit must be a whole number from 1 to 200"},
		{"TextLimit", "/v1/employees?limit=ten", nil, 400, "limit must be"},
		{"GarbageModifiedAfter", "/v1/employees?modified_after=garbage", nil, 400, "modified_after must be an RFC 3339 date-time"},
		{"BadStatus", "/v1/employees?employment_status=fired", nil, 400, "employment_status must be one of"},
		{"BadCompanyID", "/v1/employees?company_id=acme'--", nil, 400, "company_id must be an id"},
		{"TamperedCursor", "/v1/employees?cursor=AQAAAAAAAAAAZW1wXzAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwdGFtcGVyZWQtbWFjISE", nil, 400, "cursor is invalid"},
		{"UnknownParameter", "/v1/employees?compnay_id=x", nil, 400, `Unknown query parameter "compnay_id"`},
		{"RepeatedParameter", "/v1/employees?limit=1&limit=2", nil, 400, "more than once"},
		{"ParameterOnSingleRoute", "/v1/employees/emp_x?fields=all", nil, 400, "this route takes none"},
		{"HTMLAccept", "/v1/employees", []string{"Accept", "text/html"}, 406, "application/json"},
		{"ZeroQualityJSON", "/v1/employees", []string{"Accept", "application/json;q=0"}, 406, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, e.payroll, tc.path, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.object(t)
			if d, _ := p["detail"].(string); !strings.Contains(d, tc.detail) {
				t.Errorf("detail %q does not say %q", d, tc.detail)
			}
			assertNoInternals(t, r.body)
		})
	}
	t.Run("MethodNotAllowed", func(t *testing.T) {
		r := e.do(t, http.MethodPost, e.payroll, "/v1/employees")
		if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "GET") {
			t.Fatalf("status %d Allow %q", r.status, r.header.Get("Allow"))
		}
		if r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("405 content type %q", r.header.Get("Content-Type"))
		}
	})
	t.Run("UnknownRoute", func(t *testing.T) {
		r := e.do(t, http.MethodGet, e.payroll, "/v1/salaries")
		if r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("status %d", r.status)
		}
	})
}

func (e *testEnv) testPagination(t *testing.T) {
	seen := map[string]bool{}
	path := "/v1/employees?limit=7"
	pages := 0
	var firstCursor string
	for {
		r := e.get(t, e.payroll, path)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		for _, it := range r.items(t) {
			id := it["id"].(string)
			if seen[id] {
				t.Fatalf("employee %s returned twice", id)
			}
			seen[id] = true
		}
		next, _ := r.object(t)["next_cursor"].(string)
		pages++
		if next == "" {
			break
		}
		if firstCursor == "" {
			firstCursor = next
		}
		path = "/v1/employees?limit=7&cursor=" + next
	}
	n, err := e.store.CountEmployees(context.Background(), hrgate.AllCompanies)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("paged through %d employees in %d pages, store has %d", len(seen), pages, n)
	}
	// A cursor belongs to its query and its credential.
	for _, tc := range []struct{ name, key, path string }{
		{"OtherFilter", e.payroll, "/v1/employees?limit=7&employment_status=active&cursor=" + firstCursor},
		{"OtherCredential", e.payrollLive, "/v1/employees?limit=7&cursor=" + firstCursor},
		{"OtherRoute", e.payroll, "/v1/companies?cursor=" + firstCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.get(t, tc.key, tc.path); r.status != 400 {
				t.Fatalf("reused cursor: status %d", r.status)
			}
		})
	}
}

func (e *testEnv) testSandboxIsolation(t *testing.T) {
	ctx := context.Background()
	now := e.gate.Now()
	id, _ := hrgate.NewID(hrgate.PrefixCompany, rand.Reader)
	empID, _ := hrgate.NewID(hrgate.PrefixEmployee, rand.Reader)
	real := &hrgate.Company{ID: id, Slug: "realco-" + id[len(id)-6:], Name: "Real Co", Country: "GB", CreatedAt: now, ModifiedAt: now}
	emp := &hrgate.Employee{ID: empID, CompanyID: id, CreatedAt: now, ModifiedAt: now,
		Identity: hrgate.Identity{FirstName: "Real", LastName: "Person"}}
	if err := e.store.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{real}, Employees: []*hrgate.Employee{emp}}); err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, e.payroll, "/v1/employees/"+empID); r.status != 404 {
		t.Fatalf("test key reads a non-sandbox employee: %d", r.status)
	}
	if r := e.get(t, e.payrollLive, "/v1/employees/"+empID); r.status != 200 {
		t.Fatalf("live key cannot read a granted real employee: %d", r.status)
	}
}

func (e *testEnv) testTransport(t *testing.T) {
	r := e.get(t, e.payroll, "/v1/employees?limit=1")
	for h, want := range map[string]string{
		"Strict-Transport-Security": "max-age=",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Content-Security-Policy":   "default-src 'none'",
		"Referrer-Policy":           "no-referrer",
		"Cache-Control":             "no-store",
		"Content-Type":              "application/json",
	} {
		if !strings.Contains(r.header.Get(h), want) {
			t.Errorf("%s = %q, want it to contain %q", h, r.header.Get(h), want)
		}
	}
	if s := r.header.Get("Server"); s != "" {
		t.Errorf("Server header %q reveals the software", s)
	}
	if id := r.header.Get("X-Request-Id"); !regexp.MustCompile(`^req_[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("X-Request-Id = %q, want req_ and 24 hex digits", id)
	}
	if again := e.get(t, e.payroll, "/v1/employees?limit=1"); again.header.Get("X-Request-Id") == r.header.Get("X-Request-Id") {
		t.Error("two requests got the same X-Request-Id")
	}
	for _, tc := range []struct {
		name   string
		mutate func(*tls.Config)
	}{
		{"TLS11", func(c *tls.Config) { c.MaxVersion = tls.VersionTLS11; c.MinVersion = tls.VersionTLS10 }},
		{"NoForwardSecrecy", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA}
		}},
		{"CBCOnly", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tlsClient(t, e.srv.CertFile, tc.mutate)
			resp, err := c.Get(e.srv.URL() + "/healthz")
			if err == nil {
				resp.Body.Close()
				t.Fatal("handshake succeeded, want refusal")
			}
		})
	}
	t.Run("TLS13Preferred", func(t *testing.T) {
		resp, err := e.client.Get(e.srv.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.TLS.Version != tls.VersionTLS13 {
			t.Fatalf("negotiated %x, want TLS 1.3", resp.TLS.Version)
		}
	})
}

func (e *testEnv) testPublic(t *testing.T) {
	for _, path := range []string{"/healthz", "/readyz", "/v1/openapi.json"} {
		if r := e.get(t, "", path); r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	ops := map[string]bool{}
	for _, op := range e.doc.Operations() {
		ops[op] = true
	}
	for _, route := range e.srv.Routes() {
		if !ops[route] {
			t.Errorf("route %s is not described in the OpenAPI document", route)
		}
	}
}

package oapitest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hrgate/hrgate/internal/oapitest"
)

// specPath is the published document, relative to this package.
const specPath = "../../http/openapi.json"

// MustReadSpec returns the bytes of the published document.
func MustReadSpec(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(specPath)
	if err != nil {
		tb.Fatalf("read %s: %v", specPath, err)
	}
	return b
}

// MustLoad parses the published document.
func MustLoad(tb testing.TB) *oapitest.Doc {
	tb.Helper()
	d, err := oapitest.Load(MustReadSpec(tb))
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return d
}

// MustDecodeSpec returns the published document as generic JSON.
func MustDecodeSpec(tb testing.TB) map[string]any {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(MustReadSpec(tb), &doc); err != nil {
		tb.Fatalf("%s is not valid JSON: %v", specPath, err)
	}
	return doc
}

func TestDocument_Header(t *testing.T) {
	doc := MustDecodeSpec(t)
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	if got := doc["jsonSchemaDialect"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("jsonSchemaDialect = %v", got)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] != "hrgate API" || info["version"] != "1.0.0" {
		t.Errorf("info = %v %v, want hrgate API 1.0.0", info["title"], info["version"])
	}
	sec := dig(t, doc, "components", "securitySchemes", "apiKey")
	if sec["type"] != "http" || sec["scheme"] != "bearer" || sec["bearerFormat"] != "hrg_live_… / hrg_test_… API key" {
		t.Errorf("securitySchemes.apiKey = %v", sec)
	}
	if got, _ := json.Marshal(doc["security"]); string(got) != `[{"apiKey":[]},{"oauth2":[]}]` {
		t.Errorf("global security = %s, want the API key or an OAuth access token", got)
	}
	flow := dig(t, doc, "components", "securitySchemes", "oauth2", "flows", "clientCredentials")
	if flow["tokenUrl"] != "/oauth2/token" {
		t.Errorf("oauth2 client credentials flow = %v", flow)
	}
	// The document must not tell an attacker what software serves it.
	raw := strings.ToLower(string(MustReadSpec(t)))
	for _, leak := range []string{"go1.", "golang", "net/http", "sqlite", "postgres", "jsonschema/v6", "x-powered-by"} {
		if strings.Contains(raw, leak) {
			t.Errorf("document mentions %q", leak)
		}
	}
}

func TestDocument_Routes(t *testing.T) {
	doc := MustDecodeSpec(t)
	public := map[string]bool{"/v1/openapi.json": true, "/healthz": true, "/readyz": true,
		"/.well-known/jwks.json": true, "/.well-known/oauth-authorization-server": true}
	// The OAuth endpoints authenticate clients, not API keys or tokens.
	clientAuth := map[string]bool{"/oauth2/token": true, "/oauth2/introspect": true, "/oauth2/revoke": true}
	// Inbound webhooks authenticate by the source's signature.
	signed := map[string]bool{"/v1/sources/{id}/events": true}
	ids := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, raw := range item.(map[string]any) {
			op := raw.(map[string]any)
			name := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s: operationId %q is missing or repeated", name, id)
			}
			ids[id] = true
			responses := op["responses"].(map[string]any)
			sec, hasSec := op["security"]
			switch {
			case public[path]:
				if got, _ := json.Marshal(sec); !hasSec || string(got) != "[]" {
					t.Errorf("%s: public route has security %s, want []", name, got)
				}
			case clientAuth[path]:
				if got, _ := json.Marshal(sec); string(got) != `[{},{"clientSecretBasic":[]}]` {
					t.Errorf("%s: OAuth endpoint has security %s, want client authentication", name, got)
				}
				for _, code := range []string{"200", "400", "401", "500"} {
					if _, ok := responses[code]; !ok {
						t.Errorf("%s: %s not documented", name, code)
					}
				}
			case signed[path]:
				if got, _ := json.Marshal(sec); string(got) != `[{"webhookSignature":[]}]` {
					t.Errorf("%s: signed route has security %s, want the webhook signature", name, got)
				}
				for _, code := range []string{"200", "400", "401", "413", "500"} {
					if _, ok := responses[code]; !ok {
						t.Errorf("%s: %s not documented", name, code)
					}
				}
			default:
				if hasSec {
					t.Errorf("%s: overrides the global security", name)
				}
				for _, code := range []string{"400", "401", "403", "500"} {
					if _, ok := responses[code]; !ok {
						t.Errorf("%s: %s not documented", name, code)
					}
				}
				_, ok200 := responses["200"]
				_, ok201 := responses["201"]
				if !ok200 && !ok201 {
					t.Errorf("%s: no success (200 or 201) documented", name)
				}
			}
			if strings.HasPrefix(path, "/v1/") {
				if _, ok := responses["406"]; !ok {
					t.Errorf("%s: 406 not documented", name)
				}
			}
			if strings.HasSuffix(path, "{id}") {
				if _, ok := responses["404"]; !ok {
					t.Errorf("%s: 404 not documented", name)
				}
			}
		}
	}
}

func TestDocument_RefsResolve(t *testing.T) {
	doc := MustDecodeSpec(t)
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/components/") || !resolves(doc, ref[1:]) {
					t.Errorf("%s: $ref %q does not resolve inside components", ptr, ref)
				}
			}
			for k, e := range v {
				walk(ptr+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", ptr, i), e)
			}
		}
	}
	walk("", doc)
}

func TestDocument_SchemasCompile(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(MustReadSpec(t)))
	if err != nil {
		t.Fatal(err)
	}
	const base = "urn:test:openapi.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(base, doc); err != nil {
		t.Fatal(err)
	}
	var ptrs []string
	for name := range dig(t, doc, "components", "schemas") {
		ptrs = append(ptrs, "/components/schemas/"+name)
	}
	for name, r := range dig(t, doc, "components", "responses") {
		for mt := range r.(map[string]any)["content"].(map[string]any) {
			ptrs = append(ptrs, "/components/responses/"+name+"/content/"+escape(mt)+"/schema")
		}
	}
	for path, item := range dig(t, doc, "paths") {
		for method, op := range item.(map[string]any) {
			for code, r := range op.(map[string]any)["responses"].(map[string]any) {
				content, _ := r.(map[string]any)["content"].(map[string]any)
				for mt := range content {
					ptrs = append(ptrs, fmt.Sprintf("/paths/%s/%s/responses/%s/content/%s/schema", escape(path), method, code, escape(mt)))
				}
			}
		}
	}
	if len(ptrs) < 30 {
		t.Fatalf("found only %d schemas", len(ptrs))
	}
	for _, ptr := range ptrs {
		if _, err := c.Compile(base + "#" + urlEscape(ptr)); err != nil {
			t.Errorf("%s: %v", ptr, err)
		}
	}
}

func TestDocument_ExamplesValidate(t *testing.T) {
	d := MustLoad(t)
	doc := MustDecodeSpec(t)
	for name, r := range dig(t, doc, "components", "responses") {
		for mt, m := range r.(map[string]any)["content"].(map[string]any) {
			ex, ok := m.(map[string]any)["example"]
			if !ok {
				continue
			}
			body, _ := json.Marshal(ex)
			// Every shared error response applies to the employee route.
			status := int(ex.(map[string]any)["status"].(float64))
			if err := d.ValidateResponse("GET", "/v1/employees/emp_01", status, mt, body); err != nil {
				t.Errorf("example of response %s: %v", name, err)
			}
		}
	}
	// The employee example is checked through the route that serves it.
	for _, ex := range dig(t, doc, "components", "schemas", "Employee")["examples"].([]any) {
		body, _ := json.Marshal(ex)
		if err := d.ValidateResponse("GET", "/v1/employees/emp_01", 200, jsonType, body); err != nil {
			t.Errorf("Employee example: %v", err)
		}
	}
}

func TestDoc_Operations(t *testing.T) {
	want := []string{
		"GET /.well-known/jwks.json",
		"GET /.well-known/oauth-authorization-server",
		"GET /healthz",
		"POST /oauth2/introspect",
		"POST /oauth2/revoke",
		"POST /oauth2/token",
		"GET /readyz",
		"GET /v1/audit/events",
		"GET /v1/companies",
		"GET /v1/companies/{id}",
		"GET /v1/employees",
		"GET /v1/employees/{id}",
		"GET /v1/locations",
		"GET /v1/openapi.json",
		"POST /v1/sources/{id}/events",
		"POST /v1/sources/{id}/imports",
		"GET /v1/sources/{id}/runs",
		"GET /v1/teams",
		"GET /v1/time-off",
		"GET /v1/time-off-balances",
	}
	if got := MustLoad(t).Operations(); !slices.Equal(got, want) {
		t.Errorf("Operations() =\n%q\nwant\n%q", got, want)
	}
}

// Samples of valid bodies.
const (
	fullEmployee = `{
		"id": "emp_01", "company_id": "com_01", "remote_id": "48213",
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z",
		"employee_number": "E-1042", "first_name": "Ada", "last_name": "Lovelace",
		"preferred_name": null, "work_email": "ada@acme.example",
		"job_title": "Engineer", "department": "Engineering", "manager_id": "emp_00",
		"work_location_id": "loc_01", "start_date": "2021-03-01", "termination_date": null,
		"employment_status": "active", "employment_type": "full_time",
		"personal_email": "ada@example.com", "phone": "+15555550100",
		"home_address": {"line1": "1 Main St", "line2": null, "city": "Springfield",
			"region": "IL", "postal_code": "62701", "country": "US"},
		"date_of_birth": "1990-03-14", "gender": "female", "marital_status": null,
		"compensation": {"pay_rate": 85000.00, "pay_period": "year",
			"pay_currency": "USD", "pay_frequency": "monthly"},
		"bank_account": {"bank_name": "First Bank", "account_holder": "Ada Lovelace",
			"iban": null, "account_number": "000123456789", "routing_number": "021000021"},
		"national_id": {"type": "ssn", "value": "123-45-6789"}
	}`
	identityEmployee = `{
		"id": "emp_01", "company_id": "com_01", "remote_id": null,
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z",
		"employee_number": null, "first_name": "Ada", "last_name": "Lovelace",
		"preferred_name": null, "work_email": "ada@acme.example"
	}`
	maskedEmployee = `{
		"id": "emp_01", "company_id": "com_01", "remote_id": "48213",
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z",
		"date_of_birth": "****", "gender": "****", "marital_status": null,
		"home_address": null,
		"compensation": {"pay_rate": "****", "pay_period": "****",
			"pay_currency": "****", "pay_frequency": "****"},
		"bank_account": {"bank_name": "****", "account_holder": "****",
			"iban": null, "account_number": "********6789", "routing_number": "*****0021"},
		"national_id": {"type": "***", "value": "***-**-6789"},
		"employment_status": "******"
	}`
	company = `{"id": "com_01", "slug": "acme", "name": "Acme", "country": null,
		"sandbox": true, "remote_id": null,
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z"}`
	timeOff = `{"id": "tor_01", "company_id": "com_01", "employee_id": "emp_01",
		"remote_id": null, "type": "vacation", "status": "approved",
		"start_date": "2024-07-01", "end_date": "2024-07-05", "amount": 5, "units": "days",
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z"}`
	balance = `{"id": "tob_01", "company_id": "com_01", "employee_id": "emp_01",
		"remote_id": "7", "policy_type": "sick", "balance": 12.5, "used": null, "units": "hours",
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z"}`
	team = `{"id": "tea_01", "company_id": "com_01", "remote_id": null, "name": "Engineering",
		"type": "department", "parent_id": null,
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z"}`
	location = `{"id": "loc_01", "company_id": "com_01", "remote_id": null, "name": "Remote",
		"type": "remote", "address": null,
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z"}`
	locationWithAddress = `{"id": "loc_02", "company_id": "com_01", "remote_id": "b",
		"name": "Berlin", "type": "office",
		"address": {"line1": "Str. 1", "line2": null, "city": "Berlin", "region": null,
			"postal_code": "10115", "country": "DE"},
		"created_at": "2024-01-15T09:30:00Z", "modified_at": "2024-06-01T12:00:00Z"}`
)

// problem returns a problem document for status.
func problem(code string, status int) string {
	return fmt.Sprintf(`{"type": "urn:hrgate:problem:%s", "title": %q, "status": %d,
		"detail": "Something.", "request_id": "req_01"}`, code, http.StatusText(status), status)
}

// page returns a list envelope of items.
func page(cursor string, items ...string) string {
	next := "null"
	if cursor != "" {
		next = fmt.Sprintf("%q", cursor)
	}
	return fmt.Sprintf(`{"data": [%s], "next_cursor": %s}`, strings.Join(items, ","), next)
}

const (
	jsonType    = "application/json"
	problemType = "application/problem+json"
)

func TestDoc_ValidateResponse(t *testing.T) {
	d := MustLoad(t)
	spec := string(MustReadSpec(t))
	for _, tt := range []struct {
		name, path  string
		status      int
		contentType string
		body        string
	}{
		{"FullEmployee", "/v1/employees/emp_01", 200, jsonType, fullEmployee},
		{"IdentityOnlyEmployee", "/v1/employees/emp_01", 200, jsonType, identityEmployee},
		{"MaskedEmployee", "/v1/employees/emp_01", 200, jsonType, maskedEmployee},
		{"CharsetParameter", "/v1/employees/emp_01", 200, "application/json; charset=utf-8", identityEmployee},
		{"EmployeeList", "/v1/employees", 200, jsonType, page("c2", fullEmployee, identityEmployee, maskedEmployee)},
		{"EmptyEmployeeList", "/v1/employees", 200, jsonType, page("")},
		{"CompanyList", "/v1/companies", 200, jsonType, page("", company)},
		{"CompanyBySlug", "/v1/companies/acme", 200, jsonType, company},
		{"TimeOffList", "/v1/time-off", 200, jsonType, page("x", timeOff)},
		{"BalanceList", "/v1/time-off-balances", 200, jsonType, page("", balance)},
		{"TeamList", "/v1/teams", 200, jsonType, page("", team)},
		{"LocationList", "/v1/locations", 200, jsonType, page("", location, locationWithAddress)},
		{"NotFound", "/v1/employees/emp_99", 404, problemType, problem("not_found", 404)},
		{"CompanyNotFound", "/v1/companies/globex", 404, problemType, problem("not_found", 404)},
		{"Unauthorized", "/v1/employees", 401, problemType, problem("unauthorized", 401)},
		{"Forbidden", "/v1/time-off", 403, problemType, problem("forbidden", 403)},
		{"BadRequest", "/v1/teams", 400, problemType, problem("invalid", 400)},
		{"NotAcceptable", "/v1/openapi.json", 406, problemType, problem("not_acceptable", 406)},
		{"InternalError", "/v1/locations", 500, problemType, problem("internal", 500)},
		{"OpenAPI", "/v1/openapi.json", 200, jsonType, spec},
		{"Healthz", "/healthz", 200, jsonType, `{"status": "ok"}`},
		{"Ready", "/readyz", 200, jsonType, `{"status": "ready"}`},
		{"NotReady", "/readyz", 503, problemType, problem("unavailable", 503)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.ValidateResponse("GET", tt.path, tt.status, tt.contentType, []byte(tt.body)); err != nil {
				t.Errorf("ValidateResponse: %v", err)
			}
		})
	}
}

func TestDoc_ValidateResponse_Rejects(t *testing.T) {
	d := MustLoad(t)
	for _, tt := range []struct {
		name, method, path string
		status             int
		contentType, body  string
		want               []string // substrings of the error
	}{
		{"ErrUnknownField", "GET", "/v1/employees/emp_01", 200, jsonType,
			strings.Replace(identityEmployee, `"id"`, `"salary": 1, "id"`, 1),
			[]string{"at /:", "'salary'"}},
		{"ErrMissingID", "GET", "/v1/employees/emp_01", 200, jsonType,
			strings.Replace(identityEmployee, `"id": "emp_01",`, "", 1),
			[]string{"at /:", "'id'"}},
		{"ErrWrongType", "GET", "/v1/employees/emp_01", 200, jsonType,
			strings.Replace(identityEmployee, `"first_name": "Ada"`, `"first_name": 7`, 1),
			[]string{"at /first_name:", "number"}},
		{"ErrWrongTypeInList", "GET", "/v1/employees", 200, jsonType,
			page("", identityEmployee, strings.Replace(fullEmployee, `"pay_rate": 85000.00`, `"pay_rate": true`, 1)),
			[]string{"at /data/1/compensation/pay_rate:", "boolean"}},
		{"ErrAddressNotObject", "GET", "/v1/employees/emp_01", 200, jsonType,
			strings.Replace(maskedEmployee, `"home_address": null`, `"home_address": "****"`, 1),
			[]string{"at /home_address:"}},
		{"ErrNullNextCursorMissing", "GET", "/v1/teams", 200, jsonType, `{"data": []}`,
			[]string{"'next_cursor'"}},
		{"ErrProblemExtraField", "GET", "/v1/employees/emp_01", 404, problemType,
			strings.Replace(problem("not_found", 404), `"type"`, `"stack": "main.go:1", "type"`, 1),
			[]string{"'stack'"}},
		{"ErrUndocumentedStatus", "GET", "/v1/employees/emp_01", 418, jsonType, `{}`,
			[]string{"status 418 not documented for GET /v1/employees/emp_01"}},
		{"ErrNotFoundOnList", "GET", "/v1/employees", 404, problemType, problem("not_found", 404),
			[]string{"status 404 not documented"}},
		{"ErrUndocumentedContentType", "GET", "/v1/employees/emp_01", 200, "text/html; charset=utf-8", identityEmployee,
			[]string{`content type "text/html" not documented`}},
		{"ErrProblemAsJSON", "GET", "/v1/employees/emp_01", 404, jsonType, problem("not_found", 404),
			[]string{`content type "application/json" not documented`, "application/problem+json"}},
		{"ErrNoContentType", "GET", "/v1/employees/emp_01", 200, "", identityEmployee,
			[]string{"no Content-Type"}},
		{"ErrPathNotInDoc", "GET", "/v1/payroll-runs", 200, jsonType, `{}`,
			[]string{"/v1/payroll-runs", "no path"}},
		{"ErrEmptyParameter", "GET", "/v1/employees/", 200, jsonType, identityEmployee,
			[]string{"no path"}},
		{"ErrExtraSegment", "GET", "/v1/employees/emp_01/x", 200, jsonType, identityEmployee,
			[]string{"no path"}},
		{"ErrMethodNotInDoc", "POST", "/v1/employees", 200, jsonType, page(""),
			[]string{"no POST operation"}},
		{"ErrInvalidJSON", "GET", "/v1/employees/emp_01", 200, jsonType, `{"id": "emp_01",`,
			[]string{"not valid JSON"}},
		{"ErrTrailingData", "GET", "/healthz", 200, jsonType, `{"status": "ok"} {}`,
			[]string{"not valid JSON"}},
		{"ErrEmptyBody", "GET", "/healthz", 200, jsonType, ``,
			[]string{"not valid JSON"}},
		{"ErrHealthzStatus", "GET", "/healthz", 200, jsonType, `{"status": "down"}`,
			[]string{"at /status:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := d.ValidateResponse(tt.method, tt.path, tt.status, tt.contentType, []byte(tt.body))
			if err == nil {
				t.Fatal("ValidateResponse accepted the response")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestDoc_Validate(t *testing.T) {
	d := MustLoad(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/employees/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "emp_01" {
			w.Header().Set("Content-Type", problemType)
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(problem("not_found", 404)))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(identityEmployee))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		return resp, oapitest.ReadBody(t, resp)
	}

	t.Run("OK", func(t *testing.T) {
		for _, path := range []string{"/v1/employees/emp_01", "/v1/employees/emp_99"} {
			resp, body := get(path)
			rec := &recorder{TB: t}
			d.Validate(rec, resp, body)
			if len(rec.errs) != 0 {
				t.Errorf("GET %s: %v", path, rec.errs)
			}
		}
	})
	t.Run("ErrContentType", func(t *testing.T) {
		resp, body := get("/healthz")
		rec := &recorder{TB: t}
		d.Validate(rec, resp, body)
		if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], `"text/plain" not documented`) {
			t.Errorf("errors = %q, want one about text/plain", rec.errs)
		}
	})
	t.Run("ErrNoRequest", func(t *testing.T) {
		rec := &recorder{TB: t}
		d.Validate(rec, &http.Response{StatusCode: 200}, nil)
		if len(rec.errs) != 1 {
			t.Errorf("errors = %q, want one", rec.errs)
		}
	})
}

func TestDoc_ValidateResponse_Concurrent(t *testing.T) {
	d := MustLoad(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body, path := fullEmployee, "/v1/employees/emp_01"
			if i%2 == 1 {
				body, path = page("", company), "/v1/companies"
			}
			if err := d.ValidateResponse("GET", path, 200, jsonType, []byte(body)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// miniSpec exercises matching rules that the published document does not.
const miniSpec = `{
	"openapi": "3.1.0",
	"info": {"title": "t", "version": "1"},
	"paths": {
		"/things/{id}": {"get": {"responses": {
			"200": {"description": "any", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
			"4XX": {"description": "client error", "content": {"application/json": {"schema": {"const": "client"}}}},
			"default": {"description": "other", "content": {"application/json": {"schema": {"const": "other"}}}}
		}}},
		"/things/special": {"get": {"responses": {
			"200": {"description": "special", "content": {"application/json": {"schema": {"const": "special"}}}},
			"204": {"description": "nothing"}
		}}},
		"/files/{name}.json": {"$ref": "#/components/pathItems/File"}
	},
	"components": {
		"schemas": {"Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}},
		"pathItems": {"File": {"get": {"responses": {
			"200": {"description": "file", "content": {"application/*": {}}}
		}}}}
	}
}`

func TestDoc_ValidateResponse_Matching(t *testing.T) {
	d, err := oapitest.Load([]byte(miniSpec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path  string
		status      int
		contentType string
		body        string
		ok          bool
	}{
		{"LiteralBeatsTemplate", "/things/special", 200, jsonType, `"special"`, true},
		{"TemplateElsewhere", "/things/t1", 200, jsonType, `{"id": "t1"}`, true},
		{"ErrTemplateBodyOnLiteral", "/things/special", 200, jsonType, `{"id": "t1"}`, false},
		{"StatusRange", "/things/t1", 404, jsonType, `"client"`, true},
		{"Default", "/things/t1", 503, jsonType, `"other"`, true},
		{"ErrRangeBeforeDefault", "/things/t1", 404, jsonType, `"other"`, false},
		{"NoBody", "/things/special", 204, "", ``, true},
		{"ErrBodyWhereNoneDocumented", "/things/special", 204, jsonType, `{}`, false},
		{"ErrStatusWithoutDefault", "/things/special", 500, jsonType, `{}`, false},
		{"PartialSegmentAndWildcard", "/files/report.json", 200, "application/pdf", `%PDF`, true},
		{"ErrPartialSegmentSuffix", "/files/report.csv", 200, "application/pdf", `%PDF`, false},
		{"ErrPartialSegmentEmpty", "/files/.json", 200, "application/pdf", `%PDF`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := d.ValidateResponse("GET", tt.path, tt.status, tt.contentType, []byte(tt.body))
			if tt.ok && err != nil {
				t.Errorf("ValidateResponse: %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("ValidateResponse accepted the response")
			}
		})
	}
}

func TestLoad_Errors(t *testing.T) {
	for _, tt := range []struct{ name, spec, want string }{
		{"ErrNotJSON", `{"openapi": `, "not valid JSON"},
		{"ErrNotObject", `[]`, "not a JSON object"},
		{"ErrOpenAPI30", `{"openapi": "3.0.3", "paths": {}}`, "not 3.1"},
		{"ErrDialect", `{"openapi": "3.1.0", "jsonSchemaDialect": "http://json-schema.org/draft-07/schema#", "paths": {}}`, "jsonSchemaDialect"},
		{"ErrExternalResponseRef", `{"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": "other.json#/x"}}}}}}`, "leaves the document"},
		{"ErrDanglingResponseRef", `{"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/X"}}}}}}`, "does not resolve"},
		{"ErrBadTemplate", `{"openapi": "3.1.0", "paths": {"/a/{": {"get": {"responses": {}}}}}`, "malformed parameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oapitest.Load([]byte(tt.spec))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDoc_ValidateResponse_ExternalSchemaRef(t *testing.T) {
	d, err := oapitest.Load([]byte(`{"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {
		"200": {"description": "x", "content": {"application/json": {"schema": {"$ref": "file:///etc/passwd"}}}}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	err = d.ValidateResponse("GET", "/a", 200, jsonType, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "does not compile") {
		t.Errorf("error = %v, want a compile error", err)
	}
}

func BenchmarkValidateResponse(b *testing.B) {
	d := MustLoad(b)
	body := []byte(page("", fullEmployee, identityEmployee, maskedEmployee))
	for b.Loop() {
		if err := d.ValidateResponse("GET", "/v1/employees", 200, jsonType, body); err != nil {
			b.Fatal(err)
		}
	}
}

// dig returns the object at the keys inside doc.
func dig(tb testing.TB, doc any, keys ...string) map[string]any {
	tb.Helper()
	for _, k := range keys {
		m, ok := doc.(map[string]any)
		if !ok {
			tb.Fatalf("no object at %v", keys)
		}
		doc = m[k]
	}
	m, ok := doc.(map[string]any)
	if !ok {
		tb.Fatalf("no object at %v", keys)
	}
	return m
}

// resolves reports whether the JSON pointer ptr names a value in doc.
func resolves(doc any, ptr string) bool {
	for _, tok := range strings.Split(ptr, "/")[1:] {
		m, ok := doc.(map[string]any)
		if !ok {
			return false
		}
		if doc, ok = m[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]; !ok {
			return false
		}
	}
	return true
}

// escape turns a key into a JSON pointer token.
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// urlEscape makes a JSON pointer safe to use as a URL fragment.
func urlEscape(ptr string) string {
	return strings.NewReplacer("{", "%7B", "}", "%7D").Replace(ptr)
}

package grant_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

var envelopeKeys = []string{"id", "company_id", "remote_id", "created_at", "modified_at"}

// groupKeys are the top-level keys of each field group, per BRIEF.md.
var groupKeys = map[hrgate.FieldGroup][]string{
	hrgate.GroupIdentity:     {"employee_number", "first_name", "last_name", "preferred_name", "work_email"},
	hrgate.GroupEmployment:   {"job_title", "department", "manager_id", "work_location_id", "start_date", "termination_date", "employment_status", "employment_type"},
	hrgate.GroupContact:      {"personal_email", "phone", "home_address"},
	hrgate.GroupPersonal:     {"date_of_birth", "gender", "marital_status"},
	hrgate.GroupCompensation: {"compensation"},
	hrgate.GroupBanking:      {"bank_account"},
	hrgate.GroupGovernmentID: {"national_id"},
}

// groupSecrets are values of fullEmployee that only their group may reveal.
var groupSecrets = map[hrgate.FieldGroup][]string{
	hrgate.GroupIdentity:     {"E-1001", "Jane", "jane.doe@acme.example"},
	hrgate.GroupEmployment:   {"Payroll Specialist", "Finance", "2019-04-01", "full_time"},
	hrgate.GroupContact:      {"jane@home.example", "5550199", "Hauptstrasse", "10115"},
	hrgate.GroupPersonal:     {"1990-05-17", "female", "married"},
	hrgate.GroupCompensation: {"85000", "EUR", "monthly"},
	hrgate.GroupBanking:      {"Commerzbank", "DE89370400440532013000", "0532013000", "37040044"},
	hrgate.GroupGovernmentID: {"987-65-4329", "ssn", "4329"},
}

func TestAppendEmployee_IdentityOnly(t *testing.T) {
	g := grant.MustParse("employees:read:identity")
	out := grant.AppendEmployee(nil, fullEmployee(), g)
	want := `{"id":"emp_0123456789abcdefghjkmnpqrs","company_id":"com_0123456789abcdefghjkmnpqrs",` +
		`"remote_id":"remote-42","created_at":"2024-03-01T09:30:00.123Z","modified_at":"2025-01-02T02:04:05.006Z",` +
		`"employee_number":"E-1001","first_name":"Jane","last_name":"Doe","preferred_name":"Janie",` +
		`"work_email":"jane.doe@acme.example"}`
	if string(out) != want {
		t.Errorf("got\n  %s\nwant\n  %s", out, want)
	}
	m := decode(t, out)
	wantKeys := slices.Sorted(slices.Values(append(slices.Clone(envelopeKeys), groupKeys[hrgate.GroupIdentity]...)))
	if got := keys(m); !slices.Equal(got, wantKeys) {
		t.Errorf("keys = %q, want %q", got, wantKeys)
	}
	for _, k := range []string{"compensation", "bank_account", "national_id", "home_address", "date_of_birth", "job_title"} {
		if _, ok := m[k]; ok {
			t.Errorf("key %q present outside the grant", k)
		}
	}
}

func TestAppendEmployee_EachGroup(t *testing.T) {
	for _, fg := range hrgate.FieldGroups() {
		t.Run(fg.String(), func(t *testing.T) {
			g := grant.MustParse("employees:read:" + fg.String())
			out := grant.AppendEmployee(nil, fullEmployee(), g)
			wantKeys := slices.Sorted(slices.Values(append(slices.Clone(envelopeKeys), groupKeys[fg]...)))
			if got := keys(decode(t, out)); !slices.Equal(got, wantKeys) {
				t.Errorf("keys = %q, want %q", got, wantKeys)
			}
			// The right caller gets the values, and no other group's
			// value leaks, not even inside another field.
			for other, secrets := range groupSecrets {
				for _, s := range secrets {
					if got := bytes.Contains(out, []byte(s)); got != (other == fg) {
						t.Errorf("value %q of group %v present = %v", s, other, got)
					}
				}
			}
		})
	}
}

func TestAppendEmployee_Masked(t *testing.T) {
	e := fullEmployee()
	tests := []struct {
		name   string
		scopes string
		path   []string
		want   any
	}{
		{"IBAN", "employees:read_masked:banking", []string{"bank_account", "iban"}, "******************3000"},
		{"AccountHolder", "employees:read_masked:banking", []string{"bank_account", "account_holder"}, "****"},
		{"AccountNumber", "employees:read_masked:banking", []string{"bank_account", "account_number"}, "******3000"},
		{"RoutingNumber", "employees:read_masked:banking", []string{"bank_account", "routing_number"}, "****0044"},
		{"NationalIDValue", "employees:read_masked:government_id", []string{"national_id", "value"}, "***-**-4329"},
		{"NationalIDTypeKept", "employees:read_masked:government_id", []string{"national_id", "type"}, "ssn"},
		{"PayRate", "employees:read_masked:compensation", []string{"compensation", "pay_rate"}, "****"},
		{"PayCurrencyKept", "employees:read_masked:compensation", []string{"compensation", "pay_currency"}, "EUR"},
		{"PayPeriodKept", "employees:read_masked:compensation", []string{"compensation", "pay_period"}, "year"},
		{"PayFrequencyKept", "employees:read_masked:compensation", []string{"compensation", "pay_frequency"}, "monthly"},
		{"FirstName", "employees:read_masked:identity", []string{"first_name"}, "****"},
		{"WorkEmail", "employees:read_masked:identity", []string{"work_email"}, "****.***@****.***mple"},
		{"EmploymentStatusMasked", "employees:read_masked:employment", []string{"employment_status"}, "****"},
		{"DateOfBirth", "employees:read_masked:personal", []string{"date_of_birth"}, "****"},
		{"Gender", "employees:read_masked:personal", []string{"gender"}, "****"},
		{"HomeAddressCity", "employees:read_masked:contact", []string{"home_address", "city"}, "****"},
		{"HomeAddressLine1", "employees:read_masked:contact", []string{"home_address", "line1"}, "*********sse 1"},
		{"Phone", "employees:read_masked:contact", []string{"phone"}, "+** ** ***0199"},
		{"ReadWins", "employees:read_masked:banking employees:read:banking", []string{"bank_account", "iban"}, "DE89370400440532013000"},
		{"OtherGroupClear", "employees:read_masked:banking employees:read:identity", []string{"first_name"}, "Jane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := grant.AppendEmployee(nil, e, grant.MustParse(tt.scopes))
			var v any = decode(t, out)
			for _, k := range tt.path {
				obj, ok := v.(map[string]any)
				if !ok {
					t.Fatalf("%s: not an object at %q", out, k)
				}
				if v, ok = obj[k]; !ok {
					t.Fatalf("%s: no %q", out, k)
				}
			}
			if v != tt.want {
				t.Errorf("%s = %#v, want %#v", strings.Join(tt.path, "."), v, tt.want)
			}
		})
	}

	t.Run("NoSecretLeaks", func(t *testing.T) {
		all := "employees:read_masked:identity,employment,contact,personal,compensation,banking,government_id"
		out := grant.AppendEmployee(nil, e, grant.MustParse(all))
		decode(t, out)
		for _, s := range []string{"Jane", "Doe", "E-1001", "85000", "DE89370400440532013000", "0532013000",
			"987-65-4329", "987", "1990", "05-17", "Commerzbank", "Berlin", "10115", "Hauptstrasse", "female", "married", "Payroll",
			`ated"`, `ried"`} {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("masked output contains %q: %s", s, out)
			}
		}
	})
	t.Run("NullStaysNull", func(t *testing.T) {
		e := fullEmployee()
		e.Banking.IBAN = ""
		e.Compensation = hrgate.Compensation{PayCurrency: "EUR"}
		e.GovernmentID = hrgate.NationalID{}
		m := decode(t, grant.AppendEmployee(nil, e, grant.MustParse("employees:read_masked:banking,compensation,government_id")))
		if v, ok := m["bank_account"].(map[string]any)["iban"]; !ok || v != nil {
			t.Errorf("masked empty iban = %#v, want null", v)
		}
		if v, ok := m["compensation"].(map[string]any)["pay_rate"]; !ok || v != nil {
			t.Errorf("masked empty pay_rate = %#v, want null", v)
		}
		if v, ok := m["national_id"]; !ok || v != nil {
			t.Errorf("masked zero national_id = %#v, want null", v)
		}
	})
}

func TestAppendEmployee_Nulls(t *testing.T) {
	e := &hrgate.Employee{ID: "emp_0123456789abcdefghjkmnpqrs", Loaded: hrgate.AllGroups}
	out := grant.AppendEmployee(nil, e, grant.MustParse(fullScopes))
	m := decode(t, out)
	for _, f := range grant.Fields("employee") {
		if strings.Contains(f.Name, ".") {
			continue
		}
		v, ok := m[f.Name]
		if !ok {
			t.Errorf("granted key %q absent", f.Name)
			continue
		}
		if f.Name != "id" && v != nil {
			t.Errorf("%q = %#v, want null", f.Name, v)
		}
	}

	t.Run("InnerFieldsNull", func(t *testing.T) {
		e := &hrgate.Employee{Loaded: hrgate.AllGroups}
		e.Contact.HomeAddress.City = "Berlin"
		e.Compensation.PayRate = "1.5"
		e.GovernmentID.Value = "AB123456C"
		got := string(grant.AppendEmployee(nil, e, grant.MustParse("employees:read:contact,compensation,government_id")))
		for _, want := range []string{
			`"home_address":{"line1":null,"line2":null,"city":"Berlin","region":null,"postal_code":null,"country":null}`,
			`"compensation":{"pay_rate":1.5,"pay_period":null,"pay_currency":null,"pay_frequency":null}`,
			`"national_id":{"type":null,"value":"AB123456C"}`,
			`"id":null,"company_id":null,"remote_id":null,"created_at":null,"modified_at":null`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s\ndoes not contain\n%s", got, want)
			}
		}
	})
}

func TestAppendEmployee_GrantEdges(t *testing.T) {
	tests := []struct {
		name   string
		g      *grant.Grant
		loaded hrgate.GroupSet
		want   []string // top-level keys besides the envelope
	}{
		{"NilGrant", nil, hrgate.AllGroups, nil},
		{"EmptyGrant", grant.MustParse(), hrgate.AllGroups, nil},
		{"CompanyLessGrant", grant.MustParse("employees:read:personal"), hrgate.AllGroups, groupKeys[hrgate.GroupPersonal]},
		{"CompaniesDoNotMatter", grant.MustParse("employees:read:personal companies:globex"), hrgate.AllGroups, groupKeys[hrgate.GroupPersonal]},
		{"WriteOnlyLetsNothingOut", grant.MustParse("employees:write:identity,banking"), hrgate.AllGroups, nil},
		{"OtherResourcesLetNothingOut", grant.MustParse("time_off:read teams:read audit:read companies:*"), hrgate.AllGroups, nil},
		{"UnloadedGroupAbsent", grant.MustParse("employees:read:identity,banking"), hrgate.GroupsOf(hrgate.GroupIdentity), groupKeys[hrgate.GroupIdentity]},
		{"NothingLoaded", grant.MustParse(fullScopes), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fullEmployee()
			e.Loaded = tt.loaded
			out := grant.AppendEmployee(nil, e, tt.g)
			wantKeys := slices.Sorted(slices.Values(append(slices.Clone(envelopeKeys), tt.want...)))
			if got := keys(decode(t, out)); !slices.Equal(got, wantKeys) {
				t.Errorf("keys = %q, want %q", got, wantKeys)
			}
		})
	}
	t.Run("NilEmployee", func(t *testing.T) {
		if got := string(grant.AppendEmployee([]byte("["), nil, grant.MustParse(fullScopes))); got != "[null" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("AppendsToDst", func(t *testing.T) {
		out := grant.AppendEmployee([]byte(`{"data":`), fullEmployee(), grant.MustParse("employees:read:identity"))
		out = append(out, '}')
		decode(t, out)
	})
}

func TestAppendEmployee_Decimals(t *testing.T) {
	tests := []struct {
		in   string
		want string // raw JSON
	}{
		{"85000.00", "85000.00"},
		{"0", "0"},
		{"0.5", "0.5"},
		{"-12.25", "-12.25"},
		{"", "null"},
		{"01", "null"},
		{"1.", "null"},
		{".5", "null"},
		{"-", "null"},
		{"+1", "null"},
		{"1e5", "null"},
		{"NaN", "null"},
		{"1,000.00", "null"},
		{" 1", "null"},
		{"1\x00", "null"},
		{`1,"x":2`, "null"},
		{strings.Repeat("9", 40), strings.Repeat("9", 40)},
		{strings.Repeat("9", 41), "null"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e := &hrgate.Employee{Loaded: hrgate.AllGroups, Compensation: hrgate.Compensation{PayRate: tt.in, PayCurrency: "EUR"}}
			out := grant.AppendEmployee(nil, e, grant.MustParse("employees:read:compensation"))
			decode(t, out)
			if want := `"pay_rate":` + tt.want + `,`; !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s does not contain %s", out, want)
			}
		})
	}
}

func TestAppendEmployee_Times(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"Zero", time.Time{}, `null`},
		{"UTC", time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), `"2024-02-29T23:59:59.999Z"`},
		{"Offset", time.Date(2024, 1, 1, 0, 30, 0, 0, time.FixedZone("X", -2*3600)), `"2024-01-01T02:30:00.000Z"`},
		{"Year1", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), `"0001-01-01T00:00:00.000Z"`},
		{"Year9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), `"9999-12-31T23:59:59.000Z"`},
		{"Year10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `null`},
		{"NegativeYear", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := grant.AppendEmployee(nil, &hrgate.Employee{CreatedAt: tt.in}, nil)
			decode(t, out)
			if want := `"created_at":` + tt.want + `,`; !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s does not contain %s", out, want)
			}
			if !tt.in.IsZero() && tt.want != "null" {
				parsed, err := time.Parse(time.RFC3339Nano, strings.Trim(tt.want, `"`))
				if err != nil || !parsed.Equal(tt.in.Truncate(time.Millisecond)) {
					t.Errorf("%s does not parse back to %v: %v", tt.want, tt.in, err)
				}
			}
		})
	}
}

func TestAppendObjects(t *testing.T) {
	addr := hrgate.Address{Line1: "1 Main St", City: "Springfield", Country: "US"}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"Company", grant.AppendCompany(nil, &hrgate.Company{ID: "com_1", Slug: "acme", Name: "Acme & Co", Country: "US",
			Sandbox: true, SourceID: "src_secret", CreatedAt: created}),
			`{"id":"com_1","slug":"acme","name":"Acme \u0026 Co","country":"US","sandbox":true,"remote_id":null,` +
				`"created_at":"2024-03-01T09:30:00.123Z","modified_at":null}`},
		{"CompanyNotSandbox", grant.AppendCompany(nil, &hrgate.Company{ID: "com_1"}),
			`{"id":"com_1","slug":null,"name":null,"country":null,"sandbox":false,"remote_id":null,"created_at":null,"modified_at":null}`},
		{"TimeOffRequest", grant.AppendTimeOffRequest(nil, &hrgate.TimeOffRequest{ID: "tor_1", CompanyID: "com_1", EmployeeID: "emp_1",
			RemoteID: "r1", Type: "vacation", Status: "approved", StartDate: "2025-07-01", EndDate: "2025-07-14", Amount: "10", Units: "days",
			CreatedAt: created, ModifiedAt: created}),
			`{"id":"tor_1","company_id":"com_1","employee_id":"emp_1","remote_id":"r1","type":"vacation","status":"approved",` +
				`"start_date":"2025-07-01","end_date":"2025-07-14","amount":10,"units":"days",` +
				`"created_at":"2024-03-01T09:30:00.123Z","modified_at":"2024-03-01T09:30:00.123Z"}`},
		{"TimeOffRequestBadAmount", grant.AppendTimeOffRequest(nil, &hrgate.TimeOffRequest{ID: "tor_1", Amount: "ten"}),
			`{"id":"tor_1","company_id":null,"employee_id":null,"remote_id":null,"type":null,"status":null,` +
				`"start_date":null,"end_date":null,"amount":null,"units":null,"created_at":null,"modified_at":null}`},
		{"TimeOffBalance", grant.AppendTimeOffBalance(nil, &hrgate.TimeOffBalance{ID: "tob_1", CompanyID: "com_1", EmployeeID: "emp_1",
			PolicyType: "sick", Balance: "12.5", Used: "-0.5", Units: "hours"}),
			`{"id":"tob_1","company_id":"com_1","employee_id":"emp_1","remote_id":null,"policy_type":"sick",` +
				`"balance":12.5,"used":-0.5,"units":"hours","created_at":null,"modified_at":null}`},
		{"Team", grant.AppendTeam(nil, &hrgate.Team{ID: "tea_1", CompanyID: "com_1", Name: "Payroll", Type: "team", ParentID: "tea_0"}),
			`{"id":"tea_1","company_id":"com_1","remote_id":null,"name":"Payroll","type":"team","parent_id":"tea_0",` +
				`"created_at":null,"modified_at":null}`},
		{"Location", grant.AppendLocation(nil, &hrgate.Location{ID: "loc_1", CompanyID: "com_1", Name: "HQ", Type: "office", Address: addr}),
			`{"id":"loc_1","company_id":"com_1","remote_id":null,"name":"HQ","type":"office",` +
				`"address":{"line1":"1 Main St","line2":null,"city":"Springfield","region":null,"postal_code":null,"country":"US"},` +
				`"created_at":null,"modified_at":null}`},
		{"LocationNoAddress", grant.AppendLocation(nil, &hrgate.Location{ID: "loc_1", Type: "remote"}),
			`{"id":"loc_1","company_id":null,"remote_id":null,"name":null,"type":"remote","address":null,"created_at":null,"modified_at":null}`},
		{"NilCompany", grant.AppendCompany(nil, nil), `null`},
		{"NilTimeOffRequest", grant.AppendTimeOffRequest(nil, nil), `null`},
		{"NilTimeOffBalance", grant.AppendTimeOffBalance(nil, nil), `null`},
		{"NilTeam", grant.AppendTeam(nil, nil), `null`},
		{"NilLocation", grant.AppendLocation(nil, nil), `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got\n  %s\nwant\n  %s", tt.got, tt.want)
			}
		})
	}
}

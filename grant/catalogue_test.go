package grant_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

// TestCatalogue_MatchesProjection proves that the catalogue and the
// projection cannot drift: with everything set and granted, the keys each
// Append function writes are exactly Fields(object), in the same order.
func TestCatalogue_MatchesProjection(t *testing.T) {
	addr := hrgate.Address{Line1: "a", Line2: "b", City: "c", Region: "d", PostalCode: "e", Country: "f"}
	tests := []struct {
		object string
		out    []byte
	}{
		{"employee", grant.AppendEmployee(nil, fullEmployee(), grant.MustParse(fullScopes))},
		{"company", grant.AppendCompany(nil, &hrgate.Company{ID: "x"})},
		{"time_off_request", grant.AppendTimeOffRequest(nil, &hrgate.TimeOffRequest{ID: "x"})},
		{"time_off_balance", grant.AppendTimeOffBalance(nil, &hrgate.TimeOffBalance{ID: "x"})},
		{"team", grant.AppendTeam(nil, &hrgate.Team{ID: "x"})},
		{"location", grant.AppendLocation(nil, &hrgate.Location{ID: "x", Address: addr})},
	}
	var seen []string
	for _, tt := range tests {
		t.Run(tt.object, func(t *testing.T) {
			seen = append(seen, tt.object)
			var want []string
			for _, f := range grant.Fields(tt.object) {
				want = append(want, f.Name)
			}
			if got := paths(t, tt.out); !slices.Equal(got, want) {
				t.Errorf("projection writes\n  %q\ncatalogue lists\n  %q", got, want)
			}
		})
	}
	if !slices.Equal(seen, grant.Objects()) {
		t.Errorf("Objects() = %q, tested %q", grant.Objects(), seen)
	}
}

func TestFields_Employee(t *testing.T) {
	fields := grant.Fields("employee")
	byName := map[string]grant.Field{}
	for _, f := range fields {
		if _, dup := byName[f.Name]; dup {
			t.Errorf("field %q declared twice", f.Name)
		}
		byName[f.Name] = f
		if f.Object != "employee" {
			t.Errorf("%s: Object = %q", f.Name, f.Object)
		}
		if !f.Always && f.Sensitivity != f.Group.Sensitivity() {
			t.Errorf("%s: Sensitivity = %v, group %v is %v", f.Name, f.Sensitivity, f.Group, f.Group.Sensitivity())
		}
		if (f.Type == "enum") != (len(f.Enum) > 0) {
			t.Errorf("%s: Type %q with Enum %q", f.Name, f.Type, f.Enum)
		}
		if f.Always != slices.Contains(envelopeKeys, f.Name) {
			t.Errorf("%s: Always = %v", f.Name, f.Always)
		}
		if parent, _, nested := strings.Cut(f.Name, "."); nested {
			p, ok := byName[parent]
			if !ok || p.Type != "object" || p.Group != f.Group {
				t.Errorf("%s: parent %q is %+v", f.Name, parent, p)
			}
		}
	}
	for fg, ks := range groupKeys {
		for _, k := range ks {
			if f, ok := byName[k]; !ok || f.Group != fg || f.Always {
				t.Errorf("%s: want a field of group %v, got %+v", k, fg, f)
			}
		}
	}

	tests := []struct {
		name string
		want grant.Field
	}{
		{"id", grant.Field{Object: "employee", Name: "id", Sensitivity: hrgate.Internal, Type: "id", Always: true}},
		{"created_at", grant.Field{Object: "employee", Name: "created_at", Sensitivity: hrgate.Internal, Type: "date-time", Always: true}},
		{"work_email", grant.Field{Object: "employee", Name: "work_email", Group: hrgate.GroupIdentity, Sensitivity: hrgate.Internal, Type: "email"}},
		{"home_address.city", grant.Field{Object: "employee", Name: "home_address.city", Group: hrgate.GroupContact, Sensitivity: hrgate.Confidential, Type: "string"}},
		{"date_of_birth", grant.Field{Object: "employee", Name: "date_of_birth", Group: hrgate.GroupPersonal, Sensitivity: hrgate.Confidential, Type: "date"}},
		{"compensation.pay_rate", grant.Field{Object: "employee", Name: "compensation.pay_rate", Group: hrgate.GroupCompensation, Sensitivity: hrgate.Restricted, Type: "decimal"}},
		{"compensation.pay_currency", grant.Field{Object: "employee", Name: "compensation.pay_currency", Group: hrgate.GroupCompensation, Sensitivity: hrgate.Restricted, Type: "string", KeepWhenMasked: true}},
		{"bank_account", grant.Field{Object: "employee", Name: "bank_account", Group: hrgate.GroupBanking, Sensitivity: hrgate.Restricted, Type: "object"}},
		{"national_id.value", grant.Field{Object: "employee", Name: "national_id.value", Group: hrgate.GroupGovernmentID, Sensitivity: hrgate.Restricted, Type: "string"}},
		{"employment_status", grant.Field{Object: "employee", Name: "employment_status", Group: hrgate.GroupEmployment, Sensitivity: hrgate.Internal, Type: "enum",
			Enum: []string{"active", "leave", "terminated"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := byName[tt.name]
			if got.Object != tt.want.Object || got.Name != tt.want.Name || got.Group != tt.want.Group ||
				got.Sensitivity != tt.want.Sensitivity || got.Type != tt.want.Type || !slices.Equal(got.Enum, tt.want.Enum) ||
				got.Always != tt.want.Always || got.KeepWhenMasked != tt.want.KeepWhenMasked {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}

	t.Run("KeepWhenMasked", func(t *testing.T) {
		var got []string
		for _, f := range fields {
			if f.KeepWhenMasked {
				got = append(got, f.Name)
			}
		}
		want := []string{"compensation.pay_period", "compensation.pay_currency", "compensation.pay_frequency", "national_id.type"}
		if !slices.Equal(got, want) {
			t.Errorf("KeepWhenMasked fields = %q, want %q", got, want)
		}
	})
}

func TestFields_Misc(t *testing.T) {
	if got := grant.Fields("payroll_run"); got != nil {
		t.Errorf("Fields of an unknown object = %v", got)
	}
	want := []string{"employee", "company", "time_off_request", "time_off_balance", "team", "location"}
	if got := grant.Objects(); !slices.Equal(got, want) {
		t.Errorf("Objects() = %q, want %q", got, want)
	}
	t.Run("ReturnsACopy", func(t *testing.T) {
		f := grant.Fields("employee")
		f[0].Name = "changed"
		for i := range f {
			if f[i].Enum != nil {
				f[i].Enum[0] = "changed"
			}
		}
		g := grant.Fields("employee")
		if g[0].Name != "id" {
			t.Errorf("catalogue changed through Fields: %q", g[0].Name)
		}
		for _, x := range g {
			if slices.Contains(x.Enum, "changed") {
				t.Errorf("catalogue Enum changed through Fields: %q", x.Name)
			}
		}
		o := grant.Objects()
		o[0] = "changed"
		if grant.Objects()[0] != "employee" {
			t.Error("Objects changed through its result")
		}
	})
	t.Run("TimeOffIsConfidential", func(t *testing.T) {
		for _, obj := range []string{"time_off_request", "time_off_balance"} {
			for _, f := range grant.Fields(obj) {
				if f.Sensitivity != hrgate.Confidential {
					t.Errorf("%s.%s: Sensitivity = %v", obj, f.Name, f.Sensitivity)
				}
			}
		}
	})
}

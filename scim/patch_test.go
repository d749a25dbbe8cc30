package scim

import (
	"encoding/json"
	"strings"
	"testing"
)

func ops(t *testing.T, s string) []patchOp {
	t.Helper()
	var req struct {
		Operations []patchOp `json:"Operations"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber() // as the handler decodes bodies
	if err := dec.Decode(&req); err != nil {
		t.Fatal(err)
	}
	return req.Operations
}

// TestPatch applies RFC 7644 §3.5.2's examples, on the attributes hrgate
// keeps, and checks the canonical values the result maps to.
func TestPatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  string
		want map[string]string
	}{
		{"AddWithoutPath", `{"Operations":[{"op":"add","value":{"emails":[{"value":"bjensen@example.com","type":"work"}],"nickName":"Barbie"}}]}`,
			map[string]string{"preferred_name": "Barbie", "personal_email": "babs@jensen.org", "work_email": "bjensen@example.com"}},
		{"ReplaceValuePathSubAttribute", `{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"bjensen@example.org"}]}`,
			map[string]string{"work_email": "bjensen@example.org"}},
		{"ReplaceSubAttribute", `{"Operations":[{"op":"replace","path":"name.familyName","value":"Jensen-Smith"}]}`,
			map[string]string{"last_name": "Jensen-Smith"}},
		{"ReplaceComplexKeepsOtherSubAttributes", `{"Operations":[{"op":"replace","path":"name","value":{"givenName":"Babs"}}]}`,
			map[string]string{"first_name": "Babs", "last_name": "Jensen"}},
		{"RemoveSingle", `{"Operations":[{"op":"remove","path":"title"}]}`,
			map[string]string{"job_title": ""}},
		{"RemoveFiltered", `{"Operations":[{"op":"remove","path":"emails[type eq \"home\"]"}]}`,
			map[string]string{"personal_email": "", "work_email": "bjensen@example.com"}},
		{"RemoveAllValues", `{"Operations":[{"op":"remove","path":"emails"}]}`,
			map[string]string{"personal_email": "", "work_email": ""}},
		{"ExtensionAttribute", `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]}`,
			map[string]string{"department": "Sales"}},
		{"ManagerAsBareId", `{"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"emp_boss"}]}`,
			map[string]string{"manager_id": "emp_boss"}},
		{"RemoveManager", `{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`,
			map[string]string{"manager_id": ""}},
		{"ExtensionObjectWithoutPath", `{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"}}}]}`,
			map[string]string{"employee_number": "42", "department": "Tour Operations"}},
		{"DottedMembersWithoutPath", `{"Operations":[{"op":"replace","value":{"name.givenName":"B","active":false}}]}`,
			map[string]string{"first_name": "B", "employment_status": "terminated"}},
		{"FilterMatchingNothingAdds", `{"Operations":[{"op":"add","path":"addresses[type eq \"home\"].locality","value":"Hollywood"}]}`,
			map[string]string{"home_address_city": "Hollywood"}},
		{"ReadOnlyIgnored", `{"Operations":[{"op":"replace","path":"displayName","value":"X"}]}`,
			map[string]string{"first_name": "Barbara"}},
		{"HRGateWriteOnly", `{"Operations":[{"op":"add","path":"urn:hrgate:params:scim:schemas:extension:hrgate:2.0:User:compensation","value":{"payRate":85000,"payCurrency":"USD"}}]}`,
			map[string]string{"pay_rate": "85000", "pay_currency": "USD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := babs(t)
			if err := applyPatch(doc, ops(t, tc.ops), "701984"); err != nil {
				t.Fatal(err)
			}
			m, err := toValues(doc, "active")
			if err != nil {
				t.Fatal(err)
			}
			for f, v := range tc.want {
				if m.values[f] != v {
					t.Errorf("%s = %q, want %q", f, m.values[f], v)
				}
			}
		})
	}
}

func TestPatchErrors(t *testing.T) {
	for _, tc := range []struct{ name, ops, scimType string }{
		{"NoOperations", `{"Operations":[]}`, "invalidSyntax"},
		{"UnknownOp", `{"Operations":[{"op":"copy","path":"title"}]}`, "invalidSyntax"},
		{"RemoveWithoutPath", `{"Operations":[{"op":"remove"}]}`, "noTarget"},
		{"UnknownAttribute", `{"Operations":[{"op":"replace","path":"shoeSize","value":"40"}]}`, "invalidPath"},
		{"UnknownSubAttribute", `{"Operations":[{"op":"replace","path":"name.middle","value":"x"}]}`, "invalidPath"},
		{"FilterOnSingleValued", `{"Operations":[{"op":"replace","path":"title[value eq \"x\"]","value":"x"}]}`, "invalidPath"},
		{"BadFilter", `{"Operations":[{"op":"replace","path":"emails[type eq]","value":"x"}]}`, "invalidPath"},
		{"Id", `{"Operations":[{"op":"replace","path":"id","value":"emp_x"}]}`, "mutability"},
		{"ExternalId", `{"Operations":[{"op":"replace","path":"externalId","value":"other"}]}`, "mutability"},
		{"NoTargetForOr", `{"Operations":[{"op":"replace","path":"emails[type eq \"other\" or value pr].value","value":"x@y.z"}]}`, ""},
		{"ValueNotObject", `{"Operations":[{"op":"add","value":"x"}]}`, "invalidValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := babs(t)
			err := applyPatch(doc, ops(t, tc.ops), "701984")
			if tc.scimType == "" {
				if err != nil {
					t.Fatalf("matching filter with or: %v", err)
				}
				return
			}
			if e := errorOf(err); err == nil || e.Status != 400 || e.Type != tc.scimType {
				t.Fatalf("%v, want 400 %s", err, tc.scimType)
			}
		})
	}
	doc := babs(t)
	if err := applyPatch(doc, ops(t, `{"Operations":[{"op":"replace","path":"emails[type eq \"other\" or type eq \"x\"].value","value":"a@b.c"}]}`), "701984"); errorOf(err).Type != "noTarget" {
		t.Errorf("a filter of or matching nothing: %v, want noTarget", err)
	}
}

// TestActive checks how active and employmentStatus combine.
func TestActive(t *testing.T) {
	ext := "urn:hrgate:params:scim:schemas:extension:hrgate:2.0:User"
	for _, tc := range []struct {
		name    string
		doc     document
		current string
		want    string
		bad     bool
	}{
		{"InactiveTerminates", document{"active": false}, "active", "terminated", false},
		{"ActiveKeepsLeave", document{"active": true}, "leave", "leave", false},
		{"ActiveRehires", document{"active": true}, "terminated", "active", false},
		{"StatusChangedWins", document{"active": true, ext: map[string]any{"employmentStatus": "terminated"}}, "active", "terminated", false},
		{"ActiveChangedWins", document{"active": false, ext: map[string]any{"employmentStatus": "active"}}, "active", "terminated", false},
		{"BothChanged", document{"active": false, ext: map[string]any{"employmentStatus": "leave"}}, "active", "", true},
		{"Consistent", document{"active": true, ext: map[string]any{"employmentStatus": "leave"}}, "terminated", "leave", false},
		{"StringFalse", document{"active": "False"}, "active", "terminated", false},
		{"NotABoolean", document{"active": "nope"}, "active", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := toValues(tc.doc, tc.current)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %v", m.values["employment_status"])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.values["employment_status"]; got != tc.want {
				t.Errorf("status %q, want %q", got, tc.want)
			}
		})
	}
}

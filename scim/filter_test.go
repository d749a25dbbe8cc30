package scim

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// babs is RFC 7643 §8.2's enterprise user, reduced to what hrgate keeps.
func babs(t *testing.T) document {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(`{
	  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	  "id": "emp_2819c223", "externalId": "701984", "userName": "bjensen@example.com",
	  "name": {"familyName": "Jensen", "givenName": "Barbara"},
	  "nickName": "Babs", "title": "Tour Guide", "active": true,
	  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
	             {"value": "babs@jensen.org", "type": "home"}],
	  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
	    "employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "emp_26118915"}},
	  "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"}
	}`), &raw); err != nil {
		t.Fatal(err)
	}
	doc := normalize(raw)
	doc["id"], doc["meta"] = raw["id"], raw["meta"] // the server's own, as render writes them
	return doc
}

func TestFilter(t *testing.T) {
	doc := babs(t)
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`userName eq "BJensen@example.com"`, true},
		{`USERNAME Eq "bjensen@example.com"`, true},
		{`externalId eq "701984"`, true},
		{`id eq "EMP_2819C223"`, false}, // id is caseExact
		{`name.familyName co "ens"`, true},
		{`userName sw "bj"`, true},
		{`userName ew "@example.com"`, true},
		{`title pr`, true},
		{`preferredLanguage pr`, false},
		{`nickName ne "Babs"`, false},
		{`nickName ne "Other"`, true},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, false},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, true},
		{`meta.lastModified lt "2011-05-13T04:42:35Z"`, true},
		{`meta.lastModified le "2011-05-13T04:42:33Z"`, false},
		{`title pr and userType eq "Employee"`, false},
		{`title pr or userName eq "x"`, true},
		{`not (title pr)`, false},
		{`userName eq "x" or (title pr and not (nickName eq "y"))`, true},
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "home" and value co "@example.com"]`, false},
		{`emails co "jensen.org"`, true},
		{`emails.type eq "home"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "emp_26118915"`, true},
		{`active eq true`, true},
		{`active eq false`, false},
		{`nickName eq null`, false},
		{`userType eq null`, true},
	} {
		if tc.filter == `userType eq null` || strings.Contains(tc.filter, "userType") || strings.Contains(tc.filter, "preferredLanguage") {
			// Attributes hrgate does not keep are unknown to its filter.
			if _, err := parseFilter(tc.filter); err == nil {
				t.Errorf("%s: an attribute hrgate does not keep was accepted", tc.filter)
			}
			continue
		}
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		if got := f.match(doc); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// secretKey is shaped like an hrgate API key, pasted where an attribute
// belongs: the error names it, never repeats it.
const secretKey = "hrg_live_0123456789abcdef0123456789abcdef01234567"

func TestFilterErrors(t *testing.T) {
	for name, f := range map[string]string{
		"Empty":           ``,
		"NoOperator":      `userName`,
		"NoValue":         `userName eq`,
		"BadOperator":     `userName is "x"`,
		"Unclosed":        `(userName eq "x"`,
		"UnclosedString":  `userName eq "x`,
		"UnclosedBracket": `emails[type eq "work"`,
		"UnknownAttr":     `shoeSize gt "40"`,
		"UnknownSchema":   `urn:example:User:x eq "y"`,
		"NotWithoutParen": `not title pr`,
		"Trailing":        `title pr title`,
		"WriteOnly":       `urn:hrgate:params:scim:schemas:extension:hrgate:2.0:User:nationalId.value eq "QQ123456C"`,
		"BooleanOrdered":  `active gt true`,
		"BadDate":         `meta.lastModified gt "May"`,
		"DateContains":    `meta.lastModified co "2011"`,
		"NestedValuePath": `emails[value[x eq "y"]]`,
		"NotMultiValued":  `name[givenName eq "x"]`,
		"Deep":            strings.Repeat("(", 20) + `title pr` + strings.Repeat(")", 20),
		"Long":            `userName eq "` + strings.Repeat("a", maxFilterLen) + `"`,
		"Wide":            strings.Repeat(`title pr or `, 70) + `title pr`,
		"ControlChar":     "userName eq \"a\x01\"",
		"NullOrdered":     `title gt null`,
		"SecretAttr":      secretKey + ` eq "x"`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseFilter(f)
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("%q: %v, want a FilterError", f, err)
			}
			if e := errorOf(err); e.Status != 400 || e.Type != "invalidFilter" {
				t.Errorf("maps to %+v", e)
			}
			if strings.Contains(err.Error(), "QQ123456C") {
				t.Error("the error repeats a value")
			}
			if strings.Contains(err.Error(), secretKey[:12]) {
				t.Errorf("the error repeats a secret pasted as an attribute: %v", err)
			}
		})
	}
}

func TestIndexed(t *testing.T) {
	for f, want := range map[string]string{
		`userName eq "a"`:                      "userName",
		`title pr and externalId eq "x"`:       "externalId",
		`id eq "emp_1" and userName sw "a"`:    "id",
		`userName eq "a" or userName eq "b"`:   "",
		`not (userName eq "a")`:                "",
		`userName co "a"`:                      "",
		`name.givenName eq "a" and title pr`:   "",
		`emails[value eq "a"] and userName pr`: "",
	} {
		p, err := parseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := indexed(p); got != want {
			t.Errorf("%s: indexed by %q, want %q", f, got, want)
		}
	}
}

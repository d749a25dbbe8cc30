package scim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/scim"
	"github.com/hrgate/hrgate/sources"
)

// TestReadsLoadNoRestrictedGroup checks that a SCIM read never asks the
// store for the restricted groups (compensation, banking, government
// id): a User document never shows them, so decrypting them to answer a
// read would only widen what a read handles. PATCH, which starts from the
// whole user, still reads them and keeps them; DELETE reads the
// employment group only. On both databases.
func TestReadsLoadNoRestrictedGroup(t *testing.T) {
	restricted := hrgate.GroupsOf(hrgate.GroupCompensation, hrgate.GroupBanking, hrgate.GroupGovernmentID)
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, call := newEnv(t, dsn(t), scim.Options{})
			ids := make([]string, 2)
			for i, name := range []string{"ada", "grace"} {
				w := call(http.MethodPost, "/Users", map[string]any{
					"schemas": []string{scim.SchemaUser, scim.SchemaHRGate}, "userName": name, "externalId": "w-" + name,
					"name": map[string]any{"givenName": name, "familyName": "Hopper"}, "title": "Engineer",
					scim.SchemaHRGate: map[string]any{
						"compensation": map[string]any{"payRate": "85000", "payPeriod": "year", "payCurrency": "GBP", "payFrequency": "monthly"},
						"nationalId":   map[string]any{"type": "nino", "value": "QQ123456C"},
					}})
				if w.Code != http.StatusCreated {
					t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
				}
				var u struct{ ID string }
				if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
					t.Fatal(err)
				}
				ids[i] = u.ID
			}

			for _, c := range []struct {
				name, method, path string
				body               any
				want               int  // users answered
				scans              bool // a scan decrypts every user once
			}{
				{"Get", http.MethodGet, "/Users/" + ids[0], nil, 1, false},
				{"List", http.MethodGet, "/Users", nil, 2, false},
				{"ListPage", http.MethodGet, "/Users?startIndex=2&count=1", nil, 1, false},
				{"FilterUserName", http.MethodGet, "/Users?filter=" + url.QueryEscape(`userName eq "grace"`), nil, 1, false},
				{"FilterExternalID", http.MethodGet, "/Users?filter=" + url.QueryEscape(`externalId eq "w-ada"`), nil, 1, false},
				{"FilterID", http.MethodGet, "/Users?filter=" + url.QueryEscape(`id eq "`+ids[1]+`"`), nil, 1, false},
				{"FilterUnindexed", http.MethodGet, "/Users?filter=" + url.QueryEscape(`userName sw "g"`), nil, 1, false},
				{"FilterReadsGroups", http.MethodGet, "/Users?filter=" + url.QueryEscape(`title eq "Engineer"`), nil, 2, true},
				{"Search", http.MethodPost, "/Users/.search", map[string]any{"filter": `name.givenName eq "ada"`}, 1, true},
			} {
				t.Run(c.name, func(t *testing.T) {
					st.asked, st.readOnce = nil, 0
					w := call(c.method, c.path, c.body)
					if w.Code != http.StatusOK {
						t.Fatalf("%d %s", w.Code, w.Body)
					}
					var got struct {
						ID           string
						TotalResults int
						Resources    []struct{ ID, UserName string }
					}
					if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
						t.Fatal(err)
					}
					n := len(got.Resources)
					if got.ID != "" {
						n = 1
					}
					if n != c.want {
						t.Fatalf("answered %s, want %d users", w.Body, c.want)
					}
					if len(st.asked) == 0 {
						t.Fatal("no employee read recorded")
					}
					for _, g := range st.asked {
						if g.Intersect(restricted) != 0 {
							t.Errorf("a read asked the store for %s", g)
						}
					}
					// A filter that decrypts every user to match it reads
					// them once: no decryption state is kept for them.
					if (st.readOnce > 0) != c.scans {
						t.Errorf("%d reads of groups marked ReadOnce; want some: %v", st.readOnce, c.scans)
					}
				})
			}

			// PATCH still starts from the whole user: the restricted
			// values it does not name are kept.
			st.asked = nil
			w := call(http.MethodPatch, "/Users/"+ids[0], replaceOp("title", "Countess"))
			if w.Code != http.StatusOK {
				t.Fatalf("patch: %d %s", w.Code, w.Body)
			}
			es, err := st.DB.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: ids[0], Groups: hrgate.AllGroups})
			if err != nil || len(es) != 1 {
				t.Fatal(es, err)
			}
			if v := sources.Values(es[0]); v["job_title"] != "Countess" || v["pay_rate"] != "85000" || v["national_id"] != "QQ123456C" {
				t.Errorf("after PATCH: title %q, pay rate %q, national id %q", v["job_title"], v["pay_rate"], v["national_id"])
			}

			// DELETE reads the employment dates only: no contact or
			// personal data is decrypted to terminate someone.
			st.asked = nil
			if w := call(http.MethodDelete, "/Users/"+ids[1], nil); w.Code != http.StatusNoContent {
				t.Fatalf("delete: %d %s", w.Code, w.Body)
			}
			if len(st.asked) == 0 {
				t.Fatal("no employee read recorded")
			}
			for _, g := range st.asked {
				if g != hrgate.GroupsOf(hrgate.GroupEmployment) {
					t.Errorf("DELETE asked the store for %s, want employment only", g)
				}
			}
		})
	}
}

package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/scim"
	"github.com/hrgate/hrgate/sqlstore"
)

// TestIfMatchRacingWrite checks that If-Match is decided inside the
// writing transaction: a PATCH whose version was current when it was
// read, but which another PATCH overtook before it wrote, fails with 412
// and writes nothing; the other PATCH's change stays. On both databases.
func TestIfMatchRacingWrite(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			st, call := newEnv(t, dsn(t), scim.Options{})
			id, etag := createAda(t, call, "ada")
			if etag == "" {
				t.Fatal("create answered no ETag")
			}
			st.between = func() {
				if w := call(http.MethodPatch, "/Users/"+id, replaceOp("title", "Countess")); w.Code != http.StatusOK {
					t.Errorf("the overtaking patch: %d %s", w.Code, w.Body)
				}
			}
			if w := call(http.MethodPatch, "/Users/"+id, replaceOp("name.givenName", "Augusta"), "If-Match", etag); w.Code != http.StatusPreconditionFailed {
				t.Errorf("a PATCH with a version overtaken before it wrote: %d %s, want 412", w.Code, w.Body)
			}
			w := call(http.MethodGet, "/Users/"+id, nil)
			var got struct {
				Title string
				Name  struct{ GivenName string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Title != "Countess" || got.Name.GivenName != "Ada" {
				t.Errorf("after the race: title %q, givenName %q; want the first patch only", got.Title, got.Name.GivenName)
			}
		})
	}
}

// TestWriteRacingDelete checks that a PUT or PATCH that read a user
// before a DELETE of it committed fails with 404 and changes nothing: the
// user stays deleted and its employee terminated, on both databases.
func TestWriteRacingDelete(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, rawCall := newEnv(t, dsn(t), scim.Options{})
			db := st.DB
			call := func(method, path string, body any) *httptest.ResponseRecorder { return rawCall(method, path, body) }
			for _, tc := range []struct {
				name, method string
				body         func(id string) any
			}{
				{"PatchTitle", http.MethodPatch, func(string) any { return replaceOp("title", "Countess") }},
				{"PatchUserName", http.MethodPatch, func(string) any { return replaceOp("userName", "renamed") }},
				{"Put", http.MethodPut, func(string) any {
					return map[string]any{"schemas": []string{scim.SchemaUser}, "userName": "ada-" + t.Name(), "active": true,
						"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}, "title": "Countess"}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					id, _ := createAda(t, rawCall, "ada-"+t.Name())
					st.between = func() {
						if w := call(http.MethodDelete, "/Users/"+id, nil); w.Code != http.StatusNoContent {
							t.Errorf("delete: %d %s", w.Code, w.Body)
						}
					}
					if w := call(tc.method, "/Users/"+id, tc.body(id)); w.Code != http.StatusNotFound {
						t.Errorf("%s racing a DELETE: %d %s, want 404", tc.method, w.Code, w.Body)
					}
					if w := call(http.MethodGet, "/Users/"+id, nil); w.Code != http.StatusNotFound {
						t.Errorf("the deleted user is back: %d %s", w.Code, w.Body)
					}
					es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id,
						Groups: hrgate.AllGroups, Page: hrgate.Page{Limit: 1}})
					if err != nil || len(es) != 1 {
						t.Fatal(es, err)
					}
					e := es[0]
					if e.Employment.Status != hrgate.StatusTerminated || e.Employment.JobTitle != "" {
						t.Errorf("the deleted user's employee was written: %+v", e.Employment)
					}
				})
			}
		})
	}
}

// TestRenameRacingWrite checks that a rename another request commits
// between a write's read and its write is never reverted: a request with
// the old version in If-Match fails with 412 and writes nothing; one
// without keeps the new userName with its own change, unless it renames
// the user too (409). On both databases.
func TestRenameRacingWrite(t *testing.T) {
	patch := func(path, value string) func(string) any {
		return func(string) any { return replaceOp(path, value) }
	}
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, call := newEnv(t, dsn(t), scim.Options{})
			for _, tc := range []struct {
				name, method string
				body         func(userName string) any
				guard        bool
				want         int
				// wantGiven is the givenName after the race; "" when
				// the user is deleted.
				wantGiven string
			}{
				{"PatchGuarded", http.MethodPatch, patch("name.givenName", "Augusta"), true, http.StatusPreconditionFailed, "Ada"},
				{"PatchUnguarded", http.MethodPatch, patch("name.givenName", "Augusta"), false, http.StatusOK, "Augusta"},
				{"PutGuarded", http.MethodPut, func(userName string) any {
					return map[string]any{"schemas": []string{scim.SchemaUser}, "userName": userName,
						"name": map[string]any{"givenName": "Augusta", "familyName": "Lovelace"}}
				}, true, http.StatusPreconditionFailed, "Ada"},
				{"PutUnguarded", http.MethodPut, func(userName string) any {
					return map[string]any{"schemas": []string{scim.SchemaUser}, "userName": userName,
						"name": map[string]any{"givenName": "Augusta", "familyName": "Lovelace"}}
				}, false, http.StatusOK, "Augusta"},
				{"RenameUnguarded", http.MethodPatch, patch("userName", "other"), false, http.StatusConflict, "Ada"},
				{"DeleteGuarded", http.MethodDelete, func(string) any { return nil }, true, http.StatusPreconditionFailed, "Ada"},
				{"DeleteUnguarded", http.MethodDelete, func(string) any { return nil }, false, http.StatusNoContent, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					userName, renamed := "ada-"+tc.name, "renamed-"+tc.name
					id, etag := createAda(t, call, userName)
					st.between = func() {
						if w := call(http.MethodPatch, "/Users/"+id, replaceOp("userName", renamed)); w.Code != http.StatusOK {
							t.Errorf("the overtaking rename: %d %s", w.Code, w.Body)
						}
					}
					var hdr []string
					if tc.guard {
						hdr = []string{"If-Match", etag}
					}
					failed := failedRuns(t, st.DB, id)
					w := call(tc.method, "/Users/"+id, tc.body(userName), hdr...)
					if w.Code != tc.want {
						t.Fatalf("%s racing a rename: %d %s, want %d", tc.method, w.Code, w.Body, tc.want)
					}
					// A request that succeeds records no failed run on the
					// way: its second write is in the same transaction.
					if n := failedRuns(t, st.DB, id) - failed; w.Code < 300 && n != 0 {
						t.Errorf("%s racing a rename answered %d but recorded %d failed runs", tc.method, w.Code, n)
					}
					if tc.wantGiven == "" {
						// The deleted user's state keeps the new name.
						es, err := st.DB.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Page: hrgate.Page{Limit: 1}})
						if err != nil || len(es) != 1 {
							t.Fatal(es, err)
						}
						us, err := st.DB.SCIMUsers(ctx, es[0].SourceID, []string{id})
						if u := us[id]; err != nil || u == nil || !u.Deleted() || u.UserName != renamed {
							t.Errorf("after the race: %+v %v; want the user deleted, named %q", u, err, renamed)
						}
						return
					}
					g := call(http.MethodGet, "/Users/"+id, nil)
					var got struct {
						UserName string
						Name     struct{ GivenName string }
					}
					if err := json.Unmarshal(g.Body.Bytes(), &got); err != nil {
						t.Fatal(err)
					}
					if got.UserName != renamed || got.Name.GivenName != tc.wantGiven {
						t.Errorf("after the race: userName %q, givenName %q; want %q, %q", got.UserName, got.Name.GivenName, renamed, tc.wantGiven)
					}
					if w.Code == http.StatusOK && (w.Header().Get("ETag") != g.Header().Get("ETag") || !bytes.Contains(w.Body.Bytes(), []byte(renamed))) {
						t.Errorf("the answer is not the user as stored: ETag %s, stored %s; %s", w.Header().Get("ETag"), g.Header().Get("ETag"), w.Body)
					}
				})
			}
		})
	}
}

// TestIfMatchAnyRacingWrite checks that "If-Match: *", which any version
// matches, does not fail a write that another write overtook between its
// read and its write: both changes stay, as without If-Match. On both
// databases.
func TestIfMatchAnyRacingWrite(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			st, call := newEnv(t, dsn(t), scim.Options{})
			for _, tc := range []struct {
				name, method string
				body         func(userName string) any
				want         int
				// wantGiven is the givenName after the race; "" when
				// the user is deleted.
				wantGiven string
			}{
				{"Patch", http.MethodPatch, func(string) any { return replaceOp("name.givenName", "Augusta") }, http.StatusOK, "Augusta"},
				{"Put", http.MethodPut, func(userName string) any {
					return map[string]any{"schemas": []string{scim.SchemaUser}, "userName": userName, "title": "Countess",
						"name": map[string]any{"givenName": "Augusta", "familyName": "Lovelace"}}
				}, http.StatusOK, "Augusta"},
				{"Delete", http.MethodDelete, func(string) any { return nil }, http.StatusNoContent, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					userName := "ada-" + tc.name
					id, _ := createAda(t, call, userName)
					st.between = func() {
						if w := call(http.MethodPatch, "/Users/"+id, replaceOp("title", "Countess")); w.Code != http.StatusOK {
							t.Errorf("the overtaking patch: %d %s", w.Code, w.Body)
						}
					}
					if w := call(tc.method, "/Users/"+id, tc.body(userName), "If-Match", "*"); w.Code != tc.want {
						t.Fatalf("%s with If-Match: * racing a write: %d %s, want %d", tc.method, w.Code, w.Body, tc.want)
					}
					w := call(http.MethodGet, "/Users/"+id, nil)
					if tc.wantGiven == "" {
						if w.Code != http.StatusNotFound {
							t.Errorf("after the race: %d %s, want the user deleted", w.Code, w.Body)
						}
						return
					}
					var got struct {
						Title string
						Name  struct{ GivenName string }
					}
					if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
						t.Fatal(err)
					}
					if got.Title != "Countess" || got.Name.GivenName != tc.wantGiven {
						t.Errorf("after the race: title %q, givenName %q; want both changes", got.Title, got.Name.GivenName)
					}
				})
			}
		})
	}
}

// failedRuns counts the failed runs of the source of employee id.
func failedRuns(t *testing.T, db *sqlstore.DB, id string) int {
	t.Helper()
	ctx := context.Background()
	es, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, Page: hrgate.Page{Limit: 1}})
	if err != nil || len(es) != 1 {
		t.Fatal(es, err)
	}
	runs, err := db.SyncRuns(ctx, es[0].SourceID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range runs {
		if r.Status == hrgate.RunFailed {
			n++
		}
	}
	return n
}

package scim_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/scim"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
)

// failStore fails every employee read with fail while it is set, as a
// lost database connection would.
type failStore struct {
	*sqlstore.DB
	fail error
}

func (s *failStore) FindEmployees(ctx context.Context, f hrgate.EmployeeFilter) ([]*hrgate.Employee, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return s.DB.FindEmployees(ctx, f)
}

// TestBulkInternalErrorLogged checks that an internal error of one Bulk
// operation reaches LogError with its cause, while the operation's result
// says only "Internal error.": the request answers 200, so WriteError and
// the access log never see it.
func TestBulkInternalErrorLogged(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, dsn(t))
			now := time.Now().UTC().Truncate(time.Microsecond)
			coID, err := hrgate.NewID(hrgate.PrefixCompany, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			co := &hrgate.Company{ID: coID, Slug: "acme", Name: "Acme", Country: "DE", CreatedAt: now, ModifiedAt: now}
			if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{co}}); err != nil {
				t.Fatal(err)
			}
			svc := sources.New(db)
			src, _, err := svc.Create(ctx, "entra", "acme", hrgate.SourceSCIM)
			if err != nil {
				t.Fatal(err)
			}
			st := &failStore{DB: db}
			var logged []error
			h := scim.NewHandler(svc, st, scim.Options{LogError: func(_ *http.Request, err error) { logged = append(logged, err) }})
			call := func(method, path string, body any) *httptest.ResponseRecorder {
				b, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				r := httptest.NewRequest(method, scim.Prefix+path, bytes.NewReader(b))
				r = r.WithContext(scim.WithSource(r.Context(), src))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			w := call(http.MethodPost, "/Users", map[string]any{"schemas": []string{scim.SchemaUser}, "userName": "ada",
				"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}})
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body)
			}
			var created struct{ ID string }
			if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
				t.Fatal(err)
			}
			cause := errors.New("connection reset by peer 10.0.0.7:5432")
			st.fail = cause
			w = call(http.MethodPost, "/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
				"Operations": []any{
					map[string]any{"method": "DELETE", "path": "/Users/" + created.ID},
					map[string]any{"method": "GET", "path": "/Users/" + created.ID},
				}})
			st.fail = nil
			if w.Code != http.StatusOK {
				t.Fatalf("bulk: %d %s", w.Code, w.Body)
			}
			var resp struct {
				Operations []struct {
					Status   string
					Response struct{ Detail string }
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Operations) != 2 || resp.Operations[0].Status != "500" || resp.Operations[1].Status != "405" {
				t.Fatalf("results: %s", w.Body)
			}
			if strings.Contains(w.Body.String(), "10.0.0.7") || resp.Operations[0].Response.Detail != "Internal error." {
				t.Errorf("the internal error's cause reached the client: %s", w.Body)
			}
			// Only the internal error is logged, with its cause; the
			// client's mistake (405) is not.
			if len(logged) != 1 || !errors.Is(logged[0], cause) {
				t.Errorf("logged %v, want the one cause", logged)
			}
		})
	}
}

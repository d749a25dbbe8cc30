package scim_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/scim"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
)

// testStore is the store a SCIM handler under test reads, with hooks a
// test sets as it needs them.
type testStore struct {
	*sqlstore.DB
	// fail, while set, fails every employee read, as a lost database
	// connection would.
	fail error
	// asked records the field groups of every employee read; readOnce
	// counts the reads of groups marked ReadOnce.
	asked    []hrgate.GroupSet
	readOnce int
	// between runs once, after a request has read a user's SCIM state
	// and before it writes: the moment a concurrent request can commit.
	between func()
}

func (s *testStore) FindEmployees(ctx context.Context, f hrgate.EmployeeFilter) ([]*hrgate.Employee, error) {
	s.asked = append(s.asked, f.Groups)
	if f.ReadOnce && f.Groups != 0 {
		s.readOnce++
	}
	if s.fail != nil {
		return nil, s.fail
	}
	return s.DB.FindEmployees(ctx, f)
}

func (s *testStore) SCIMUsers(ctx context.Context, sourceID string, ids []string) (map[string]*hrgate.SCIMUser, error) {
	us, err := s.DB.SCIMUsers(ctx, sourceID, ids)
	if f := s.between; f != nil {
		s.between = nil
		f()
	}
	return us, err
}

// newEnv is a SCIM handler with opts on a fresh store at dsn that holds
// one company and one SCIM source of it. call sends the handler a request
// as that source, with body as JSON (none when nil) and hdr as header
// name, value pairs.
func newEnv(t *testing.T, dsn string, opts scim.Options) (st *testStore, call func(method, path string, body any, hdr ...string) *httptest.ResponseRecorder) {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
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
	st = &testStore{DB: db}
	h := scim.NewHandler(svc, st, opts)
	call = func(method, path string, body any, hdr ...string) *httptest.ResponseRecorder {
		t.Helper()
		var b []byte
		if body != nil {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		r := httptest.NewRequest(method, scim.Prefix+path, bytes.NewReader(b))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		r = r.WithContext(scim.WithSource(r.Context(), src))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	return st, call
}

// replaceOp is a PATCH body of one replace operation.
func replaceOp(path string, value any) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": path, "value": value}}}
}

// createAda creates a user named Ada Lovelace under userName through call
// and returns its id and ETag.
func createAda(t *testing.T, call func(method, path string, body any, hdr ...string) *httptest.ResponseRecorder, userName string) (id, etag string) {
	t.Helper()
	w := call(http.MethodPost, "/Users", map[string]any{"schemas": []string{scim.SchemaUser}, "userName": userName,
		"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}})
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.ID == "" {
		t.Fatalf("create: %v %s", err, w.Body)
	}
	return created.ID, w.Header().Get("ETag")
}

package scim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/scim"
)

// TestBulkInternalErrorLogged checks that an internal error of one Bulk
// operation reaches LogError with its cause, while the operation's result
// says only "Internal error.": the request answers 200, so WriteError and
// the access log never see it.
func TestBulkInternalErrorLogged(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			var logged []error
			st, call := newEnv(t, dsn(t), scim.Options{LogError: func(_ *http.Request, err error) { logged = append(logged, err) }})
			id, _ := createAda(t, call, "ada")
			cause := errors.New("connection reset by peer 10.0.0.7:5432")
			st.fail = cause
			w := call(http.MethodPost, "/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
				"Operations": []any{
					map[string]any{"method": "DELETE", "path": "/Users/" + id},
					map[string]any{"method": "GET", "path": "/Users/" + id},
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

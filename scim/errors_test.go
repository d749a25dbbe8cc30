package scim_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/scim"
)

// TestStatusFromTransport checks that the HTTP status of an error that is
// not a SCIM error is the transport's (Options.StatusOf), in a response
// and in a Bulk operation's result, while SCIM keeps choosing the
// scimType and a SCIM error keeps its own status.
func TestStatusFromTransport(t *testing.T) {
	st, rawCall := newEnv(t, storetest.SQLite(t), scim.Options{StatusOf: func(err error) int {
		if hrgate.ErrorCode(err) == hrgate.EINVALID {
			return 422 // not SCIM's 400: only the transport's table could say it
		}
		return http.StatusTeapot
	}})
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		w := rawCall(method, path, body)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("%d %s: %v", w.Code, w.Body, err)
		}
		return w.Code, m
	}
	id, err := hrgate.NewID(hrgate.PrefixEmployee, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	st.fail = hrgate.Errorf(hrgate.EUNAVAILABLE, "The store is busy; try again.")
	if code, m := call(http.MethodGet, "/Users/"+id, nil); code != http.StatusTeapot || m["status"] != "418" ||
		m["detail"] != "The store is busy; try again." || m["scimType"] != nil {
		t.Errorf("a store error: %d %v, want the transport's 418 with the message", code, m)
	}
	st.fail = hrgate.Errorf(hrgate.EINVALID, "Bad.")
	if code, m := call(http.MethodGet, "/Users/"+id, nil); code != 422 || m["scimType"] != "invalidValue" || m["detail"] != "Bad." {
		t.Errorf("an invalid error: %d %v, want the transport's 422 with scimType invalidValue", code, m)
	}
	code, m := call(http.MethodPost, "/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{map[string]any{"method": "DELETE", "path": "/Users/" + id}}})
	ops, _ := m["Operations"].([]any)
	if code != http.StatusOK || len(ops) != 1 || ops[0].(map[string]any)["status"] != "422" {
		t.Errorf("a Bulk operation's store error: %d %v, want the transport's 422 in its result", code, m)
	}
	st.fail = nil

	// A SCIM error keeps its own status, whatever the transport's table
	// says of its kind.
	if code, m := call(http.MethodGet, "/Users/"+id, nil); code != http.StatusNotFound || m["status"] != "404" {
		t.Errorf("an unknown user: %d %v, want 404", code, m)
	}
}

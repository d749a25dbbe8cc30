package http

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// An answer the audit step replaces (a panic, an unwritable trail) must
// not keep the headers its handler set, while the outer middleware's
// headers stay; an answer sent carries both.
func TestHeldWriterHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req_1")
	hw := heldWriters.Get().(*heldWriter)
	hw.w, hw.status = rec, 0
	hw.Header().Set("Location", "/v1/employees/emp_1")
	hw.Header().Set("Etag", `"abc"`)
	hw.WriteHeader(http.StatusCreated)
	_, _ = hw.Write([]byte(`{"id":"emp_1"}`))
	hw.reset()
	hw.Header().Set("Content-Type", "application/problem+json")
	hw.WriteHeader(http.StatusServiceUnavailable)
	hw.send()
	hw.release()
	h := rec.Result().Header
	if h.Get("Location") != "" || h.Get("Etag") != "" {
		t.Fatalf("the replaced answer kept its handler's headers: %v", h)
	}
	if h.Get("X-Request-Id") != "req_1" || h.Get("Content-Type") != "application/problem+json" || rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("answer %d, headers %v", rec.Code, h)
	}

	rec = httptest.NewRecorder()
	hw = heldWriters.Get().(*heldWriter)
	hw.w, hw.status = rec, 0
	if len(hw.Header()) != 0 {
		t.Fatalf("a pooled writer still holds headers: %v", hw.Header())
	}
	hw.Header().Set("Etag", `"def"`)
	hw.send()
	hw.release()
	if rec.Result().Header.Get("Etag") != `"def"` {
		t.Fatal("a sent answer lost its handler's header")
	}
}

package http

import (
	"encoding/json"
	"net/http"

	"github.com/hrgate/hrgate"
)

// problemStatus maps each error kind to one HTTP status: the only place
// where this mapping exists.
var problemStatus = map[string]int{
	hrgate.EINVALID:        http.StatusBadRequest,
	hrgate.EUNAUTHORIZED:   http.StatusUnauthorized,
	hrgate.EFORBIDDEN:      http.StatusForbidden,
	hrgate.ENOTFOUND:       http.StatusNotFound,
	hrgate.EMETHODNOTALLOW: http.StatusMethodNotAllowed,
	hrgate.ENOTACCEPTABLE:  http.StatusNotAcceptable,
	hrgate.ECONFLICT:       http.StatusConflict,
	hrgate.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	hrgate.ERATELIMITED:    http.StatusTooManyRequests,
	hrgate.EINTERNAL:       http.StatusInternalServerError,
	hrgate.EUNAVAILABLE:    http.StatusServiceUnavailable,
}

// Problem is an RFC 9457 problem document. It carries the request id so an
// operator can find the server-side log line; it never carries internals.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// ProblemType returns the type URI of an error code.
func ProblemType(code string) string { return "urn:hrgate:problem:" + code }

func statusOf(code string) int {
	if s, ok := problemStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem types of the refusals that share 429 but call for different
// reactions from a client: slow down, wait for tomorrow, send fewer at
// once, or stop guessing.
const (
	problemRateLimited   = "urn:hrgate:problem:rate_limited"
	problemQuotaExceeded = "urn:hrgate:problem:quota_exceeded"
	problemTooConcurrent = "urn:hrgate:problem:too_many_concurrent"
	problemLockedOut     = "urn:hrgate:problem:locked_out"
)

// writeError answers with the problem document for err. Internal errors
// are logged with their cause and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeProblem(w, r, err, "")
}

// writeProblem is writeError with the problem type typ instead of the
// one of err's code, when typ is set.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error, typ string) {
	code := hrgate.ErrorCode(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		code = hrgate.EINTERNAL
	}
	info := requestInfoFrom(r.Context())
	if info != nil {
		info.err = err
	}
	if code == hrgate.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hrgate"`)
	}
	if isSCIM(r) {
		writeSCIMError(w, status, err)
		return
	}
	if typ == "" {
		typ = ProblemType(code)
	}
	p := Problem{
		Type:      typ,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    hrgate.ErrorMessage(err),
		RequestID: requestID(r.Context()),
	}
	body, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

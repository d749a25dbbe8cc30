package scim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hrgate/hrgate"
)

// Error is a SCIM error response (RFC 7644 §3.12): an HTTP status, a
// scimType for the 400s and 409s that have one, and a detail that names
// what was wrong without repeating a value of the request.
type Error struct {
	Status int
	Type   string
	Detail string
}

func (e *Error) Error() string { return e.Detail }

func invalidValue(detail string) *Error {
	return &Error{Status: 400, Type: "invalidValue", Detail: detail}
}
func invalidSyntax(detail string) *Error {
	return &Error{Status: 400, Type: "invalidSyntax", Detail: detail}
}
func invalidPath(detail string) *Error {
	return &Error{Status: 400, Type: "invalidPath", Detail: detail}
}
func notFound() *Error { return &Error{Status: 404, Detail: "No such user."} }

// errorOf returns err as a SCIM error, but for its status when err is
// not one already. A SCIM error is itself and a filter error is
// invalidFilter. Any other error takes the scimType SCIM gives its kind
// (invalidValue for EINVALID, uniqueness for ECONFLICT) and its
// caller-safe message, and no status (0): the HTTP status of an error
// kind is the transport's table (Options.StatusOf), not this package's;
// withStatus sets it.
func errorOf(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	var fe *FilterError
	if errors.As(err, &fe) {
		return &Error{Status: 400, Type: "invalidFilter", Detail: fe.msg}
	}
	msg := hrgate.ErrorMessage(err)
	switch hrgate.ErrorCode(err) {
	case hrgate.EINVALID:
		return &Error{Type: "invalidValue", Detail: msg}
	case hrgate.ECONFLICT:
		return &Error{Type: "uniqueness", Detail: msg}
	}
	return &Error{Detail: msg}
}

// withStatus returns the SCIM error answering err: errorOf's, with
// status, the transport's status for err's kind, when err is not a SCIM
// error. An internal error (500) says only "Internal error.": its cause
// stays on the server.
func withStatus(err error, status int) *Error {
	e := errorOf(err)
	if e.Status != 0 {
		return e
	}
	e.Status = status
	if status == http.StatusInternalServerError {
		e.Type, e.Detail = "", "Internal error."
	}
	return e
}

// ContentType is the media type of every SCIM answer.
const ContentType = "application/scim+json"

// body returns the JSON of the error response.
func (e *Error) body() []byte {
	b, _ := json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
	}{[]string{schemaError}, strconv.Itoa(e.Status), e.Type, e.Detail})
	return b
}

// WriteError answers err as a SCIM error response. status is the HTTP
// status the transport gives err's kind, answered when err is not a SCIM
// error (an *Error, a filter error), which carries its own.
func WriteError(w http.ResponseWriter, status int, err error) {
	e := withStatus(err, status)
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.body()) // #nosec G705 -- JSON (json.Marshal escapes <, > and &) served as application/scim+json, not HTML
}

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

// errorOf turns any error into a SCIM error: hrgate error kinds map to
// their statuses, a filter error to invalidFilter; anything else is an
// internal error whose cause stays on the server.
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
		return invalidValue(msg)
	case hrgate.EUNAUTHORIZED:
		return &Error{Status: 401, Detail: msg}
	case hrgate.EFORBIDDEN:
		return &Error{Status: 403, Detail: msg}
	case hrgate.ENOTFOUND:
		return &Error{Status: 404, Detail: msg}
	case hrgate.ECONFLICT:
		return &Error{Status: 409, Type: "uniqueness", Detail: msg}
	case hrgate.ETOOLARGE:
		return &Error{Status: 413, Detail: msg}
	case hrgate.ERATELIMITED:
		return &Error{Status: 429, Detail: msg}
	case hrgate.EUNAVAILABLE:
		return &Error{Status: 503, Detail: msg}
	case hrgate.EMETHODNOTALLOW:
		return &Error{Status: 405, Detail: msg}
	case hrgate.ENOTACCEPTABLE:
		return &Error{Status: 406, Detail: msg}
	}
	return &Error{Status: 500, Detail: "Internal error."}
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

// WriteError answers err as a SCIM error response.
func WriteError(w http.ResponseWriter, err error) {
	e := errorOf(err)
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.body()) // #nosec G705 -- JSON (json.Marshal escapes <, > and &) served as application/scim+json, not HTML
}

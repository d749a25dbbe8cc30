package hrgate

import (
	"errors"
	"fmt"
)

// Error codes form the closed set of error kinds hrgate reports. Transport
// adapters map each to one status code in one table; anything that is not an
// *Error is reported as EINTERNAL and its details stay in the server log.
const (
	EINVALID        = "invalid"
	EUNAUTHORIZED   = "unauthorized"
	EFORBIDDEN      = "forbidden"
	ENOTFOUND       = "not_found"
	ECONFLICT       = "conflict"
	ERATELIMITED    = "rate_limited"
	ENOTACCEPTABLE  = "not_acceptable"
	ETOOLARGE       = "too_large"
	EINTERNAL       = "internal"
	EUNAVAILABLE    = "unavailable"
	EMETHODNOTALLOW = "method_not_allowed"
)

// Error is an error with a kind (Code) and a message that is safe to show to
// the caller. Err, when set, is the underlying cause; it is logged on the
// server and never shown to a client.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface. It includes the cause so that server
// logs carry it; transports must use ErrorMessage for client-facing text.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("hrgate error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("hrgate error: code=%s message=%s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message that is
// meant for the caller.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an internal *Error whose cause is err. The message shown to a
// caller is the generic one; err is for the log only.
func Wrap(err error, op string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: EINTERNAL, Message: "Internal error.", Err: fmt.Errorf("%s: %w", op, err)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err. Errors that are not an
// *Error, and internal errors, yield "Internal error." so that no detail of
// the server leaks.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}

// ErrNotFound is the error returned for anything the caller may not see or
// that does not exist; the two cases are deliberately indistinguishable.
func ErrNotFound(what string) *Error {
	return Errorf(ENOTFOUND, "%s not found.", what)
}

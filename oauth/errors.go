package oauth

import (
	"errors"

	"github.com/hrgate/hrgate"
)

// Protocol error codes of RFC 6749 §5.2 and RFC 7009 §2.2.1. They travel
// as the cause of an *hrgate.Error, whose Message is the
// error_description, so that transports map them with errors.Is.
var (
	ErrInvalidRequest       = errors.New("invalid_request")
	ErrInvalidClient        = errors.New("invalid_client")
	ErrInvalidScope         = errors.New("invalid_scope")
	ErrUnauthorizedClient   = errors.New("unauthorized_client")
	ErrUnsupportedGrantType = errors.New("unsupported_grant_type")
)

// ProtocolErrors lists the codes above, for transports that map them.
var ProtocolErrors = []error{
	ErrInvalidRequest, ErrInvalidClient, ErrInvalidScope,
	ErrUnauthorizedClient, ErrUnsupportedGrantType,
}

// Errorf returns an EINVALID *hrgate.Error whose cause is the protocol
// error code and whose message, safe for the client, is the description.
func Errorf(code error, description string) error {
	return &hrgate.Error{Code: hrgate.EINVALID, Message: description, Err: code}
}

package http

import (
	"context"
	"net/netip"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
)

// requestInfo is what the middleware learns about a request as it passes
// through, collected in one place for the access log and the audit trail.
type requestInfo struct {
	id        string
	idHeader  [1]string // the X-Request-Id header's value
	client    netip.Addr
	principal *gate.Principal
	operator  *Operator
	// source is the SCIM source that authenticated (scim.go).
	source *hrgate.Source
	route  string
	err    error

	// What the answer returns, for the request's audit event (audit.go).
	object    string
	recordIDs []string
	groups    []string
	// Set by routes that authenticate otherwise than with a principal
	// (the OAuth endpoints): the event's type, credential, consumer and
	// target.
	auditType    string
	credentialID string
	consumerID   string
	target       string
}

type ctxKey struct{}

func withRequestInfo(ctx context.Context, info *requestInfo) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(ctxKey{}).(*requestInfo)
	return info
}

func requestID(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

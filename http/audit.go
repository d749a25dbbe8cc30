package http

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
)

// AuditTrail is what the servers need of the audit trail: to record one
// event per request and, for GET /v1/audit/events, to search it.
type AuditTrail interface {
	hrgate.AuditRecorder
	hrgate.AuditReader
}

// Option configures a server.
type Option func(*Server)

// WithAudit records every request in trail: the answer is held back until
// its event is durable. Without it nothing is recorded; `serve` always
// sets it unless audit.insecure_disable is set.
func WithAudit(trail AuditTrail) Option { return func(s *Server) { s.audit = trail } }

// unaudited are the routes that answer no one in particular with nothing
// of anyone's: probes and published documents. Every other request,
// matched to a route or not, is recorded.
var unaudited = map[string]bool{
	"/healthz":               true,
	"/readyz":                true,
	"/v1/openapi.json":       true,
	"/admin/v1/openapi.json": true,
	"/.well-known/jwks.json": true,
	"/.well-known/oauth-authorization-server": true,
}

// recordRequests holds each answer back, records the request's event and
// sends the answer only once the event is durable: no request is answered
// without its event. Should the event fail to be written, the client gets
// 503 instead of the answer. Status and latency are those of the answer as
// it stood when it was recorded.
func (s *Server) recordRequests(next http.Handler) http.Handler {
	if s.audit == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unaudited[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		hw := heldWriters.Get().(*heldWriter)
		hw.w, hw.status = w, 0
		defer hw.release()
		next.ServeHTTP(hw, r)
		info := requestInfoFrom(r.Context())
		if err := s.audit.Record(r.Context(), s.requestEvent(r, info, hw.status, time.Since(start))); err != nil {
			if r.Context().Err() != nil {
				return // the client has gone; its event is still written
			}
			s.log.Error("a request was refused because its audit event could not be written", "request_id", info.id, "err", err)
			hw.reset()
			refused := &hrgate.Error{Code: hrgate.EUNAVAILABLE,
				Message: "The request could not be recorded in the audit trail, so it was not answered. Try again later.", Err: err}
			if strings.HasPrefix(r.URL.Path, "/oauth2/") {
				s.writeOAuthError(w, r, refused)
			} else {
				s.writeError(w, r, refused)
			}
			return
		}
		hw.send()
	})
}

// requestEvent describes a request for the trail. It names the credential,
// never what was presented; the route pattern, never the path or query,
// which may carry anything a client put there.
func (s *Server) requestEvent(r *http.Request, info *requestInfo, status int, latency time.Duration) *hrgate.AuditEvent {
	ev := &hrgate.AuditEvent{
		Type: s.auditType, RequestID: info.id, ClientAddr: info.client.String(), Method: r.Method, Route: info.route,
		Status: status, LatencyUS: latency.Microseconds(), Object: info.object, RecordIDs: info.recordIDs, Groups: info.groups,
		CredentialID: info.credentialID, ConsumerID: info.consumerID, Target: info.target,
	}
	if ev.CredentialID != "" {
		ev.ActorKind = hrgate.ActorConsumer
	}
	if p := info.principal; p != nil {
		ev.ActorKind, ev.Actor, ev.CredentialID, ev.ConsumerID = hrgate.ActorConsumer, p.ConsumerName, p.KeyID, p.ConsumerID
	}
	if op := info.operator; op != nil {
		ev.ActorKind, ev.Actor = hrgate.ActorAdmin, op.Name
	}
	if src := info.source; src != nil {
		ev.ActorKind, ev.Actor, ev.CredentialID = hrgate.ActorSource, src.Name, src.ID
	}
	if hrgate.ErrorCode(info.err) == hrgate.EUNAUTHORIZED {
		ev.Type, ev.Reason = hrgate.AuditAuthFailure, gate.AuthFailureReason(info.err)
		if f := gate.AuthFailureOf(info.err); f != nil {
			ev.CredentialID, ev.ConsumerID = f.CredentialID, f.ConsumerID
		}
	} else if info.auditType != "" {
		ev.Type = info.auditType
	}
	return ev
}

// accessed notes in the request what its answer returns, for its event:
// the object type, the id of every record and, for employees, the field
// groups the grant let out.
func accessed[T any](r *http.Request, object string, items []T, id func(T) string, p *gate.Principal) {
	info := requestInfoFrom(r.Context())
	info.object = object
	info.recordIDs = make([]string, len(items))
	for i, it := range items {
		info.recordIDs[i] = id(it)
	}
	if object == grant.ObjectEmployee {
		info.groups = auditGroups(p.Grant)
	}
}

// groupNames caches the field group list of each grant shape: the read
// path must not build it per request.
var groupNames sync.Map // [2]hrgate.GroupSet → []string

// auditGroups names the field groups a grant lets out of an employee,
// a masked one as "group:masked".
func auditGroups(g *grant.Grant) []string {
	key := [2]hrgate.GroupSet{g.EmployeeGroups(), g.MaskedGroups()}
	if v, ok := groupNames.Load(key); ok {
		return v.([]string)
	}
	var names []string
	for _, fg := range hrgate.FieldGroups() {
		switch {
		case key[1].Has(fg):
			names = append(names, fg.String()+":masked")
		case key[0].Has(fg):
			names = append(names, fg.String())
		}
	}
	groupNames.Store(key, names)
	return names
}

// heldWriter holds an answer back until its event is durable.
type heldWriter struct {
	w      http.ResponseWriter
	status int
	buf    []byte
	// header holds what the handler sets, apart from what the outer
	// middleware set on w, so that an answer replaced by a problem does
	// not keep the handler's Content-Length, ETag or Location.
	header http.Header
}

var heldWriters = sync.Pool{New: func() any { return &heldWriter{buf: make([]byte, 0, 16<<10), header: http.Header{}} }}

// maxPooledAnswer bounds the buffers kept for reuse.
const maxPooledAnswer = 1 << 20

func (h *heldWriter) Header() http.Header { return h.header }

func (h *heldWriter) WriteHeader(code int) {
	if h.status == 0 && code >= 200 {
		h.status = code
	}
}

func (h *heldWriter) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	h.buf = append(h.buf, b...)
	return len(b), nil
}

// reset drops the status, headers and body held, for an answer that will
// not be sent; the headers the outer middleware set stay.
func (h *heldWriter) reset() {
	h.status = 0
	h.buf = h.buf[:0]
	clear(h.header)
}

// send writes the held answer.
func (h *heldWriter) send() {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	out := h.w.Header()
	for k, v := range h.header {
		out[k] = v
	}
	h.w.WriteHeader(h.status)
	if len(h.buf) > 0 {
		_, _ = h.w.Write(h.buf)
	}
}

func (h *heldWriter) release() {
	h.w = nil
	clear(h.header)
	if cap(h.buf) > maxPooledAnswer {
		return
	}
	h.buf = h.buf[:0]
	heldWriters.Put(h)
}

package http

import (
	"net/http"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
	"github.com/hrgate/hrgate/scim"
)

// SCIMStore is what the SCIM server needs of the store beyond what the
// public API reads: the SCIM state of a source's users.
type SCIMStore interface {
	hrgate.SourceStore
	hrgate.SCIMUserStore
}

// registerSCIM mounts the SCIM 2.0 server (package scim) under /scim/v2
// when the server brings HR data in. It is described by its own
// discovery endpoints (/Schemas, /ResourceTypes), not by the /v1 OpenAPI
// document, so it is not among Routes.
func (s *Server) registerSCIM() {
	if s.sources == nil {
		return
	}
	st, ok := s.store.(SCIMStore)
	if !ok {
		s.log.Warn("the store keeps no SCIM state; /scim/v2 is not served")
		return
	}
	h := scim.NewHandler(s.sources, struct {
		hrgate.ReadStore
		hrgate.SCIMUserStore
	}{s.store, st}, scim.Options{
		MaxPayload: s.cfg.HTTP.MaxBodyBytes,
		StatusOf:   func(err error) int { return statusOf(hrgate.ErrorCode(err)) },
		WriteError: s.writeError,
		LogError: func(r *http.Request, err error) {
			s.log.Error("a SCIM Bulk operation failed", "request_id", requestID(r.Context()), "err", err)
		},
		Observe: func(r *http.Request, route string, ids []string) {
			info := requestInfoFrom(r.Context())
			info.route = route
			if ids != nil {
				info.object, info.recordIDs = "employee", ids
			}
		},
	})
	serve := func(w http.ResponseWriter, r *http.Request) { s.serveSCIM(w, r, st, h) }
	s.mux.HandleFunc(scim.Prefix+"/", serve)
	s.mux.HandleFunc(scim.Prefix, serve)
}

// isSCIM reports whether a request is for the SCIM server, whose errors
// are SCIM error responses (RFC 7644 §3.12), not problem documents.
func isSCIM(r *http.Request) bool {
	p := r.URL.Path
	return p == scim.Prefix || strings.HasPrefix(p, scim.Prefix+"/")
}

// serveSCIM authenticates the source under the limits and hands the
// request to the SCIM handler. A locked-out address is refused before the
// token is looked at; a bad token counts towards the lockout of the
// address, as a bad API key does. A source is then limited as a webhook
// source is (admitSource): like a credential, keyed by its id.
func (s *Server) serveSCIM(w http.ResponseWriter, r *http.Request, st SCIMStore, h http.Handler) {
	info := requestInfoFrom(r.Context())
	info.route = scim.Prefix
	var addr string
	l := s.limits
	if l != nil {
		addr = limits.AddrSource(info.client)
		if wait := l.bf.Locked(addr); wait > 0 {
			s.writeLockedOut(w, r, wait)
			return
		}
	}
	src, err := authenticateSource(r, st)
	if err != nil {
		if l != nil {
			s.authFailed(r, info, "", addr)
		}
		s.writeError(w, r, err)
		return
	}
	info.source = src
	if !s.admitSource(w, r, src) {
		return
	}
	if l != nil {
		defer l.inflight.release(src.ID)
	}
	h.ServeHTTP(w, r.WithContext(scim.WithSource(r.Context(), src)))
}

// authenticateSource finds the SCIM source of the request's bearer token.
// A token of the wrong shape is refused without a look-up; every refusal
// reads the same.
func authenticateSource(r *http.Request, st SCIMStore) (*hrgate.Source, error) {
	refused := hrgate.Errorf(hrgate.EUNAUTHORIZED, "A valid SCIM source token is required: Authorization: Bearer hrg_scim_….")
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || !hrgate.CheckSourceToken(token) {
		return nil, refused
	}
	src, err := st.FindSourceByTokenHash(r.Context(), hrgate.HashSourceToken(token))
	switch {
	case hrgate.ErrorCode(err) == hrgate.ENOTFOUND:
		return nil, refused
	case err != nil:
		return nil, err
	case src.Type != hrgate.SourceSCIM:
		return nil, refused
	}
	return src, nil
}

// writeSCIMError answers err on a SCIM route as a SCIM error response
// with status, the one problemStatus gives err's kind.
func writeSCIMError(w http.ResponseWriter, status int, err error) { scim.WriteError(w, status, err) }

package http

import (
	"net/http"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/limits"
)

// guardOAuth applies the limits to an OAuth endpoint before its handler
// authenticates the client: a locked-out address or named client is
// refused without its secret being checked, and the token endpoint is
// limited per client (route class token) and by the global limit, the
// other endpoints by the global limit only. It returns the client id the
// request names, unverified, for oauthFailed, or "" when what it names is
// no client id: that text is the sender's, and must reach neither a limit
// key nor the log and the audit trail. It answers refusals itself,
// as problem documents: RFC 6749 has no error code for "too many".
func (s *Server) guardOAuth(w http.ResponseWriter, r *http.Request, pattern string, req *oauthRequest) (string, bool) {
	l := s.limits
	if l == nil {
		return "", true
	}
	info := requestInfoFrom(r.Context())
	addr := limits.AddrSource(info.client)
	var named string
	if req.clientErr == nil && hrgate.ValidID(hrgate.PrefixClient, req.client.ClientID) {
		named = req.client.ClientID
	}
	// Only the address is locked out, never the client named: naming a
	// client takes no secret, so a lockout of the client would let
	// anyone lock it out (see oauthFailed).
	if locked := l.bf.Locked(addr); locked > 0 {
		s.writeLockedOut(w, r, locked)
		return "", false
	}
	var buf [2]limits.Rule
	rules := buf[:0]
	if pattern == "POST /oauth2/token" {
		if rt := l.routes["token"]; rt.limit != (limits.Limit{}) {
			// Keyed by the client named, before it is verified, and
			// by the address: a stranger naming a client spends the
			// allowance of that client at the stranger's address, not
			// the client's own.
			id := addr
			if named != "" {
				id = named + ":" + addr
			}
			rules = append(rules, limits.Rule{Key: rt.key, ID: id, Limit: rt.limit})
		}
	}
	return named, s.decide(w, r, l.global.append(rules))
}

// oauthFailed counts a failed client authentication against the address
// only. The client (the one the gate identified, or else the one the
// request named) is logged and audited but not locked out: every OAuth
// failure (a wrong secret, a bad assertion, an address outside the
// allowlist) can be caused by someone who knows only the client id, which
// is no secret, and a secret of 256 random bits needs no per-client
// lockout to resist guessing.
func (s *Server) oauthFailed(r *http.Request, named string, err error) {
	if s.limits == nil || hrgate.ErrorCode(err) != hrgate.EUNAUTHORIZED {
		return
	}
	info := requestInfoFrom(r.Context())
	cred := named
	if f := gate.AuthFailureOf(err); f != nil && f.CredentialID != "" {
		cred = f.CredentialID
	}
	s.authFailed(r, info, cred, limits.AddrSource(info.client))
}

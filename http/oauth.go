package http

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/oauth"
)

// The OAuth 2.0 endpoints speak RFC 6749, not RFC 9457: requests are
// form-encoded, errors are {"error": ..., "error_description": ...}, and
// every answer is Cache-Control: no-store. The authorization logic is in
// package gate; this file only parses and writes the protocol.

// registerOAuthRoutes registers the OAuth endpoints when the gate has an
// authority; without one they do not exist (404 like any unknown route),
// so no handler needs to ask again.
func (s *Server) registerOAuthRoutes() {
	if s.gate.Authority() == nil {
		return
	}
	s.oauthRoute("POST /oauth2/token", s.token)
	s.oauthRoute("POST /oauth2/introspect", s.introspect)
	s.oauthRoute("POST /oauth2/revoke", s.revoke)
	s.public("GET /.well-known/jwks.json", s.jwks)
	s.public("GET /.well-known/oauth-authorization-server", s.metadata)
}

// bindIssuer names the authority after the listener when the configuration
// names no issuer, which is right for one instance on a known address; a
// wildcard address makes an issuer clients cannot reach, hence the warning.
func (s *Server) bindIssuer() {
	a := s.gate.Authority()
	if a == nil {
		return
	}
	iss, err := a.BindIssuer(s.URL())
	if err != nil {
		s.log.Error("cannot derive the OAuth issuer from the listen address; set oauth.issuer", "err", err)
		return
	}
	if s.cfg.OAuth.Issuer == "" {
		host, _, _ := net.SplitHostPort(s.Addr())
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
			s.log.Warn("oauth.issuer is not set and the listener has a wildcard address; set oauth.issuer to the URL clients use",
				"issuer", iss)
		}
	}
}

// oauthHandler serves one OAuth endpoint with its request already parsed.
type oauthHandler func(w http.ResponseWriter, r *http.Request, req *oauthRequest) error

// oauthRequest is the parsed request of an OAuth endpoint: its form and
// the client credential it presents, read once (clientAuth) for the limits
// and the handler, since reading a client assertion parses a JWS.
type oauthRequest struct {
	form url.Values
	// client is the credential; clientErr, when set, says why none could
	// be read, which the handler answers.
	client    gate.ClientAuth
	clientErr error
}

// maxFormBytes bounds an OAuth request body; the largest legitimate one
// carries a client assertion and a token.
const maxFormBytes = 32 << 10

// oauthRoute registers a form-encoded OAuth endpoint. Its wrapper refuses
// anything in the query string (credentials must not travel in URLs),
// bodies that are not application/x-www-form-urlencoded, and repeated
// parameters (RFC 6749 §3.2), then applies the limits (limits_oauth.go).
func (s *Server) oauthRoute(pattern string, h oauthHandler) {
	s.addPattern(pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		requestInfoFrom(r.Context()).route = pattern
		noStore(w)
		if r.URL.RawQuery != "" {
			s.writeOAuthError(w, r, oauth.Errorf(oauth.ErrInvalidRequest,
				"Parameters belong in the form-encoded body, never in the URL."))
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			s.writeOAuthError(w, r, oauth.Errorf(oauth.ErrInvalidRequest,
				"The request body must be application/x-www-form-urlencoded."))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
		if err != nil || len(body) > maxFormBytes {
			s.writeOAuthError(w, r, oauth.Errorf(oauth.ErrInvalidRequest, "The request body is unreadable or too large."))
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			s.writeOAuthError(w, r, oauth.Errorf(oauth.ErrInvalidRequest, "The request body is not valid form encoding."))
			return
		}
		for k, v := range form {
			if len(v) > 1 {
				s.writeOAuthError(w, r, oauth.Errorf(oauth.ErrInvalidRequest, "Parameter "+hrgate.Echo(k)+" is repeated."))
				return
			}
		}
		req := &oauthRequest{form: form}
		req.client, req.clientErr = clientAuth(r, form)
		named, ok := s.guardOAuth(w, r, pattern, req)
		if !ok {
			return
		}
		if err := h(w, r, req); err != nil {
			s.oauthFailed(r, named, err)
			s.writeOAuthError(w, r, err)
		}
	})
}

func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// clientAuth reads the client's credential from the Authorization header
// (client_secret_basic), the form (client_secret_post) or a client
// assertion (private_key_jwt). Using more than one method is refused, as
// RFC 6749 §2.3 requires.
func clientAuth(r *http.Request, form url.Values) (gate.ClientAuth, error) {
	var ca gate.ClientAuth
	methods := 0
	if hdr := r.Header.Get("Authorization"); hdr != "" {
		scheme, cred, _ := strings.Cut(hdr, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return ca, oauth.Errorf(oauth.ErrInvalidRequest, "Only the Basic scheme authenticates clients here.")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		user, pass, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok {
			return ca, errClientAuth("malformed Basic credentials")
		}
		// RFC 6749 §2.3.1: both halves are form-encoded before Basic.
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return ca, errClientAuth("malformed Basic credentials")
		}
		ca.ClientID, ca.Secret = id, secret
		methods++
	}
	if form.Has("client_secret") {
		ca.Secret = form.Get("client_secret")
		methods++
	}
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		if form.Get("client_assertion_type") != oauth.AssertionType {
			return ca, oauth.Errorf(oauth.ErrInvalidRequest, "client_assertion_type must be "+oauth.AssertionType+".")
		}
		ca.Assertion = form.Get("client_assertion")
		methods++
	}
	if id := form.Get("client_id"); id != "" {
		if ca.ClientID != "" && ca.ClientID != id {
			return ca, oauth.Errorf(oauth.ErrInvalidRequest, "client_id differs from the authenticated client.")
		}
		ca.ClientID = id
	}
	if methods > 1 {
		return ca, oauth.Errorf(oauth.ErrInvalidRequest, "Use exactly one client authentication method.")
	}
	if ca.ClientID == "" && ca.Assertion != "" {
		// client_id is optional with an assertion, whose subject names the
		// client (RFC 7523 §3); the gate verifies that it does. Taking it
		// here lets the audit event of a successful request name the
		// client like one authenticated with a secret.
		ca.ClientID = oauth.AssertionSubject(ca.Assertion)
	}
	return ca, nil
}

// errClientAuth is a client authentication failure: the generic 401.
func errClientAuth(reason string) error {
	return &hrgate.Error{Code: hrgate.EUNAUTHORIZED, Message: "Client authentication failed.", Err: errors.New(reason)}
}

// tokenResponse is the successful answer of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, req *oauthRequest) error {
	form := req.form
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return oauth.Errorf(oauth.ErrInvalidRequest, "grant_type is required.")
	default:
		return oauth.Errorf(oauth.ErrUnsupportedGrantType, "Only the client_credentials grant is supported.")
	}
	if req.clientErr != nil {
		return req.clientErr
	}
	ca := req.client
	info := requestInfoFrom(r.Context())
	tok, err := s.gate.IssueToken(r.Context(), ca, form.Get("scope"), info.client)
	if err != nil {
		return err
	}
	info.auditType, info.credentialID, info.target = hrgate.AuditTokenIssued, tok.ClientID, tok.ID
	return writeValue(w, http.StatusOK, tokenResponse{
		AccessToken: tok.Value, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresAt.Sub(tok.IssuedAt).Seconds()), Scope: tok.Scope,
	})
}

// introspection is the answer of RFC 7662 §2.2.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
}

// tokenRequest checks what introspection and revocation share: the
// caller is a client, and the form must name a token.
func tokenRequest(req *oauthRequest) (gate.ClientAuth, error) {
	if req.clientErr != nil {
		return gate.ClientAuth{}, req.clientErr
	}
	if !req.form.Has("token") {
		return gate.ClientAuth{}, oauth.Errorf(oauth.ErrInvalidRequest, "token is required.")
	}
	return req.client, nil
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request, req *oauthRequest) error {
	form := req.form
	ca, err := tokenRequest(req)
	if err != nil {
		return err
	}
	in, err := s.gate.IntrospectToken(r.Context(), ca, form.Get("token"), requestInfoFrom(r.Context()).client)
	if err != nil {
		return err
	}
	requestInfoFrom(r.Context()).credentialID = ca.ClientID
	out := introspection{Active: in.Active}
	if c := in.Claims; in.Active {
		out = introspection{
			Active: true, Scope: in.Scope, ClientID: c.ClientID, TokenType: "Bearer", Exp: c.ExpiresAt.Unix(),
			Iat: c.IssuedAt.Unix(), Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, Jti: c.ID,
		}
	}
	return writeValue(w, http.StatusOK, out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, req *oauthRequest) error {
	form := req.form
	ca, err := tokenRequest(req)
	if err != nil {
		return err
	}
	// token_type_hint is only a hint (RFC 7009 §2.1); hrgate has one kind
	// of token, so it is ignored.
	if err := s.gate.RevokeToken(r.Context(), ca, form.Get("token"), requestInfoFrom(r.Context()).client); err != nil {
		return err
	}
	requestInfoFrom(r.Context()).credentialID = ca.ClientID
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	b, err := s.gate.Authority().JWKS(r.Context())
	if err != nil {
		return hrgate.Wrap(err, "JWKS")
	}
	// Successors are published a long time before they sign, so a cached
	// copy of five minutes never misses the key of a fresh token.
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Type", "application/jwk-set+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// serverMetadata is the RFC 8414 document.
type serverMetadata struct {
	Issuer                       string   `json:"issuer"`
	TokenEndpoint                string   `json:"token_endpoint"`
	JWKSURI                      string   `json:"jwks_uri"`
	IntrospectionEndpoint        string   `json:"introspection_endpoint"`
	RevocationEndpoint           string   `json:"revocation_endpoint"`
	GrantTypes                   []string `json:"grant_types_supported"`
	ResponseTypes                []string `json:"response_types_supported"`
	TokenAuthMethods             []string `json:"token_endpoint_auth_methods_supported"`
	TokenAuthSigningAlgs         []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethods     []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionAuthSigningAlgs []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevocationAuthMethods        []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationAuthSigningAlgs    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	ServiceDocumentation         string   `json:"service_documentation"`
}

var clientAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	a := s.gate.Authority()
	if a.Issuer() == "" {
		return hrgate.ErrNotFound("Route")
	}
	iss := a.Issuer()
	b, err := json.Marshal(serverMetadata{
		Issuer: iss, TokenEndpoint: a.TokenEndpoint(), JWKSURI: iss + "/.well-known/jwks.json",
		IntrospectionEndpoint: iss + "/oauth2/introspect", RevocationEndpoint: iss + "/oauth2/revoke",
		GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{},
		TokenAuthMethods: clientAuthMethods, TokenAuthSigningAlgs: oauth.AssertionAlgorithms,
		IntrospectionAuthMethods: clientAuthMethods, IntrospectionAuthSigningAlgs: oauth.AssertionAlgorithms,
		RevocationAuthMethods: clientAuthMethods, RevocationAuthSigningAlgs: oauth.AssertionAlgorithms,
		ServiceDocumentation: iss + "/v1/openapi.json",
	})
	if err != nil {
		return hrgate.Wrap(err, "encode metadata")
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, b)
	return nil
}

// oauthError is the error body of RFC 6749 §5.2.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeOAuthError answers err in the OAuth form. A failed client
// authentication is 401 invalid_client with the same description whatever
// the reason; the reason goes to the access log only.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	info := requestInfoFrom(r.Context())
	info.err = err
	status, body := http.StatusBadRequest, oauthError{Error: "invalid_request", Description: hrgate.ErrorMessage(err)}
	switch code := hrgate.ErrorCode(err); {
	case code == hrgate.EUNAUTHORIZED:
		status, body = http.StatusUnauthorized, oauthError{Error: oauth.ErrInvalidClient.Error(), Description: "Client authentication failed."}
		w.Header().Set("WWW-Authenticate", `Basic realm="hrgate", charset="UTF-8"`)
	case code == hrgate.ENOTFOUND:
		s.writeError(w, r, err)
		return
	case code == hrgate.EINVALID:
		for _, pe := range oauth.ProtocolErrors {
			if errors.Is(err, pe) {
				body.Error = pe.Error()
			}
		}
	case code == hrgate.EUNAVAILABLE:
		status, body = http.StatusServiceUnavailable, oauthError{Error: "temporarily_unavailable", Description: "Try again later."}
	default:
		status, body = http.StatusInternalServerError, oauthError{Error: "server_error", Description: "Internal error."}
	}
	_ = writeValue(w, status, body)
}

package http

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/view"
)

//go:embed admin-openapi.json
var adminOpenAPIDocument []byte

// AdminOpenAPIDocument returns the OpenAPI 3.1 description of the admin API.
func AdminOpenAPIDocument() []byte { return adminOpenAPIDocument }

// NewAdminServer builds the admin API server: consumers, keys, key
// deliveries, OAuth clients and employee erasure, managed through the same
// gate methods as the CLI. It listens
// on admin.addr, with the same TLS settings as the public API, and every
// route but its OpenAPI document requires auth.
func NewAdminServer(cfg *config.Config, store hrgate.Store, g *gate.Gate, auth AdminAuthenticator, log *slog.Logger, opts ...Option) (*Server, error) {
	if auth == nil {
		return nil, errors.New("the admin API needs an authenticator")
	}
	s := &Server{
		cfg:     cfg,
		store:   store,
		gate:    g,
		log:     log,
		mux:     http.NewServeMux(),
		methods: make(map[string][]string),
		addr:    cfg.Admin.Addr,
		docPath: "/admin/v1/openapi.json",
		admin:   auth,

		auditType: hrgate.AuditAdminRequest,
	}
	for _, o := range opts {
		o(s)
	}
	s.registerAdminRoutes()
	s.handler = s.chain()
	return s, nil
}

// adminHandler serves one authenticated admin route with its query
// already checked.
type adminHandler func(w http.ResponseWriter, r *http.Request, q query, op *Operator) error

// adminRoute registers an admin route. Its wrapper checks Accept, refuses
// query parameters other than those listed, and authenticates the
// operator before the handler runs.
func (s *Server) adminRoute(pattern string, params []string, h adminHandler) {
	s.addPattern(pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		info, q, ok := s.admit(w, r, pattern, params)
		if !ok {
			return
		}
		op, err := s.admin.AuthenticateAdmin(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		info.operator = op
		// The gate records the changes this request makes as this
		// operator's.
		r = r.WithContext(hrgate.WithActor(r.Context(), hrgate.Actor{
			Kind: hrgate.ActorAdmin, Name: op.Name, ClientAddr: info.client.String(), RequestID: info.id,
		}))
		if err := h(w, r, q, op); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) registerAdminRoutes() {
	s.public("GET /admin/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, adminOpenAPIDocument)
		return nil
	})

	s.adminRoute("GET /admin/v1/consumers", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		cs, err := s.gate.Consumers(r.Context())
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, dataOf(view.All(cs, view.NewConsumer)))
	})
	s.adminRoute("POST /admin/v1/consumers", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Scopes      []string        `json:"scopes"`
			RateLimit   *view.RateLimit `json:"rate_limit"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		limit, err := parseRateLimit(body.RateLimit, memberLimitFields)
		if err != nil {
			return err
		}
		c, err := s.gate.CreateConsumerWith(r.Context(), gate.ConsumerRequest{
			Name: body.Name, Description: body.Description, Scopes: body.Scopes, RateLimit: limit,
		})
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusCreated, view.NewConsumer(c))
	})
	s.adminRoute("GET /admin/v1/consumers/{consumer}", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		c, err := s.gate.Consumer(r.Context(), r.PathValue("consumer"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewConsumer(c))
	})
	s.adminRoute("PUT /admin/v1/consumers/{consumer}/grant", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Scopes []string `json:"scopes"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		c, err := s.gate.SetGrant(r.Context(), r.PathValue("consumer"), body.Scopes)
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewConsumer(c))
	})
	s.adminRoute("PUT /admin/v1/consumers/{consumer}/key-rotation", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			MaxAge string  `json:"max_age"`
			Grace  *string `json:"grace"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		maxAge, err := bodyDuration("max_age", body.MaxAge)
		if err != nil {
			return err
		}
		grace := gate.DefaultGrace
		if body.Grace != nil {
			if grace, err = bodyDuration("grace", *body.Grace); err != nil {
				return err
			}
		}
		c, err := s.gate.SetKeyRotation(r.Context(), r.PathValue("consumer"), hrgate.KeyRotation{MaxAge: maxAge, Grace: grace})
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewConsumer(c))
	})
	s.adminRoute("PUT /admin/v1/consumers/{consumer}/rate-limit", nil, putRateLimit("consumer", s.gate.SetConsumerRateLimit, view.NewConsumer))
	s.adminRoute("DELETE /admin/v1/consumers/{consumer}", nil, deleteBy("consumer", s.gate.DeleteConsumer))

	s.adminRoute("GET /admin/v1/keys", []string{"consumer", "stale", "expiring"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		th := view.DefaultThresholds
		var err error
		if v := q.get("stale"); v != "" {
			if th.Stale, err = bodyDuration("stale", v); err != nil {
				return err
			}
		}
		if v := q.get("expiring"); v != "" {
			if th.Expiring, err = bodyDuration("expiring", v); err != nil {
				return err
			}
		}
		keys, err := view.ListKeys(r.Context(), s.gate, q.get("consumer"), th)
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, dataOf(keys))
	})
	s.adminRoute("POST /admin/v1/keys", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Consumer    string          `json:"consumer"`
			Scopes      []string        `json:"scopes"`
			Test        bool            `json:"test"`
			Description string          `json:"description"`
			AllowCIDRs  []string        `json:"allow_cidrs"`
			ExpiresIn   string          `json:"expires_in"`
			RateLimit   *view.RateLimit `json:"rate_limit"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		limit, err := parseRateLimit(body.RateLimit, memberLimitFields)
		if err != nil {
			return err
		}
		var expiresIn time.Duration
		if body.ExpiresIn != "" {
			var err error
			if expiresIn, err = bodyDuration("expires_in", body.ExpiresIn); err != nil {
				return err
			}
			if expiresIn == 0 {
				return hrgate.Errorf(hrgate.EINVALID, "\"expires_in\" must be longer than 0; every key expires.")
			}
		}
		k, secret, err := s.gate.CreateKey(r.Context(), gate.KeyRequest{
			Consumer: body.Consumer, Scopes: body.Scopes, Test: body.Test, Description: body.Description,
			AllowCIDRs: body.AllowCIDRs, ExpiresIn: expiresIn, RateLimit: limit,
		})
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusCreated, view.NewKeySecret(k, secret, nil))
	})
	s.adminRoute("POST /admin/v1/keys/{id}/rotate", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Grace *string `json:"grace"`
		}
		if err := decodeOptionalBody(r, &body); err != nil {
			return err
		}
		grace := gate.DefaultGrace
		if body.Grace != nil {
			var err error
			if grace, err = bodyDuration("grace", *body.Grace); err != nil {
				return err
			}
		}
		next, secret, old, err := s.gate.RotateKey(r.Context(), r.PathValue("id"), grace)
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusCreated, view.NewKeySecret(next, secret, old))
	})
	s.adminRoute("PUT /admin/v1/keys/{id}/rate-limit", nil, putRateLimit("id", s.gate.SetKeyRateLimit, s.keyView))
	s.adminRoute("POST /admin/v1/keys/{id}/revoke", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		ctx := r.Context()
		if err := s.gate.RevokeKey(ctx, r.PathValue("id")); err != nil {
			return err
		}
		k, err := s.gate.Key(ctx, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, s.keyView(k))
	})
	s.adminRoute("POST /admin/v1/key-deliveries/take", []string{"consumer"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		ds, err := s.gate.TakeKeyDeliveries(r.Context(), q.get("consumer"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, dataOf(view.NewDeliveries(ds)))
	})

	s.adminRoute("POST /admin/v1/employees/{id}/erase", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		id := r.PathValue("id")
		if err := s.gate.EraseEmployee(r.Context(), id); err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, map[string]any{"id": id, "erased": true})
	})

	s.adminRoute("GET /admin/v1/clients", []string{"consumer"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		cs, err := s.gate.Clients(r.Context(), q.get("consumer"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, dataOf(view.All(cs, view.NewClient)))
	})
	s.adminRoute("POST /admin/v1/clients", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Consumer    string          `json:"consumer"`
			Scopes      []string        `json:"scopes"`
			AllowCIDRs  []string        `json:"allow_cidrs"`
			Description string          `json:"description"`
			JWK         json.RawMessage `json:"jwk"`
			RateLimit   *view.RateLimit `json:"rate_limit"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		limit, err := parseRateLimit(body.RateLimit, memberLimitFields)
		if err != nil {
			return err
		}
		c, secret, err := s.gate.CreateClient(r.Context(), gate.ClientRequest{
			Consumer: body.Consumer, Scopes: body.Scopes, AllowCIDRs: body.AllowCIDRs,
			Description: body.Description, JWK: body.JWK, RateLimit: limit,
		})
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusCreated, view.NewClientSecret{Client: view.NewClient(c), ClientSecret: secret})
	})
	s.adminRoute("PUT /admin/v1/clients/{id}/rate-limit", nil, putRateLimit("id", s.gate.SetClientRateLimit, view.NewClient))
	s.adminRoute("DELETE /admin/v1/clients/{id}", nil, deleteBy("id", s.gate.DeleteClient))
	if s.sources != nil {
		s.registerAdminSourceRoutes()
	}
	s.registerWebhookRoutes()
	s.finishRoutes()
}

// keyView is the view of k now.
func (s *Server) keyView(k *hrgate.APIKey) view.Key { return view.NewKey(k, s.gate.Now()) }

// putRateLimit is the handler of a PUT of …/rate-limit: it reads the whole
// new limit from the body, gives it to set for the item the path's param
// names, and answers with the item's view as set returns it.
func putRateLimit[T, V any](param string, set func(context.Context, string, hrgate.RateLimit) (T, error), toView func(T) V) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		limit, err := decodeRateLimit(r)
		if err != nil {
			return err
		}
		item, err := set(r.Context(), r.PathValue(param), limit)
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, toView(item))
	}
}

// deleteBy is the handler of a DELETE: del removes the item the path's
// param names, and the answer is 204 with no body.
func deleteBy(param string, del func(context.Context, string) error) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		if err := del(r.Context(), r.PathValue(param)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// dataOf wraps a list in the {"data": [...]} envelope the APIs share.
func dataOf[T any](items []T) map[string][]T { return map[string][]T{"data": items} }

// writeValue answers with v as JSON and the given status. Like every
// answer, it is marked Cache-Control: no-store by securityHeaders, which
// matters here: admin and OAuth answers carry new secrets.
func writeValue(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return hrgate.Wrap(err, "encode response")
	}
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// decodeBody reads a JSON object into v: Content-Type application/json,
// no unknown fields, nothing after the object. Its errors say what is wrong
// with the body without echoing it.
func decodeBody(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return hrgate.Errorf(hrgate.EINVALID, "Send the request body as JSON with Content-Type: application/json.")
	}
	return decodeJSON(r.Body, v)
}

// decodeOptionalBody is decodeBody for routes whose body may be empty.
func decodeOptionalBody(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decodeBody(r, v)
}

func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: it must hold exactly one object.")
	}
	return nil
}

func bodyError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return hrgate.Errorf(hrgate.ETOOLARGE, "Request body exceeds the limit of %d bytes.", maxErr.Limit)
	case errors.As(err, &syntaxErr):
		return hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: syntax error at byte %d.", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: %q must be %s.", typeErr.Field, typeErr.Type.String())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: it is empty or cut short.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: unknown field %s.", hrgate.Echo(strings.TrimPrefix(err.Error(), "json: unknown field ")))
	}
	return hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body.")
}

// The names errors give the parts: members of "rate_limit" in a create
// body, the body's own members in a PUT of …/rate-limit.
var (
	memberLimitFields = gate.LimitFields{Rate: `"rate_limit.rate"`, Burst: `"rate_limit.burst"`, Quota: `"rate_limit.quota"`}
	bodyLimitFields   = gate.LimitFields{Rate: `"rate"`, Burst: `"burst"`, Quota: `"quota"`}
)

// parseRateLimit returns the limit b describes, the defaults when b is
// nil; errors are EINVALID and name the member. The admin API reads a
// limit in the shape it answers with, view.RateLimit: {"rate": "50/s",
// "burst": 100, "quota": "20000/day"}. An absent part, "" or "default" (0
// for the burst) is the configured default, so {} returns every part to
// the defaults.
func parseRateLimit(b *view.RateLimit, f gate.LimitFields) (hrgate.RateLimit, error) {
	if b == nil {
		return hrgate.RateLimit{}, nil
	}
	return gate.ParseRateLimit(b.Rate, b.Burst, b.Quota, f)
}

// decodeRateLimit reads the body of a PUT of …/rate-limit: the whole new
// limit, replacing the old one.
func decodeRateLimit(r *http.Request) (hrgate.RateLimit, error) {
	var body view.RateLimit
	if err := decodeBody(r, &body); err != nil {
		return hrgate.RateLimit{}, err
	}
	return parseRateLimit(&body, bodyLimitFields)
}

// bodyDuration reads a duration field or query parameter ("90d", "24h").
// The refusal names the field and the form, never the value given, which
// may be anything a caller pasted there, a secret included.
func bodyDuration(field, v string) (time.Duration, error) {
	d, err := hrgate.ParseDuration(v)
	if err != nil {
		return 0, hrgate.Errorf(hrgate.EINVALID, "Invalid %q: give a duration such as 90d, 36h or 30m, at most 100 years.", field)
	}
	return d, nil
}

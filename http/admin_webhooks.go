package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/view"
	"github.com/hrgate/hrgate/webhooks"
)

// WithWebhooks serves webhook endpoint management on the admin API
// through svc, the same service as `hrgate webhooks`. Without it those
// routes are not registered.
func WithWebhooks(svc *webhooks.Service) Option { return func(s *Server) { s.webhooks = svc } }

// registerWebhookRoutes serves webhook endpoint management on the admin
// API, when the server has the webhooks service.
func (s *Server) registerWebhookRoutes() {
	svc := s.webhooks
	if svc == nil {
		return
	}

	s.adminRoute("GET /admin/v1/webhooks", []string{"consumer"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		es, err := svc.Endpoints(r.Context(), q.get("consumer"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, dataOf(view.All(es, view.NewWebhookEndpoint)))
	})
	s.adminRoute("POST /admin/v1/webhooks", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Consumer    string   `json:"consumer"`
			URL         string   `json:"url"`
			EventTypes  []string `json:"event_types"`
			Description string   `json:"description"`
			AllowHTTP   bool     `json:"allow_http"`
			Mode        string   `json:"mode"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		e, secret, err := svc.Create(r.Context(), webhooks.EndpointRequest{Consumer: body.Consumer, URL: body.URL, EventTypes: body.EventTypes,
			Description: body.Description, AllowHTTP: body.AllowHTTP, Mode: body.Mode})
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusCreated, struct {
			view.WebhookEndpoint
			Secret string `json:"secret"`
		}{view.NewWebhookEndpoint(e), secret})
	})
	// Deliveries and replays live beside /admin/v1/webhooks/{id}, not
	// under it: a literal sibling of {id} would conflict with the
	// method-less 405 patterns of the router.
	s.adminRoute("GET /admin/v1/webhook-deliveries", []string{"endpoint", "event", "status", "limit"},
		func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
			f := hrgate.DeliveryFilter{EndpointID: q.get("endpoint"), EventID: q.get("event"), Status: q.get("status")}
			if v := q.get("limit"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 1000 {
					return hrgate.Errorf(hrgate.EINVALID, "\"limit\" must be a whole number from 1 to 1000.")
				}
				f.Limit = n
			}
			ds, err := svc.Deliveries(r.Context(), f)
			if err != nil {
				return err
			}
			out := make([]view.WebhookDelivery, len(ds))
			for i, d := range ds {
				out[i] = view.NewWebhookDelivery(d, nil)
			}
			return writeValue(w, http.StatusOK, dataOf(out))
		})
	s.adminRoute("GET /admin/v1/webhook-deliveries/{id}", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		d, attempts, err := svc.Delivery(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewWebhookDelivery(d, attempts))
	})
	s.adminRoute("POST /admin/v1/webhook-replays", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			EventID  string `json:"event_id"`
			Since    string `json:"since"`
			Endpoint string `json:"endpoint"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		var since time.Time
		if body.Since != "" {
			var err error
			if since, err = time.Parse(time.RFC3339, body.Since); err != nil {
				return hrgate.Errorf(hrgate.EINVALID, "\"since\" must be an RFC 3339 time such as 2026-05-01T00:00:00Z.")
			}
		}
		ds, err := svc.Replay(r.Context(), body.EventID, since, body.Endpoint)
		if err != nil {
			return err
		}
		out := make([]view.WebhookDelivery, len(ds))
		for i, d := range ds {
			out[i] = view.NewWebhookDelivery(d, nil)
		}
		return writeValue(w, http.StatusCreated, dataOf(out))
	})
	s.adminRoute("GET /admin/v1/webhooks/{id}", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		e, err := svc.Endpoint(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewWebhookEndpoint(e))
	})
	s.adminRoute("POST /admin/v1/webhooks/{id}/disable", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeOptionalBody(r, &body); err != nil {
			return err
		}
		e, err := svc.Disable(r.Context(), r.PathValue("id"), body.Reason)
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewWebhookEndpoint(e))
	})
	s.adminRoute("POST /admin/v1/webhooks/{id}/enable", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		e, err := svc.Enable(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewWebhookEndpoint(e))
	})
	s.adminRoute("POST /admin/v1/webhooks/{id}/rotate-secret", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		id := r.PathValue("id")
		secret, until, err := svc.RotateSecret(r.Context(), id)
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusCreated, view.WebhookSecret{ID: id, Secret: secret, OverlapUntil: &until})
	})
	s.adminRoute("DELETE /admin/v1/webhooks/{id}", nil, deleteBy("id", svc.Delete))
}

package http

import (
	"net/http"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/view"
	"github.com/hrgate/hrgate/sources"
)

// newSource is the answer to creating a source: the source and its
// credential, shown this once (a SCIM source's token, a webhook
// source's secret; a CSV source has none).
type newSource struct {
	view.Source
	sources.Credential
}

// registerAdminSourceRoutes registers source management on the admin
// API, through the same sources.Service methods as `hrgate sources`.
// Sources are named by id or name, as on the command line.
func (s *Server) registerAdminSourceRoutes() {
	s.adminRoute("GET /admin/v1/sources", []string{"company"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		ss, err := s.sources.Sources(r.Context(), q.get("company"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, dataOf(view.All(ss, view.NewSource)))
	})
	s.adminRoute("POST /admin/v1/sources", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		var body struct {
			Name    string `json:"name"`
			Company string `json:"company"`
			Type    string `json:"type"`
		}
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		if body.Company == "" {
			return hrgate.Errorf(hrgate.EINVALID, `"company" is required: the slug or id of the company whose data the source brings.`)
		}
		src, cred, err := s.sources.Create(r.Context(), body.Name, body.Company, hrgate.SourceType(body.Type))
		if err != nil {
			return err
		}
		requestInfoFrom(r.Context()).target = src.ID
		return writeValue(w, http.StatusCreated, newSource{view.NewSource(src), cred})
	})
	s.adminRoute("GET /admin/v1/sources/{id}", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		src, err := s.sources.Source(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeValue(w, http.StatusOK, view.NewSource(src))
	})
	s.adminRoute("DELETE /admin/v1/sources/{id}", nil, deleteBy("id", s.sources.Delete))
	s.adminRoute("POST /admin/v1/sources/{id}/rotate-credential", nil, func(w http.ResponseWriter, r *http.Request, _ query, _ *Operator) error {
		src, cred, err := s.sources.RotateCredential(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		requestInfoFrom(r.Context()).target = src.ID
		return writeValue(w, http.StatusCreated, newSource{view.NewSource(src), cred})
	})
	s.adminRoute("GET /admin/v1/sources/{id}/runs", []string{"limit"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		src, err := s.sources.Source(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		limit, err := q.limit(20, 1000)
		if err != nil {
			return err
		}
		return s.writeRuns(w, r, src, limit)
	})
	s.adminRoute("POST /admin/v1/sources/{id}/imports", []string{"mode"}, func(w http.ResponseWriter, r *http.Request, q query, _ *Operator) error {
		src, err := s.sources.Source(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		requestInfoFrom(r.Context()).target = src.ID
		return s.importCSV(w, r, src, q)
	})
}

package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sources"
)

// Prefix is where Handler is mounted.
const Prefix = "/scim/v2"

// Options configure a Handler.
type Options struct {
	// MaxPayload is the largest request body read, advertised as the
	// Bulk maxPayloadSize; 1 MiB when zero.
	MaxPayload int64
	// Now and Random default to time.Now and crypto/rand.
	Now    func() time.Time
	Random io.Reader
	// Observe, when set, learns each request's route pattern (for the
	// access log and the audit trail) and the ids of the users it read
	// or wrote.
	Observe func(r *http.Request, route string, ids []string)
	// StatusOf returns the HTTP status of an error that is not a SCIM
	// error, by its kind: the transport's one table of error kinds. Bulk
	// answers a failed operation with it, and WriteError's default with
	// it. When nil, every such error is 500.
	StatusOf func(err error) int
	// WriteError, when set, answers errors instead of WriteError, so that
	// the transport can log their causes; it must answer SCIM errors.
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// LogError, when set, learns the cause of an internal error that one
	// Bulk operation answers inside the request's 200 response, which
	// WriteError never sees: the operation's result says only "Internal
	// error.".
	LogError func(r *http.Request, err error)
}

// Handler serves the SCIM 2.0 endpoints of one source. The transport
// authenticates the source and puts it in the request's context
// (WithSource); every operation is scoped to it.
type Handler struct {
	svc        *service
	maxPayload int64
	statusOf   func(err error) int
	observe    func(r *http.Request, route string, ids []string)
	writeError func(w http.ResponseWriter, r *http.Request, err error)
	logError   func(r *http.Request, err error)
}

// NewHandler returns a Handler writing through svc and reading from store.
func NewHandler(svc *sources.Service, store Store, opts Options) *Handler {
	h := &Handler{svc: &service{sources: svc, store: store, now: opts.Now, random: opts.Random},
		maxPayload: opts.MaxPayload, statusOf: opts.StatusOf, observe: opts.Observe, writeError: opts.WriteError, logError: opts.LogError}
	if h.svc.now == nil {
		h.svc.now = time.Now
	}
	if h.svc.random == nil {
		h.svc.random = rand.Reader
	}
	if h.maxPayload <= 0 {
		h.maxPayload = 1 << 20
	}
	if h.statusOf == nil {
		h.statusOf = func(error) int { return http.StatusInternalServerError }
	}
	if h.writeError == nil {
		h.writeError = func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, h.statusOf(err), err) }
	}
	if h.logError == nil {
		h.logError = func(*http.Request, error) {}
	}
	if h.observe == nil {
		h.observe = func(*http.Request, string, []string) {}
	}
	return h
}

type sourceKey struct{}

// WithSource returns ctx carrying the authenticated source.
func WithSource(ctx context.Context, src *hrgate.Source) context.Context {
	return context.WithValue(ctx, sourceKey{}, src)
}

func sourceFrom(ctx context.Context) *hrgate.Source {
	src, _ := ctx.Value(sourceKey{}).(*hrgate.Source)
	return src
}

// ServeHTTP routes a request under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	src := sourceFrom(r.Context())
	if src == nil {
		h.writeError(w, r, &Error{Status: 401, Detail: "A SCIM source token is required."})
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, Prefix)
	rest = strings.TrimSuffix(rest, "/")
	resource, id, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	if strings.Contains(id, "/") {
		h.observe(r, Prefix+"/", nil)
		h.writeError(w, r, &Error{Status: 404, Detail: "No such endpoint."})
		return
	}
	if !acceptsSCIM(r.Header.Get("Accept")) {
		h.writeError(w, r, &Error{Status: 406, Detail: "This endpoint answers application/scim+json or application/json."})
		return
	}
	var err error
	switch {
	case resource == "Users" && id == "":
		err = h.users(w, r, src)
	case resource == "Users" && id == ".search":
		err = h.search(w, r, src)
	case resource == "Users":
		err = h.user(w, r, src, id)
	case resource == "Bulk" && id == "":
		h.observe(r, "POST "+Prefix+"/Bulk", nil)
		if r.Method != http.MethodPost {
			err = notAllowed(w, "POST")
			break
		}
		err = h.bulk(w, r, src)
	case resource == "ServiceProviderConfig" && id == "":
		err = h.document(w, r, Prefix+"/ServiceProviderConfig", h.spConfig(r))
	case resource == "Schemas":
		err = h.discovery(w, r, Prefix+"/Schemas", id, schemaDocs(r))
	case resource == "ResourceTypes":
		err = h.discovery(w, r, Prefix+"/ResourceTypes", id, resourceTypeDocs(r))
	default:
		// Groups among them: hrgate keeps no groups (docs/scim.md).
		h.observe(r, Prefix+"/", nil)
		err = &Error{Status: 404, Detail: "No such endpoint; this server serves Users only."}
	}
	if err != nil {
		h.writeError(w, r, err)
	}
}

func notAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &Error{Status: 405, Detail: "Method not allowed here; allowed: " + allow + "."}
}

// acceptsSCIM reports whether an Accept header admits a SCIM answer.
func acceptsSCIM(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "*/*", "application/*", "application/json", ContentType:
			return true
		}
	}
	return false
}

// base returns the absolute URL of the Users endpoint, for Location,
// meta.location and manager.$ref.
func base(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + Prefix + "/Users"
}

// readBody reads and decodes a JSON request body into v, refusing one
// over the payload limit (413), a content type that is not JSON, and
// malformed JSON (400 invalidSyntax).
func (h *Handler) readBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != ContentType && mt != "application/json") {
			return &Error{Status: 415, Detail: "Send the body as application/scim+json or application/json."}
		}
	}
	if r.ContentLength > h.maxPayload {
		return &Error{Status: 413, Detail: "The request body exceeds maxPayloadSize (" + strconv.FormatInt(h.maxPayload, 10) + " bytes)."}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.maxPayload+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || int64(len(b)) > h.maxPayload {
		return &Error{Status: 413, Detail: "The request body exceeds maxPayloadSize (" + strconv.FormatInt(h.maxPayload, 10) + " bytes)."}
	}
	if err != nil {
		return hrgate.Wrap(err, "read SCIM body")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return invalidSyntax("The body is not valid JSON of the expected shape.")
	}
	if dec.More() {
		return invalidSyntax("The body holds more than one JSON value.")
	}
	return nil
}

// writeJSON answers v with status and the SCIM content type.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return hrgate.Wrap(err, "encode SCIM answer")
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// writeUser answers one user with its ETag, projected by the attributes
// and excludedAttributes parameters.
func writeUser(w http.ResponseWriter, r *http.Request, status int, u *user) error {
	doc := render(u, base(r), false)
	doc, err := project(doc, r.URL.Query())
	if err != nil {
		return err
	}
	w.Header().Set("ETag", u.version())
	if status == http.StatusCreated {
		w.Header().Set("Location", base(r)+"/"+u.e.ID)
	}
	return writeJSON(w, status, doc)
}

// users serves /Users: GET lists, POST creates.
func (h *Handler) users(w http.ResponseWriter, r *http.Request, src *hrgate.Source) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.observe(r, "GET "+Prefix+"/Users", nil)
		q := r.URL.Query()
		return h.listUsers(w, r, src, q.Get("filter"), q.Get("startIndex"), q.Get("count"))
	case http.MethodPost:
		h.observe(r, "POST "+Prefix+"/Users", nil)
		var raw map[string]any
		if err := h.readBody(r, &raw); err != nil {
			return err
		}
		u, err := h.svc.create(r.Context(), src, normalize(raw))
		if err != nil {
			return err
		}
		h.observe(r, "POST "+Prefix+"/Users", []string{u.e.ID})
		return writeUser(w, r, http.StatusCreated, u)
	}
	return notAllowed(w, "GET, POST")
}

// search serves POST /Users/.search (RFC 7644 §3.4.3).
func (h *Handler) search(w http.ResponseWriter, r *http.Request, src *hrgate.Source) error {
	h.observe(r, "POST "+Prefix+"/Users/.search", nil)
	if r.Method != http.MethodPost {
		return notAllowed(w, "POST")
	}
	var req struct {
		Filter     string `json:"filter"`
		StartIndex *int   `json:"startIndex"`
		Count      *int   `json:"count"`
	}
	if err := h.readBody(r, &req); err != nil {
		return err
	}
	start, count := "", ""
	if req.StartIndex != nil {
		start = strconv.Itoa(*req.StartIndex)
	}
	if req.Count != nil {
		count = strconv.Itoa(*req.Count)
	}
	return h.listUsers(w, r, src, req.Filter, start, count)
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, src *hrgate.Source, filterText, startText, countText string) error {
	var f filter
	if filterText != "" {
		var err error
		if f, err = parseFilter(filterText); err != nil {
			return err
		}
	}
	start, count := 1, defaultCount
	if startText != "" {
		n, err := strconv.Atoi(startText)
		if err != nil {
			return invalidValue("startIndex must be an integer.")
		}
		start = max(n, 1) // RFC 7644 §3.4.2.4: less than 1 is 1
	}
	if countText != "" {
		n, err := strconv.Atoi(countText)
		if err != nil {
			return invalidValue("count must be an integer.")
		}
		count = min(max(n, 0), maxCount)
	}
	p, err := h.svc.list(r.Context(), src, f, start, count, base(r))
	if err != nil {
		return err
	}
	resources := make([]any, 0, len(p.users))
	ids := make([]string, 0, len(p.users))
	for _, u := range p.users {
		doc, err := project(render(u, base(r), false), r.URL.Query())
		if err != nil {
			return err
		}
		resources = append(resources, doc)
		ids = append(ids, u.e.ID)
	}
	h.observe(r, "GET "+Prefix+"/Users", ids)
	return writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{schemaListResponse},
		"totalResults": p.total,
		"startIndex":   start,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	})
}

// user serves /Users/{id}.
func (h *Handler) user(w http.ResponseWriter, r *http.Request, src *hrgate.Source, id string) error {
	ctx := r.Context()
	route := r.Method + " " + Prefix + "/Users/{id}"
	if r.Method == http.MethodHead {
		route = "GET " + Prefix + "/Users/{id}"
	}
	h.observe(r, route, nil)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		u, err := h.svc.get(ctx, src, id, rendered)
		if err != nil {
			return err
		}
		h.observe(r, route, []string{u.e.ID})
		if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, u.version()) {
			w.Header().Set("ETag", u.version())
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return writeUser(w, r, http.StatusOK, u)
	case http.MethodPut:
		var raw map[string]any
		if err := h.readBody(r, &raw); err != nil {
			return err
		}
		u, err := h.svc.replace(ctx, src, id, normalize(raw), r.Header.Get("If-Match"))
		if err != nil {
			return err
		}
		h.observe(r, route, []string{u.e.ID})
		return writeUser(w, r, http.StatusOK, u)
	case http.MethodPatch:
		var req struct {
			Schemas    []string  `json:"schemas"`
			Operations []patchOp `json:"Operations"`
		}
		if err := h.readBody(r, &req); err != nil {
			return err
		}
		if !hasSchema(req.Schemas, schemaPatchOp) {
			return invalidSyntax("A PATCH body is a PatchOp message: schemas must hold " + schemaPatchOp + ".")
		}
		u, err := h.svc.patch(ctx, src, id, req.Operations, r.Header.Get("If-Match"))
		if err != nil {
			return err
		}
		h.observe(r, route, []string{u.e.ID})
		return writeUser(w, r, http.StatusOK, u)
	case http.MethodDelete:
		if err := h.svc.remove(ctx, src, id, r.Header.Get("If-Match")); err != nil {
			return err
		}
		h.observe(r, route, []string{id})
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return notAllowed(w, "DELETE, GET, PATCH, PUT")
}

func hasSchema(list []string, urn string) bool {
	for _, s := range list {
		if strings.EqualFold(s, urn) {
			return true
		}
	}
	return false
}

// matchesETag reports whether an If-None-Match list names version (weak
// comparison, RFC 9110 §8.8.3.2).
func matchesETag(list, version string) bool {
	weak := strings.TrimPrefix(version, "W/")
	for _, tag := range strings.Split(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == weak {
			return true
		}
	}
	return false
}

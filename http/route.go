package http

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
)

// apiHandler serves one authenticated /v1 route with its query already
// checked and its principal authenticated.
type apiHandler func(w http.ResponseWriter, r *http.Request, q query, p *gate.Principal) error

// route registers an authenticated API route. Its wrapper runs, in order:
// the Accept check, the strict query check, and authentication under the
// limits (limits.go).
func (s *Server) route(pattern string, params []string, h apiHandler) {
	s.addPattern(pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		info, q, ok := s.admit(w, r, pattern, params)
		if !ok {
			return
		}
		p, ok := s.authorize(w, r, info, pattern)
		if !ok {
			return
		}
		defer s.finish(p)
		if err := h(w, r, q, p); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// admit makes the checks every authenticated JSON route makes before it
// authenticates: it names the route for the access log, then checks the
// Accept header and the query, answering the problem itself when one
// fails.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, pattern string, params []string) (*requestInfo, query, bool) {
	info := requestInfoFrom(r.Context())
	info.route = pattern
	if !acceptsJSON(r.Header.Get("Accept")) {
		s.writeError(w, r, hrgate.Errorf(hrgate.ENOTACCEPTABLE, "This API answers only application/json; send Accept: application/json."))
		return info, query{}, false
	}
	q, err := parseQuery(r.URL.RawQuery, params)
	if err != nil {
		s.writeError(w, r, err)
		return info, query{}, false
	}
	return info, q, true
}

// public registers an unauthenticated route.
func (s *Server) public(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.addPattern(pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		requestInfoFrom(r.Context()).route = pattern
		if _, err := parseQuery(r.URL.RawQuery, nil); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// addPattern remembers the methods of each path so that the other methods
// get 405 with an Allow header instead of 404.
func (s *Server) addPattern(pattern string) {
	method, path, _ := strings.Cut(pattern, " ")
	if _, ok := s.methods[path]; !ok {
		s.paths = append(s.paths, path)
	}
	s.methods[path] = append(s.methods[path], method)
	if method == http.MethodGet {
		s.methods[path] = append(s.methods[path], http.MethodHead)
	}
}

// finishRoutes registers the 405 handlers and the catch-all 404.
func (s *Server) finishRoutes() {
	for _, path := range s.paths {
		allow := slices.Clone(s.methods[path])
		slices.Sort(allow)
		allowHeader := strings.Join(slices.Compact(allow), ", ")
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			requestInfoFrom(r.Context()).route = path
			w.Header().Set("Allow", allowHeader)
			s.writeError(w, r, hrgate.Errorf(hrgate.EMETHODNOTALLOW, "Method %s is not allowed here; allowed: %s.", hrgate.Echo(r.Method), allowHeader))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, hrgate.Errorf(hrgate.ENOTFOUND, "No such route. The API is described at %s.", s.docPath))
	})
}

// authenticate reads the bearer credential. Only the Authorization header
// is accepted; any other scheme counts as no credential.
func (s *Server) authenticate(r *http.Request) (*gate.Principal, error) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		token = ""
	}
	return s.gate.Authenticate(r.Context(), strings.TrimSpace(token), requestInfoFrom(r.Context()).client)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// contentTypeJSON is shared by every response, as the security headers
// are: handlers replace header values, never append to them in place.
var contentTypeJSON = []string{"application/json"}

// writeJSON writes body as a 200 application/json response.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// listSpec describes one list route: how to fetch a page and how to write
// an item. The paging, cursor and envelope logic is shared by every list.
type listSpec[T any] struct {
	route string
	// object names the type of the items in audit events.
	object string
	fetch  func(ctx context.Context, rd *gate.Reader, q query, page hrgate.Page) ([]T, error)
	id     func(T) string
	append func(dst []byte, item T, p *gate.Principal) []byte
}

func serveList[T any](s *Server, spec listSpec[T]) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, q query, p *gate.Principal) error {
		limit, err := q.limit(s.cfg.API.DefaultPageSize, s.cfg.API.MaxPageSize)
		if err != nil {
			return err
		}
		qh := queryHash(spec.route, p.KeyID, q)
		after, err := s.cursors.decode(q.get("cursor"), qh)
		if err != nil {
			return err
		}
		items, err := spec.fetch(r.Context(), gate.NewReader(s.store, p), q, hrgate.Page{AfterID: after, Limit: limit + 1})
		if err != nil {
			return err
		}
		items, next := trimPage(s, qh, items, limit, spec.id)
		accessed(r, spec.object, items, spec.id, p)
		return writePage(w, items, next, func(dst []byte, it T) ([]byte, error) {
			return spec.append(dst, it, p), nil
		})
	}
}

// trimPage cuts a page fetched as limit+1 items, the extra one telling
// that another page follows, to limit, and returns the cursor to the next
// page: the position (pos) of the last item kept, bound to the query hash
// qh; "" on the last page.
func trimPage[T any](s *Server, qh uint64, items []T, limit int, pos func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, s.cursors.encode(qh, pos(items[limit-1]))
}

// writePage answers 200 with items in the envelope every list shares,
// {"data":[…],"next_cursor":"…" or null}, each item written by
// appendItem.
func writePage[T any](w http.ResponseWriter, items []T, next string, appendItem func(dst []byte, item T) ([]byte, error)) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := append((*bp)[:0], `{"data":[`...)
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = appendItem(buf, it); err != nil {
			*bp = buf
			return err
		}
	}
	buf = append(buf, `],"next_cursor":`...)
	if next == "" {
		buf = append(buf, "null"...)
	} else {
		// A cursor is base64url: nothing in it needs escaping.
		buf = append(buf, '"')
		buf = append(buf, next...)
		buf = append(buf, '"')
	}
	buf = append(buf, '}')
	*bp = buf
	writeJSON(w, buf)
	return nil
}

// serveOne answers a single object or a 404 that reads the same whether
// the object does not exist or lies outside the grant.
func serveOne[T any](s *Server, what, object string, fetch func(ctx context.Context, rd *gate.Reader, id string) ([]T, error),
	id func(T) string, appendFn func([]byte, T, *gate.Principal) []byte) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, q query, p *gate.Principal) error {
		items, err := fetch(r.Context(), gate.NewReader(s.store, p), r.PathValue("id"))
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return hrgate.ErrNotFound(what)
		}
		accessed(r, object, items[:1], id, p)
		bp := bufPool.Get().(*[]byte)
		buf := appendFn((*bp)[:0], items[0], p)
		writeJSON(w, buf)
		*bp = buf
		bufPool.Put(bp)
		return nil
	}
}

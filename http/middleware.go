package http

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
)

// The middleware chain, outermost first, is assembled in Server.chain:
//
//	request id and client address → access log → audit → recover →
//	security headers → IP rules → body limit → router → (per route)
//	accept check, strict query, brute-force lockout, authentication,
//	concurrency cap, rate limits and quotas → handler
//
// Each step is a plain function so the order can be read in one place.
// Recovery sits inside the access log so that a panicking request still
// gets its log line and its request id, and inside the audit step so that
// it gets its event too; the audit step holds every answer back until the
// event is durable.

// statusWriter records the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverPanics turns a panic into a 500 problem and a log line with the
// request id and the stack; the stack never reaches the client. When the
// answer had already begun, a problem document would only corrupt it, so
// the connection is aborted instead.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "request_id", requestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
				// The audit step, outside, holds the answer back: what the
				// handler wrote is dropped for the problem. Without it,
				// accessLog wrapped w and knows whether the answer has
				// begun.
				if hw, ok := w.(*heldWriter); ok {
					hw.reset()
				} else if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
					panic(http.ErrAbortHandler)
				}
				s.writeError(w, r, hrgate.Errorf(hrgate.EINTERNAL, "panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// identify gives the request an id and resolves the client address: the
// TCP peer, or what a trusted proxy forwarded (see proxySet.clientAddr).
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &requestInfo{id: newRequestID()}
		info.client = s.proxies.clientAddr(r)
		// The header's value slice lives in info: one allocation less than
		// Header.Set on every request.
		info.idHeader[0] = info.id
		w.Header()["X-Request-Id"] = info.idHeader[:]
		next.ServeHTTP(w, r.WithContext(withRequestInfo(r.Context(), info)))
	})
}

// newRequestID returns "req_" and 24 hex digits of randomness, built in
// one allocation.
func newRequestID() string {
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	var b [len("req_") + 2*len(raw)]byte
	copy(b[:], "req_")
	hex.Encode(b[len("req_"):], raw[:])
	return string(b[:])
}

// accessLog writes one line per request. It names the credential and the
// consumer but never a header value, a key or a field value.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		info := requestInfoFrom(r.Context())
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("request_id", info.id),
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("client", info.client.String()),
		}
		if p := info.principal; p != nil {
			attrs = append(attrs, slog.String("key_id", p.KeyID), slog.String("consumer", p.ConsumerName))
		}
		if op := info.operator; op != nil {
			attrs = append(attrs, slog.String("operator", op.Name))
		}
		if info.err != nil {
			if reason := gate.AuthFailureReason(info.err); reason != "" {
				attrs = append(attrs, slog.String("auth_failure", reason))
			} else if sw.status >= 500 {
				attrs = append(attrs, slog.String("error", info.err.Error()))
			}
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// securityHeaders sets the headers every response carries. HSTS is sent
// only over TLS, where it means something. The values are constants shared
// by every response: http.Header.Set would allocate each one anew on the
// hot path, and handlers only ever replace header values, never append in
// place.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	fixed := []struct {
		name  string
		value []string
	}{
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"X-Frame-Options", []string{"DENY"}},
		{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
		{"Referrer-Policy", []string{"no-referrer"}},
		{"Cross-Origin-Resource-Policy", []string{"same-origin"}},
		{"Cache-Control", []string{"no-store"}},
	}
	hsts := []string{"max-age=" + strconv.FormatInt(int64(time.Duration(s.cfg.HTTP.HSTSMaxAge)/time.Second), 10) + "; includeSubDomains"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fixed {
			h[f.name] = f.value
		}
		if r.TLS != nil && s.cfg.HTTP.HSTSMaxAge > 0 {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies. A declared length over the cap is refused
// before anything is read; an undeclared one is cut off by MaxBytesReader.
func (s *Server) limitBody(next http.Handler) http.Handler {
	def := s.cfg.HTTP.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max := s.bodyLimit(r, def) // CSV imports have their own cap (sources_imports.go)
		if r.ContentLength > max {
			s.writeError(w, r, hrgate.Errorf(hrgate.ETOOLARGE, "Request body exceeds the limit of %d bytes.", max))
			return
		}
		if r.Body != http.NoBody { // the server's body of a request without one: nothing to cap
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// acceptsJSON reports whether an Accept header admits a JSON answer. An
// absent header admits anything.
func acceptsJSON(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if q := qValue(params); q == 0 {
			continue
		}
		switch mt {
		case "*/*", "application/*", "application/json", "application/problem+json":
			return true
		}
	}
	return false
}

// qValue returns the q parameter of a media range, 1 when absent, 0 when
// malformed or zero.
func qValue(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				return 0
			}
			return q
		}
	}
	return 1
}

// Package http serves hrgate's public API over HTTPS: routing, the
// middleware chain, RFC 9457 problem responses, cursors and TLS. It holds no
// authorization logic of its own: it authenticates through package gate and
// projects through package grant.
package http

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/webhooks"
)

// Server is the public API server.
type Server struct {
	cfg     *config.Config
	store   hrgate.Store
	gate    *gate.Gate
	log     *slog.Logger
	cursors cursorCodec
	proxies proxySet
	// limits, when set, are enforced on the public API (limits.go).
	limits *Limits
	// sources, when set, brings HR data in (sources.go).
	sources *sources.Service
	// webhooks, when set, manages webhook endpoints on the admin API
	// (admin_webhooks.go).
	webhooks *webhooks.Service

	// addr is the listen address; docPath the route of the server's
	// OpenAPI document. The public and the admin server differ in both.
	addr    string
	docPath string
	admin   AdminAuthenticator

	mux     *http.ServeMux
	methods map[string][]string
	paths   []string
	handler http.Handler

	// audit records every request (audit.go); auditType is the type of
	// the events of this server's requests.
	audit     AuditTrail
	auditType string

	srv  *http.Server
	ln   net.Listener
	done chan error
	// CertFile is the certificate served, for printing how to call the API.
	CertFile string
}

// NewServer builds the server and its routes. It reads the cursor signing
// key from the store, creating it on first use, so every instance that
// shares the database accepts the others' cursors.
func NewServer(ctx context.Context, cfg *config.Config, store hrgate.Store, g *gate.Gate, log *slog.Logger, opts ...Option) (*Server, error) {
	key, err := store.Secret(ctx, "cursor_hmac_key", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("load cursor key: %w", err)
	}
	proxies, err := parseProxies(cfg.HTTP.TrustedProxies, cfg.HTTP.ForwardedHeader)
	if err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	s := &Server{
		proxies: proxies,
		addr:    cfg.HTTP.Addr,
		docPath: "/v1/openapi.json",
		cfg:     cfg,
		store:   store,
		gate:    g,
		log:     log,
		cursors: cursorCodec{key: key},
		mux:     http.NewServeMux(),
		methods: make(map[string][]string),

		auditType: hrgate.AuditAPIRequest,
	}
	for _, o := range opts {
		o(s)
	}
	s.registerRoutes()
	s.registerSCIM()
	s.handler = s.chain()
	return s, nil
}

// chain assembles the middleware chain around the router, in order.
func (s *Server) chain() http.Handler {
	return s.identify(s.accessLog(s.recordRequests(s.recoverPanics(s.securityHeaders(s.checkAddress(s.limitBody(s.mux)))))))
}

// Handler returns the whole middleware chain and router.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns every registered "METHOD /path" pattern, for checks that
// the OpenAPI document describes them all.
func (s *Server) Routes() []string {
	var out []string
	for _, p := range s.paths {
		for _, m := range s.methods[p] {
			if m != http.MethodHead {
				out = append(out, m+" "+p)
			}
		}
	}
	return out
}

// Open listens on the configured address and serves in the background:
// HTTPS unless insecure_http is set.
func (s *Server) Open() error {
	hc := s.cfg.HTTP
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: time.Duration(hc.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(hc.ReadTimeout),
		WriteTimeout:      time.Duration(hc.WriteTimeout),
		IdleTimeout:       time.Duration(hc.IdleTimeout),
		MaxHeaderBytes:    hc.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	if hc.InsecureHTTP {
		s.log.Warn("serving plain HTTP because http.insecure_http is set: API keys and HR data cross the network unencrypted; use this only behind a TLS-terminating proxy on the same host")
	} else {
		var (
			tlsCfg   *tls.Config
			certFile = hc.TLSCert
			err      error
		)
		if hc.TLSCert != "" {
			tlsCfg, err = TLSConfig(hc.TLSCert, hc.TLSKey)
		} else {
			tlsCfg, certFile, err = SelfSignedTLS(context.Background(), s.store, s.cfg.DataDir, s.log)
		}
		if err != nil {
			_ = ln.Close()
			return err
		}
		s.CertFile = certFile
		srv.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
	}
	// Only a server that serves is recorded: Close waits for Serve to
	// return, which a failed Open never started.
	s.srv, s.ln = srv, ln
	s.bindIssuer()
	s.done = make(chan error, 1)
	go func() { s.done <- srv.Serve(ln) }()
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the base URL of the API.
func (s *Server) URL() string {
	scheme := "https"
	if s.cfg.HTTP.InsecureHTTP {
		scheme = "http"
	}
	return scheme + "://" + s.Addr()
}

// Close stops accepting connections and waits for in-flight requests, up
// to the configured shutdown timeout. It does nothing for a server that
// was never opened, or whose Open failed.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.HTTP.ShutdownTimeout))
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}

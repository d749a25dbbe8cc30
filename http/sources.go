package http

import "github.com/hrgate/hrgate/sources"

// WithSources serves what brings HR data in through svc: the SCIM 2.0
// server, signed inbound webhooks, CSV imports and runs on the public
// API, and source management on the admin API. Without it those routes
// are not registered.
func WithSources(svc *sources.Service) Option { return func(s *Server) { s.sources = svc } }

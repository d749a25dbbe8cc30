package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/sandbox"
)

func addServeFlags(cmd *cobra.Command) {
	cmd.Flags().String("addr", config.Default().HTTP.Addr, "address of the API listener (env HRGATE_HTTP__ADDR)")
	cmd.Flags().String("tls-cert", "", "TLS certificate (PEM); a self-signed one is generated when unset")
	cmd.Flags().String("tls-key", "", "TLS private key (PEM)")
	cmd.Flags().Bool("insecure-http", false, "serve plain HTTP (only behind a TLS-terminating proxy on the same host)")
	cmd.Flags().String("admin-addr", config.Default().Admin.Addr, "address of the admin API listener; empty disables it (env HRGATE_ADMIN__ADDR)")
}

func (m *Main) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pc, _ := cmd.Flags().GetBool("print-config"); pc {
				if err := m.loadConfig(cmd); err != nil {
					return err
				}
				out, err := m.Config.Redacted()
				if err != nil {
					return err
				}
				_, err = m.Stdout.Write(out)
				return err
			}
			m.serving = true
			if err := m.open(cmd); err != nil {
				return err
			}
			srv, err := m.startServer(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			m.Logger.Info("hrgate is serving", "url", srv.URL(), "database", m.Store.Dialect())
			return m.waitAndStop(cmd.Context())
		},
	}
	addServeFlags(cmd)
	cmd.Flags().Bool("print-config", false, "print the effective configuration (secrets redacted) and exit")
	return cmd
}

// startServer opens the APIs and starts the background loops, which run
// until ctx ends or stopServing stops them. Whatever it started before
// failing, Close stops.
func (m *Main) startServer(ctx context.Context, cmd *cobra.Command) (*hrhttp.Server, error) {
	ctx, m.stopBG = context.WithCancel(ctx)
	if err := m.importLegacyAdminToken(ctx); err != nil {
		return nil, err
	}
	// An import a crash interrupted left its temporary file, HR data,
	// in the data directory. An hour spares an import another process
	// sharing the directory is running.
	n, err := hrhttp.RemoveStaleImports(m.Config.DataDir, time.Hour, time.Now())
	if n > 0 {
		m.Logger.Info("removed the temporary files of interrupted imports", "files", n)
	}
	if err != nil {
		m.Logger.Warn("could not remove the temporary files of interrupted imports", "err", err)
	}
	// Audit sinks stream the trail to SIEMs; each only reads the trail,
	// from its own durable cursor (docs/audit-sinks.md). They start
	// first: a bad token or certificate stops the start before a
	// listener opens or a background loop runs, and Close stops them.
	if m.Audit != nil && len(m.Config.Audit.Sinks) > 0 {
		// They read through the Reader, which does not flush the journal
		// on each poll: a sink lags by at most the journal's interval.
		st, err := sink.Start(ctx, m.Config.Audit.Sinks, m.Audit.Reader, m.auditStore, m.Logger)
		if err != nil {
			return nil, err
		}
		m.sinks = st
	}
	var opts []hrhttp.Option
	if m.Audit != nil {
		opts = append(opts, hrhttp.WithAudit(m.Audit))
	}
	// One service of each, shared by the APIs and the pruning loops below.
	srcSvc, hookSvc := m.sourcesService(), m.webhooksService()
	opts = append(opts, hrhttp.WithSources(srcSvc), hrhttp.WithWebhooks(hookSvc))
	// Rate limits, quotas, lockouts and IP rules guard the public API
	// only; the admin API listens on a management address (limits.go).
	lim, err := m.openLimits(ctx, cmd)
	if err != nil {
		return nil, err
	}
	srv, err := hrhttp.NewServer(ctx, m.Config, m.Store, m.Gate, m.Logger, append(opts, hrhttp.WithLimits(lim))...)
	if err != nil {
		return nil, err
	}
	if err := srv.Open(); err != nil {
		return nil, err
	}
	if m.Config.Admin.Addr != "" {
		admin, err := m.startAdmin(ctx, opts)
		if err != nil {
			_ = srv.Close()
			return nil, err
		}
		m.admin = admin
	}
	m.srv = srv
	if m.Audit != nil {
		// The start need not hold anything up; it is durable by the time
		// the trail closes, and most likely with the first request.
		m.Audit.Enqueue(m.serverEvent(hrgate.AuditServerStart, srv))
	}
	m.background(ctx, func(ctx context.Context) {
		m.Gate.RunKeyRotation(ctx, time.Duration(m.Config.Keys.RotationCheckInterval))
	})
	m.background(ctx, func(ctx context.Context) { m.Gate.RunTokenPurge(ctx, gate.PurgeEvery) })
	// Keyring: re-wrap data keys after a KEK rotation, here or by any
	// instance, and finish one a crash interrupted (docs/keyring.md).
	m.background(ctx, func(ctx context.Context) {
		m.Keyring.RunRewrap(ctx, time.Duration(m.Config.Keyring.RewrapInterval))
	})
	// Field re-encryption: recompute blind indexes after an index-key
	// rotation, seal what an older hrgate stored in the clear, and finish
	// data-key rotations (docs/encryption.md).
	m.background(ctx, func(ctx context.Context) {
		m.Store.RunReencrypt(ctx, time.Duration(m.Config.Keyring.RewrapInterval), 0)
	})
	// Sources: forget finished runs past their retention (docs/sources.md).
	if keep := time.Duration(m.Config.Sources.RunRetention); keep > 0 {
		m.background(ctx, func(ctx context.Context) { srcSvc.RunPruning(ctx, time.Hour, keep) })
	}
	// Webhooks: forget finished deliveries and change events past their
	// retention; with the worker off, events go by age alone, since
	// nothing here would ever fan them out (docs/webhooks.md#retention).
	if keep := time.Duration(m.Config.Webhooks.Retention); keep > 0 {
		fanOut := m.Config.Webhooks.Enabled
		m.background(ctx, func(ctx context.Context) { hookSvc.RunPruning(ctx, time.Hour, keep, fanOut) })
	}
	// Webhooks: fan the change outbox out to consumers' endpoints and
	// deliver (docs/webhooks.md).
	if m.Config.Webhooks.Enabled {
		w, err := m.webhookWorker()
		if err != nil {
			return nil, err
		}
		m.background(ctx, w.Run)
	}
	return srv, nil
}

// startAdmin opens the admin API with the admin token (admin.go).
func (m *Main) startAdmin(ctx context.Context, opts []hrhttp.Option) (*hrhttp.Server, error) {
	auth, err := m.adminAuth(ctx)
	if err != nil {
		return nil, err
	}
	if !config.IsLoopback(m.Config.Admin.Addr) {
		m.Logger.Warn("the admin API listens on a non-loopback address; keep it on a management network and firewall it", "addr", m.Config.Admin.Addr)
	}
	admin, err := hrhttp.NewAdminServer(m.Config, m.Store, m.Gate, auth, m.Logger, opts...)
	if err != nil {
		return nil, err
	}
	if err := admin.Open(); err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	m.Logger.Info("admin API is serving", "url", admin.URL())
	return admin, nil
}

// background runs fn until ctx ends; stopServing waits for it before the
// store is closed.
func (m *Main) background(ctx context.Context, fn func(context.Context)) {
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		fn(ctx)
	}()
}

// waitAndStop serves until ctx is cancelled (SIGINT, SIGTERM) and then
// shuts down gracefully.
func (m *Main) waitAndStop(ctx context.Context) error {
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.stopServing(context.WithoutCancel(ctx))
}

// stopServing undoes startServer, in whatever state it left things: it
// closes the APIs, stops the background loops and waits for them, and
// records the stop of a server whose start was recorded. Close calls it
// too, for a start that failed half-way; a second call does nothing.
func (m *Main) stopServing(ctx context.Context) error {
	var err error
	if m.srv != nil {
		err = m.srv.Close()
	}
	if m.admin != nil {
		if aerr := m.admin.Close(); err == nil {
			err = aerr
		}
	}
	if m.stopBG != nil {
		m.stopBG()
		m.bg.Wait()
	}
	if m.srv != nil && m.Audit != nil {
		if aerr := m.Audit.Record(ctx, m.serverEvent(hrgate.AuditServerStop, m.srv)); aerr != nil && err == nil {
			err = aerr
		}
	}
	m.srv, m.admin, m.stopBG = nil, nil, nil
	return err
}

// serverEvent describes the server starting or stopping: its version and
// listeners.
func (m *Main) serverEvent(typ string, srv *hrhttp.Server) *hrgate.AuditEvent {
	after := map[string]string{"version": version, "addr": srv.Addr(), "database": m.Store.Dialect()}
	if m.admin != nil {
		after["admin_addr"] = m.admin.Addr()
	}
	b, _ := json.Marshal(after)
	return &hrgate.AuditEvent{Type: typ, ActorKind: hrgate.ActorSystem, Actor: "server", After: b}
}

// Demo consumers: one with a broad payroll grant, one that sees only names
// and time off of a single company.
var demoConsumers = []struct {
	name, description string
	scopes            func(slug string) string
}{
	{"payroll", "Example payroll provider (created by hrgate demo)",
		func(string) string {
			return "employees:read:identity,employment,compensation employees:read_masked:banking companies:*"
		}},
	{"holiday-planner", "Example leave-planning tool for one company (created by hrgate demo)",
		func(slug string) string { return "employees:read:identity time_off:read companies:" + slug }},
}

func (m *Main) demoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Seed a sandbox, create example consumers and keys, print how to call the API, and serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m.serving = true
			if err := m.open(cmd); err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := m.checkDemoDir(ctx); err != nil {
				return err
			}
			n, err := m.Store.CountEmployees(ctx, hrgate.AllCompanies)
			if err != nil {
				return err
			}
			if n == 0 {
				seeded, err := m.seedSandbox(cmd, sandbox.Options{Companies: 3, Employees: 100, Seed: 1})
				if err != nil {
					return err
				}
				fmt.Fprintf(m.Stdout, "Seeded a sandbox: 3 companies, %d synthetic employees.\n", seeded)
			}
			companies, err := m.Store.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
			if err != nil {
				return err
			}
			if len(companies) == 0 {
				return hrgate.Errorf(hrgate.ECONFLICT, "This data directory holds no sandbox company; run the demo with a fresh --data-dir.")
			}
			keys, err := m.demoKeys(ctx, companies[len(companies)-1].Slug)
			if err != nil {
				return err
			}
			adminToken, err := m.demoAdminToken(ctx)
			if err != nil {
				return err
			}
			srv, err := m.startServer(ctx, cmd)
			if err != nil {
				return err
			}
			m.printDemo(srv, keys, companies, adminToken)
			return m.waitAndStop(ctx)
		},
	}
	addServeFlags(cmd)
	return cmd
}

// checkDemoDir refuses, before anything is written, a data directory the
// demo must not touch: one that holds real (non-sandbox) companies, or a
// consumer with a demo name that the demo did not create. The demo changes
// the grants and revokes the keys of its consumers.
func (m *Main) checkDemoDir(ctx context.Context) error {
	companies, err := m.Store.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies})
	if err != nil {
		return err
	}
	for _, c := range companies {
		if !c.Sandbox {
			return hrgate.Errorf(hrgate.ECONFLICT, "This data directory holds real (non-sandbox) companies; the demo runs only on sandbox data. Use a fresh --data-dir.")
		}
	}
	for _, dc := range demoConsumers {
		c, err := m.Gate.Consumer(ctx, dc.name)
		if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
			continue
		} else if err != nil {
			return err
		}
		if c.Description != dc.description {
			return hrgate.Errorf(hrgate.ECONFLICT, "A consumer named %q exists that the demo did not create; the demo will not change it. Use a fresh --data-dir.", dc.name)
		}
	}
	return nil
}

type demoKey struct{ consumer, scopes, key string }

// demoKeys, after checkDemoDir, makes sure the demo consumers exist with their demo grants and
// issues each a fresh test key, revoking the keys of earlier demo runs.
func (m *Main) demoKeys(ctx context.Context, plannerSlug string) ([]demoKey, error) {
	var out []demoKey
	for _, dc := range demoConsumers {
		scopes := dc.scopes(plannerSlug)
		c, err := m.Gate.Consumer(ctx, dc.name)
		switch {
		case hrgate.ErrorCode(err) == hrgate.ENOTFOUND:
			if _, err = m.Gate.CreateConsumer(ctx, dc.name, dc.description, []string{scopes}); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default: // created by an earlier demo run (checkDemoDir)
			if _, err = m.Gate.SetGrant(ctx, c.Name, []string{scopes}); err != nil {
				return nil, err
			}
			old, err := m.Gate.Keys(ctx, c.Name)
			if err != nil {
				return nil, err
			}
			for _, k := range old {
				if k.Description == "demo" && k.RevokedAt.IsZero() {
					if err := m.Gate.RevokeKey(ctx, k.ID); err != nil {
						return nil, err
					}
				}
			}
		}
		k, secret, err := m.Gate.CreateKey(ctx, gate.KeyRequest{Consumer: dc.name, Test: true, Description: "demo"})
		if err != nil {
			return nil, err
		}
		out = append(out, demoKey{dc.name, strings.Join(k.Scopes, " "), secret})
	}
	return out, nil
}

func (m *Main) printDemo(srv *hrhttp.Server, keys []demoKey, companies []*hrgate.Company, adminToken string) {
	w := m.Stdout
	base := srv.URL()
	curl := "curl"
	if srv.CertFile != "" {
		cert := srv.CertFile
		if abs, err := filepath.Abs(cert); err == nil {
			cert = abs
		}
		curl = "curl --cacert " + cert
	}
	fmt.Fprintf(w, "\nhrgate demo is serving %s (sandbox data only; stop with Ctrl-C)\n", base)
	var slugs []string
	for _, c := range companies {
		slugs = append(slugs, c.Slug)
	}
	fmt.Fprintf(w, "Sandbox companies: %s\n", strings.Join(slugs, ", "))
	for _, k := range keys {
		fmt.Fprintf(w, "\nConsumer %q — grant: %s\n  key: %s\n", k.consumer, k.scopes, k.key)
	}
	payroll, planner := keys[0].key, keys[1].key
	fmt.Fprintf(w, "\nTry it:\n\n")
	fmt.Fprintf(w, "  # payroll: identity, employment, compensation and masked bank details — never national ids\n")
	fmt.Fprintf(w, "  %s -H 'Authorization: Bearer %s' '%s/v1/employees?limit=2'\n\n", curl, payroll, base)
	fmt.Fprintf(w, "  # holiday-planner: names and time off of one company, nothing else\n")
	fmt.Fprintf(w, "  %s -H 'Authorization: Bearer %s' '%s/v1/employees?limit=2'\n", curl, planner, base)
	fmt.Fprintf(w, "  %s -H 'Authorization: Bearer %s' '%s/v1/time-off?limit=2'\n\n", curl, planner, base)
	fmt.Fprintf(w, "  # the API description\n  %s '%s/v1/openapi.json'\n\n", curl, base)
	if m.admin != nil {
		fmt.Fprintf(w, "Admin API (consumers and keys): %s, described at %s/admin/v1/openapi.json\n", m.admin.URL(), m.admin.URL())
		bearer := adminToken // issued for this demo run; hrgate keeps only its hash
		if bearer == "" {
			bearer = "$(cat " + m.Config.Admin.TokenFile + ")"
		}
		fmt.Fprintf(w, "  %s -H \"Authorization: Bearer %s\" '%s/admin/v1/keys'\n\n", curl, bearer, m.admin.URL())
	}
}

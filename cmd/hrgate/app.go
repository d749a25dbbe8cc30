package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/audit/sink"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/logbuf"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// Main holds what one hrgate invocation opens, so that Close can release
// it whatever command ran.
type Main struct {
	Stdout, Stderr io.Writer
	Environ        []string

	configPath string
	output     string

	Config *config.Config
	Logger *slog.Logger
	Store  *sqlstore.DB
	Gate   *gate.Gate
	// KeyStore and Keyring hold the keys that encrypt the data; they are
	// opened before Store.
	KeyStore *sqlstore.KeyStore
	Keyring  *keyring.Keyring
	// Audit is the audit trail the gate and the servers record to; nil
	// only with audit.insecure_disable.
	Audit      *audit.Log
	auditStore *sqlstore.AuditLog
	// serving makes the trail append periodic checkpoints: `serve` and
	// `demo` run long, other commands do not.
	serving bool
	// sinks stream the trail to the configured SIEMs while serving.
	sinks *sink.Streamer

	// srv and admin are the APIs while they serve; stopBG ends the
	// background loops bg counts (startServer, stopServing).
	srv, admin *hrhttp.Server
	stopBG     context.CancelFunc
	bg         sync.WaitGroup
	logOut     *logbuf.Writer
}

// flagKeys maps command-line flags to configuration keys: a flag that was
// set overrides the file and the environment.
var flagKeys = map[string]string{
	"data-dir":      "data_dir",
	"database":      "database",
	"log-level":     "log.level",
	"log-format":    "log.format",
	"addr":          "http.addr",
	"tls-cert":      "http.tls_cert",
	"tls-key":       "http.tls_key",
	"insecure-http": "http.insecure_http",
	"admin-addr":    "admin.addr",
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "hrgate",
		Short:         "A self-hosted gateway between your HR system and the tools that need its data",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if m.output != "text" && m.output != "json" {
				return hrgate.Errorf(hrgate.EINVALID, "--output must be text or json, not %q", m.output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&m.configPath, "config", "", "YAML configuration file")
	def := config.Default()
	pf.String("data-dir", def.DataDir, "directory for the SQLite database, TLS certificate and other state (env HRGATE_DATA_DIR)")
	pf.String("database", "", "postgres:// URL, or SQLite file (default: hrgate.db in the data dir) (env HRGATE_DATABASE)")
	pf.String("log-level", def.Log.Level, "log level: debug, info, warn, error")
	pf.String("log-format", def.Log.Format, "log format: auto (text on a terminal), json, text")
	pf.StringVarP(&m.output, "output", "o", "text", "output format: text or json")
	root.AddCommand(
		m.serveCommand(), m.demoCommand(), m.migrateCommand(), m.sandboxCommand(),
		m.consumersCommand(), m.keysCommand(), m.versionCommand(),
		m.clientsCommand(), m.adminCommand(), m.keyringCommand(), m.auditCommand(), m.employeesCommand(),
		m.sourcesCommand(), m.webhooksCommand(),
	)
	usageErrors(root)
	return root
}

// loadConfig builds the effective configuration: defaults, file, env,
// then the flags the user set.
func (m *Main) loadConfig(cmd *cobra.Command) error {
	cfg, warnings, err := m.readConfig(cmd)
	if err != nil {
		return err
	}
	m.Config = cfg
	if m.logOut != nil {
		_ = m.logOut.Close()
	}
	m.Logger, m.logOut = newLogger(cfg.Log, m.Stderr)
	for _, w := range warnings {
		m.Logger.Warn(w)
	}
	return nil
}

// readConfig reads and validates the configuration: defaults, file,
// environment, then the flags of cmd that were set. `serve` reads it
// again on SIGHUP.
func (m *Main) readConfig(cmd *cobra.Command) (*config.Config, []string, error) {
	cfg, warnings, err := config.Load(m.configPath, m.Environ)
	if err != nil {
		return nil, nil, err
	}
	var setErr error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		key, ok := flagKeys[f.Name]
		if !ok || setErr != nil {
			return
		}
		if err := cfg.Set(key, f.Value.String()); err != nil {
			setErr = fmt.Errorf("--%s: %w", f.Name, err)
		}
	})
	if setErr != nil {
		return nil, nil, setErr
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	return cfg, warnings, nil
}

// open loads the configuration and opens the store and the gate.
func (m *Main) open(cmd *cobra.Command) error {
	if err := m.loadConfig(cmd); err != nil {
		return err
	}
	db, err := m.openStore(cmd, true)
	if err != nil {
		return err
	}
	a, err := newAuthority(m.Config.OAuth, db)
	if err != nil {
		return err
	}
	opts := []gate.Option{gate.WithLogger(m.Logger), gate.WithAuthority(a),
		gate.WithKeyPolicy(time.Duration(m.Config.Keys.MaxLifetime), time.Duration(m.Config.Keys.RotationGrace))}
	if err := m.openAudit(cmd); err != nil {
		return err
	}
	if m.Audit != nil {
		opts = append(opts, gate.WithAudit(m.Audit))
	}
	m.Gate = gate.New(db, opts...)
	// Changes made from the command line are recorded as the OS user's.
	cmd.SetContext(hrgate.WithActor(cmd.Context(), hrgate.Actor{Kind: hrgate.ActorCLI, Name: osUser()}))
	return nil
}

// openStore creates the data directory (it holds the TLS certificate and
// the admin token whatever the database) and opens the configured store.
// Its errors never repeat the connection string: sqlstore names the
// database itself, with the password redacted.
func (m *Main) openStore(cmd *cobra.Command, autoMigrate bool) (*sqlstore.DB, error) {
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", m.Config.DataDir, err)
	}
	kr, err := m.openKeyring(cmd.Context())
	if err != nil {
		return nil, err
	}
	refresh := time.Duration(m.Config.Auth.CredentialRefresh)
	if refresh == 0 {
		refresh = -1 // auth.credential_refresh: 0 reads the epoch on every request
	}
	// The data store checks that it is encrypted under this keyring (and
	// records it on first use) before it writes anything.
	db, err := sqlstore.Open(cmd.Context(), m.Config.DatabaseDSN(), sqlstore.Options{
		AutoMigrate: autoMigrate, Logger: m.Logger, CredentialRefresh: refresh, Cipher: kr,
		PlaintextGroups: plaintextGroups(m.Config.Keyring.EncryptConfidential),
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	m.Store = db
	return db, nil
}

// plaintextGroups returns the confidential groups keyring.encrypt_confidential
// leaves out: the operator chose to store them unencrypted.
func plaintextGroups(encrypt []string) hrgate.GroupSet {
	plain := hrgate.GroupsOf(hrgate.GroupContact, hrgate.GroupPersonal)
	for _, name := range encrypt {
		if g, ok := hrgate.ParseFieldGroup(name); ok {
			plain &^= hrgate.GroupsOf(g)
		}
	}
	return plain
}

// Close releases what the command opened and writes out the log. It may
// be called more than once.
func (m *Main) Close() {
	// The servers and the loops go first: they use what follows.
	if err := m.stopServing(context.Background()); err != nil && m.Logger != nil {
		m.Logger.Error("the server did not stop cleanly", "err", err)
	}
	if m.sinks != nil {
		_ = m.sinks.Close()
		m.sinks = nil
	}
	if m.Audit != nil {
		if err := m.Audit.Close(); err != nil && m.Logger != nil {
			m.Logger.Error("the audit trail was not fully written", "err", err)
		}
		m.Audit = nil
	}
	if m.auditStore != nil {
		_ = m.auditStore.Close()
		m.auditStore = nil
	}
	if m.Store != nil {
		_ = m.Store.Close()
		m.Store = nil
	}
	if m.KeyStore != nil {
		_ = m.KeyStore.Close()
		m.KeyStore = nil
	}
	if m.logOut != nil {
		_ = m.logOut.Close()
	}
}

// logDelay is how long a log line may wait to be written with others:
// under load the access log then costs one write per batch instead of one
// per request. Warnings and errors are written at once.
const logDelay = 50 * time.Millisecond

// newLogger returns the process logger, writing to w through the batching
// writer it also returns.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, *logbuf.Writer) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	out := logbuf.New(w, logDelay)
	var h slog.Handler = slog.NewJSONHandler(out, opts)
	if format == "text" {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(logbuf.FlushAbove(h, out, slog.LevelWarn)), out
}

// printJSON writes v as indented JSON.
func (m *Main) printJSON(v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// report writes a command's result: v as JSON with --output json, the
// formatted sentence otherwise.
func (m *Main) report(v any, format string, args ...any) error {
	if m.output == "json" {
		return m.printJSON(v)
	}
	_, err := fmt.Fprintf(m.Stdout, format, args...)
	return err
}

// errorText is what the user sees for a failed command: the caller-safe
// message of hrgate errors, the text of configuration and usage errors.
func errorText(err error) string {
	var e *hrgate.Error
	if errors.As(err, &e) {
		if e.Code == hrgate.EINTERNAL {
			return "internal error: " + err.Error()
		}
		return e.Message
	}
	return err.Error()
}

// exitStatus is the error of a command that has reported its outcome
// itself and asks Run only for a non-zero exit code, without an error
// line: keys scan exits 1 when it found a live key.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitCode maps errors to exit codes: an exitStatus's own, 2 for bad
// input, 1 otherwise.
func exitCode(err error) int {
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	switch hrgate.ErrorCode(err) {
	case hrgate.EINVALID, hrgate.ENOTFOUND, hrgate.ECONFLICT:
		return 2
	}
	if strings.Contains(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "config:") {
		return 2
	}
	return 1
}

// usageErrors makes cobra's flag and argument errors EINVALID, so that
// every usage error exits 2, as scripts and CI hooks expect.
func usageErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return hrgate.Errorf(hrgate.EINVALID, "%v", err)
	})
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return hrgate.Errorf(hrgate.EINVALID, "%v", err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageErrors(sub)
	}
}

// scopesFlag gathers scopes given as --scopes "a b" and repeated --scope.
func scopesFlag(cmd *cobra.Command) []string {
	var out []string
	if s, _ := cmd.Flags().GetString("scopes"); s != "" {
		out = append(out, s)
	}
	if ss, _ := cmd.Flags().GetStringArray("scope"); len(ss) > 0 {
		out = append(out, ss...)
	}
	return out
}

func addScopeFlags(cmd *cobra.Command) {
	cmd.Flags().String("scopes", "", `scopes separated by spaces, e.g. "employees:read:identity companies:acme"`)
	cmd.Flags().StringArray("scope", nil, "one scope (repeatable)")
}

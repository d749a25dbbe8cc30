// Package gate authenticates credentials and authorizes every read and
// write against a consumer's grant. It sits below the transports: the REST
// API, and later webhooks, SFTP exports and the CLI, all go through the same
// Principal and the same scoped reader, so they cannot disagree about what a
// consumer may see.
package gate

import (
	"crypto/rand"
	"github.com/hrgate/hrgate/internal/bounded"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
)

// Gate manages consumers and API keys and authenticates requests.
type Gate struct {
	store  hrgate.Store
	now    func() time.Time
	random io.Reader
	log    *slog.Logger

	// touchEvery bounds how often the last-use of one key is written, so
	// that authentication does not turn every read into a write.
	touchEvery time.Duration
	touchMu    sync.Mutex
	touched    map[string]time.Time

	creds bounded.Map[[32]byte, *credential]

	// maxKeyLifetime bounds the expiry of new keys; defaultGrace is the
	// grace period of a rotation that names none.
	maxKeyLifetime time.Duration
	defaultGrace   time.Duration
	// oauth holds the OAuth 2.0 authority and its caches (token.go).
	oauth oauthState
	// audit, when set, records every change (audit.go).
	audit hrgate.AuditRecorder
}

// Option configures a Gate.
type Option func(*Gate)

// WithClock injects the clock; tests use it to move through expiry windows
// without sleeping.
func WithClock(now func() time.Time) Option { return func(g *Gate) { g.now = now } }

// WithRandom injects the source of randomness for ids and secrets.
func WithRandom(r io.Reader) Option { return func(g *Gate) { g.random = r } }

// WithLogger sets the logger for authentication outcomes.
func WithLogger(l *slog.Logger) Option { return func(g *Gate) { g.log = l } }

// WithKeyPolicy sets the longest lifetime a key may be created with (and
// the lifetime of keys created without an expiry), and the grace period of
// rotations that name none.
func WithKeyPolicy(maxLifetime, defaultGrace time.Duration) Option {
	return func(g *Gate) { g.maxKeyLifetime, g.defaultGrace = maxLifetime, defaultGrace }
}

// Default key policy, matching the configuration defaults.
const (
	DefaultMaxKeyLifetime = 365 * 24 * time.Hour
	DefaultRotationGrace  = 24 * time.Hour
)

// New returns a Gate over store.
func New(store hrgate.Store, opts ...Option) *Gate {
	g := &Gate{
		store:      store,
		now:        time.Now,
		random:     rand.Reader,
		log:        slog.New(slog.DiscardHandler),
		touchEvery: time.Minute,
		touched:    make(map[string]time.Time),

		maxKeyLifetime: DefaultMaxKeyLifetime,
		defaultGrace:   DefaultRotationGrace,
	}
	g.creds.Max = credentialCacheMax
	g.oauth.clients.Max = credentialCacheMax
	for _, o := range opts {
		o(g)
	}
	return g
}

// Now returns the gate's current time, truncated to the microsecond
// precision the stores keep.
func (g *Gate) Now() time.Time { return g.now().UTC().Truncate(time.Microsecond) }

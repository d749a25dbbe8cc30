// Package gate authenticates credentials and authorizes every read and
// write against a consumer's grant. It sits below the transports: the REST
// API, and later webhooks, SFTP exports and the CLI, all go through the same
// Principal and the same scoped reader, so they cannot disagree about what a
// consumer may see.
package gate

import (
	"crypto/rand"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
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

	grants grantCache
	creds  credentialCache
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

// New returns a Gate over store.
func New(store hrgate.Store, opts ...Option) *Gate {
	g := &Gate{
		store:      store,
		now:        time.Now,
		random:     rand.Reader,
		log:        slog.New(slog.DiscardHandler),
		touchEvery: time.Minute,
		touched:    make(map[string]time.Time),
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Now returns the gate's current time, truncated to the microsecond
// precision the stores keep.
func (g *Gate) Now() time.Time { return g.now().UTC().Truncate(time.Microsecond) }

// grantCache keeps parsed grants by their scope text. Grants are parsed on
// every authentication; the set of distinct grants is small, and the cache
// is reset when it grows past its bound so that it cannot be used to
// exhaust memory.
type grantCache struct {
	mu sync.Mutex
	m  map[string]*grant.Grant
}

const grantCacheMax = 4096

func (c *grantCache) parse(scopes []string) (*grant.Grant, error) {
	key := joinScopes(scopes)
	c.mu.Lock()
	gr, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return gr, nil
	}
	gr, err := grant.Parse(scopes...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= grantCacheMax {
		c.m = make(map[string]*grant.Grant)
	}
	c.m[key] = gr
	c.mu.Unlock()
	return gr, nil
}

func joinScopes(scopes []string) string {
	n := 0
	for _, s := range scopes {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for _, s := range scopes {
		b = append(b, s...)
		b = append(b, ' ')
	}
	return string(b)
}

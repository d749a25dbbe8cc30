package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
)

// Limits configures rate limits, quotas, brute-force protection, IP rules
// and per-credential concurrency.
type Limits struct {
	// RedisURL, when set, shares limits between instances through Redis
	// (redis:// or rediss://). Empty limits each instance in memory.
	RedisURL string `yaml:"redis_url" secret:"url"`
	// InsecureRedis allows redis:// (no TLS) to a host other than this
	// one; without it such a URL must be rediss://.
	InsecureRedis bool `yaml:"insecure_redis"`
	// Instances is how many instances share the limits: while Redis is
	// unreachable each instance admits this share of every limit.
	Instances int `yaml:"instances"`
	// RedisTimeout bounds one limiter round trip; a slower Redis counts
	// as down, so that requests never stall on it.
	RedisTimeout Duration `yaml:"redis_timeout"`
	// KeyPrefix starts the name of every limit this deployment keeps, so
	// that deployments sharing one Redis do not share limits. The
	// instances of one deployment must all use the same.
	KeyPrefix string `yaml:"key_prefix"`

	// Credential is the default limit of each API key or OAuth client
	// that has none of its own; Consumer likewise for each consumer, over
	// all its credentials; Global for the whole API.
	Credential RateLimit `yaml:"credential"`
	Consumer   RateLimit `yaml:"consumer"`
	Global     RateLimit `yaml:"global"`
	// Routes limits each credential per route class: list (pages of
	// records), single (one record by id), token (the OAuth token
	// endpoint, per client).
	Routes map[string]RateLimit `yaml:"routes"`

	// MaxConcurrent is how many requests one credential may have in
	// flight at once.
	MaxConcurrent int `yaml:"max_concurrent"`

	BruteForce BruteForce `yaml:"brute_force"`

	// Allow and Block are global client address rules (CIDRs or
	// addresses); a block wins over an allow, and an empty allow list
	// allows every address not blocked. They are read again on SIGHUP.
	Allow []string `yaml:"allow"`
	Block []string `yaml:"block"`
	// GeoDB is a MaxMind-format country database the operator supplies;
	// BlockCountries are ISO 3166-1 alpha-2 codes refused through it.
	GeoDB          string   `yaml:"geo_db"`
	BlockCountries []string `yaml:"block_countries"`
}

// RateLimit is one limit as written in the configuration: a rate such as
// "50/s" with a burst, a quota such as "20000/day", or both. Empty strings
// mean no limit of that kind.
type RateLimit struct {
	Rate  string `yaml:"rate"`
	Burst int    `yaml:"burst"`
	Quota string `yaml:"quota"`
}

// Parse returns the limit, checked.
func (r RateLimit) Parse() (limits.Limit, error) {
	var l limits.Limit
	var err error
	if r.Rate != "" {
		if l.Rate, err = limits.ParseRate(r.Rate); err != nil {
			return l, err
		}
	}
	if r.Quota != "" {
		if l.Quota, err = limits.ParseQuota(r.Quota); err != nil {
			return l, err
		}
	}
	l.Burst = r.Burst
	return l, l.Validate()
}

// ParseRoute returns the limit of the routes of class, checked: Parse,
// and no quota on the token endpoint. That endpoint is limited before the
// client is authenticated (http's guardOAuth), by the client id the
// request names and its address: a quota there would be no client's
// daily quota, and each fresh name would hold a counter until midnight,
// so that a flood of them would push the authenticated credentials'
// quota counts out of the memory limiter, starting them afresh.
func (r RateLimit) ParseRoute(class string) (limits.Limit, error) {
	l, err := r.Parse()
	if err == nil && class == "token" && l.Quota > 0 {
		return limits.Limit{}, errors.New("the token endpoint takes a rate and burst, not a quota: it is limited before the client is authenticated")
	}
	return l, err
}

// BruteForce configures the lockout of sources of failed authentication.
type BruteForce struct {
	Threshold   int      `yaml:"threshold"`
	Window      Duration `yaml:"window"`
	BaseLockout Duration `yaml:"base_lockout"`
	MaxLockout  Duration `yaml:"max_lockout"`
}

// RouteClasses are the route classes Limits.Routes may name.
var RouteClasses = []string{"list", "single", "token"}

func defaultLimits() Limits {
	return Limits{
		Instances:    1,
		RedisTimeout: Duration(50 * time.Millisecond),
		Credential:   RateLimit{Rate: "50/s", Burst: 100},
		Consumer:     RateLimit{Rate: "200/s", Burst: 400},
		Global:       RateLimit{Rate: "5000/s", Burst: 10000},
		Routes: map[string]RateLimit{
			"token": {Rate: "5/s", Burst: 20},
		},
		MaxConcurrent: 32,
		BruteForce: BruteForce{Threshold: 10, Window: Duration(time.Minute),
			BaseLockout: Duration(time.Second), MaxLockout: Duration(15 * time.Minute)},
	}
}

func (l *Limits) validate() error {
	if l.RedisURL != "" {
		u, err := url.Parse(l.RedisURL)
		switch {
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "":
			return keyError("limits.redis_url", "must be a redis:// or rediss:// URL with a host")
		case u.Scheme == "redis" && !l.InsecureRedis && !isLoopbackURL(u):
			return keyError("limits.redis_url", "must be rediss:// (TLS) for a Redis on another host, or set limits.insecure_redis")
		}
	}
	if len(l.KeyPrefix) > 64 || strings.IndexFunc(l.KeyPrefix, func(r rune) bool {
		return r <= ' ' || r > '~'
	}) >= 0 {
		return keyError("limits.key_prefix", "must be at most 64 printable ASCII characters without spaces")
	}
	if l.Instances < 1 || l.Instances > 1000 {
		return keyError("limits.instances", "must be between 1 and 1000")
	}
	if l.RedisTimeout < Duration(time.Millisecond) || l.RedisTimeout > Duration(5*time.Second) {
		return keyError("limits.redis_timeout", "must be between 1ms and 5s")
	}
	// Slices, not maps, so that of two bad keys the same one is reported
	// every time.
	for _, r := range []struct {
		key string
		r   RateLimit
	}{{"limits.credential", l.Credential}, {"limits.consumer", l.Consumer}, {"limits.global", l.Global}} {
		if _, err := r.r.Parse(); err != nil {
			return keyError(r.key, err.Error())
		}
	}
	for _, class := range slices.Sorted(maps.Keys(l.Routes)) {
		r := l.Routes[class]
		if !slices.Contains(RouteClasses, class) {
			return keyError("limits.routes", fmt.Sprintf("%q is not a route class; use list, single or token", class))
		}
		if _, err := r.ParseRoute(class); err != nil {
			return keyError("limits.routes."+class, err.Error())
		}
	}
	if l.MaxConcurrent < 1 || l.MaxConcurrent > 10000 {
		return keyError("limits.max_concurrent", "must be between 1 and 10000")
	}
	b := l.BruteForce
	switch {
	case b.Threshold < 1 || b.Threshold > 10000:
		return keyError("limits.brute_force.threshold", "must be between 1 and 10000")
	case b.Window <= 0 || b.Window > Duration(24*time.Hour):
		return keyError("limits.brute_force.window", "must be more than 0 and at most 24h")
	case b.BaseLockout <= 0 || b.MaxLockout < b.BaseLockout || b.MaxLockout > Duration(24*time.Hour):
		return keyError("limits.brute_force.max_lockout", "must be at least base_lockout (more than 0) and at most 24h")
	}
	for _, c := range []struct {
		key  string
		list []string
	}{{"limits.allow", l.Allow}, {"limits.block", l.Block}} {
		if _, err := hrgate.ParseCIDRs(c.list); err != nil {
			return keyError(c.key, err.Error())
		}
	}
	if (l.GeoDB == "") != (len(l.BlockCountries) == 0) {
		return keyError("limits.geo_db", "geo_db and block_countries must be set together")
	}
	for _, c := range l.BlockCountries {
		if err := limits.CheckCountry(c); err != nil {
			return keyError("limits.block_countries", err.Error())
		}
	}
	return nil
}

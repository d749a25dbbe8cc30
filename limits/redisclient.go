package limits

import (
	"crypto/tls"
	"errors"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisClient returns a client for the Redis at rawURL (redis:// or
// rediss://, TLS 1.2 or later) tuned for the limiter: a round trip is
// bounded by timeout and never retried, so that a slow Redis counts as
// down and a Failover decides locally instead of making the request wait,
// and so that a script whose answer was lost is never run twice (the
// limiter marks its scripts not to be retried in any case, see
// NewRedisPrefix).
//
// The pool is sized for what uses the client: the limiter's batcher,
// which has at most maxInFlight round trips out at once, and the
// Failover's probe (a PING while Redis is down, besides the one at start).
// The batcher's connections are kept open while idle, so that a decision
// does not wait for a dial (with TLS, a handshake); more would sit unused.
func NewRedisClient(rawURL string, timeout time.Duration) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL parser's errors quote the URL and so its password.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			return nil, errors.New("limits: malformed Redis URL")
		}
		return nil, err
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
	}
	opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout
	opts.DialTimeout = max(4*timeout, 200*time.Millisecond)
	opts.MaxRetries = -1
	opts.PoolSize = maxInFlight + 1
	opts.MinIdleConns = maxInFlight
	return redis.NewClient(opts), nil
}

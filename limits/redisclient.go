package limits

import (
	"crypto/tls"
	"errors"
	"net/url"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisClient returns a client for the Redis at rawURL (redis:// or
// rediss://, TLS 1.2 or later) tuned for the limiter: a round trip is
// bounded by timeout and never retried, so that a slow Redis counts as
// down and a Failover decides locally instead of making the request wait,
// and so that a script whose answer was lost is never run twice (the
// limiter marks its scripts not to be retried in any case, see
// NewRedisPrefix); connections are kept warm so that a request seldom
// waits for a dial.
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
	opts.MinIdleConns = runtime.GOMAXPROCS(0)
	return redis.NewClient(opts), nil
}

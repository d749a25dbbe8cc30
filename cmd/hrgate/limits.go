package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/limits"
)

// openLimits builds the public API's limits from the configuration: in
// memory, or in Redis behind a failover that limits each instance to its
// share while Redis is unreachable. Until ctx ends it logs the failover's
// local decisions once a minute and reloads the IP rules on SIGHUP; then it
// closes what it opened, after the servers have stopped (waitAndStop waits
// for background work after closing them).
func (m *Main) openLimits(ctx context.Context, cmd *cobra.Command) (*hrhttp.Limits, error) {
	cfg := m.Config.Limits
	var (
		limiter  limits.Limiter
		failover *limits.Failover
		client   *redis.Client
	)
	if cfg.RedisURL == "" {
		limiter = limits.NewMemory(nil)
		if cfg.Instances > 1 {
			m.Logger.Warn("limits.instances is more than 1 but limits.redis_url is not set: each instance limits on its own, so together they admit up to instances times every limit")
		}
	} else {
		var err error
		if client, err = limits.NewRedisClient(cfg.RedisURL, time.Duration(cfg.RedisTimeout)); err != nil {
			return nil, fmt.Errorf("limits.redis_url: %w", err)
		}
		redis.SetLogger(redisLogger{m.Logger.With("component", "redis")})
		failover = limits.NewFailover(limits.NewRedis(client), func(ctx context.Context) error { return client.Ping(ctx).Err() },
			cfg.Instances, limits.NewMemory(nil), m.Logger.With("component", "limits"))
		limiter = failover
		// Not fatal: the failover limits locally until Redis answers.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := client.Ping(pctx).Err(); err != nil {
			m.Logger.Warn("Redis for limits.redis_url does not answer yet; limiting per instance until it does", "err", err)
		}
		cancel()
	}
	lim, err := hrhttp.NewLimits(cfg, limiter, m.Logger.With("component", "limits"), nil)
	if err != nil {
		if failover != nil {
			_ = failover.Close()
			_ = client.Close()
		}
		return nil, err
	}
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	m.background(ctx, func(ctx context.Context) {
		defer func() {
			signal.Stop(hangup)
			if failover != nil {
				_ = failover.Close()
				_ = client.Close()
			}
			_ = lim.Close()
		}()
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		var reported int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-hangup:
				m.reloadIPRules(cmd, lim)
			case <-tick.C:
				if failover != nil {
					reported = logFallbacks(m.Logger, failover.Stats(), reported)
				}
			}
		}
	})
	return lim, nil
}

// reloadIPRules reads the configuration again and swaps in its IP rules.
// A configuration that does not load or validate changes nothing: the
// rules in force stay, and the log says why. Only the IP rules are
// reloaded; every other setting takes a restart.
func (m *Main) reloadIPRules(cmd *cobra.Command, lim *hrhttp.Limits) {
	cfg, _, err := m.readConfig(cmd)
	if err == nil {
		err = lim.ReloadIPRules(cfg.Limits)
	}
	if err != nil {
		m.Logger.Error("SIGHUP: the IP rules were not reloaded; the previous rules stay in force", "err", err)
		return
	}
	m.Logger.Info("SIGHUP: IP rules reloaded", "allow", len(cfg.Limits.Allow), "block", len(cfg.Limits.Block),
		"block_countries", len(cfg.Limits.BlockCountries))
}

// logFallbacks logs how many decisions were made locally since the last
// report, and returns the new total.
func logFallbacks(log *slog.Logger, st limits.Stats, reported int64) int64 {
	if st.Fallbacks > reported {
		log.Warn("rate limit decisions made per instance because Redis was unreachable",
			"decisions", st.Fallbacks-reported, "total", st.Fallbacks, "outages", st.Outages, "down", st.Down)
	}
	return st.Fallbacks
}

// redisLogger sends go-redis's own messages to the server log instead of
// its default, raw standard error.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...))
}

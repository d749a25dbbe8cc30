package webhooks

import (
	"context"
	"errors"
	"time"

	"github.com/hrgate/hrgate"
)

// Prune deletes what webhooks.retention lets go (docs/webhooks.md#retention):
// the deliveries that ended (succeeded, failed or skipped) more than
// retention ago, with their attempts, and the change events written more
// than retention ago. Every change and every attempt adds a row, so
// without it the tables grow for ever. A pending delivery is kept
// whatever its age, and so is an original delivery while a replay of it
// is kept, so that replaying the event still finds it.
//
// fanOut tells whether webhook workers fan the outbox out
// (webhooks.enabled): then only the events the fan-out has passed go,
// since the others are still to become deliveries. Without workers
// nothing would ever read the events, and age alone decides; turning the
// worker on later delivers the events still kept.
func (s *Service) Prune(ctx context.Context, retention time.Duration, fanOut bool) (deliveries, events int, err error) {
	if retention <= 0 {
		return 0, 0, hrgate.Errorf(hrgate.EINVALID, "A retention to prune by must be positive.")
	}
	cut := s.now().Add(-retention)
	deliveries, derr := s.store.PruneWebhookDeliveries(ctx, cut)
	// The events do not depend on the deliveries (a delivery keeps a
	// copy of its event), so a failure of one does not hold up the other.
	events, eerr := s.store.PruneChangeEvents(ctx, cut, fanOut)
	return deliveries, events, errors.Join(derr, eerr)
}

// RunPruning runs Prune at once and then every interval until ctx ends.
// A failed pass is logged and tried again at the next.
func (s *Service) RunPruning(ctx context.Context, interval, retention time.Duration, fanOut bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		d, e, err := s.Prune(ctx, retention, fanOut)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning old webhook deliveries and change events failed", "deliveries", d, "events", e, "err", err)
		case d > 0 || e > 0:
			s.log.Info("pruned old webhook deliveries and change events", "deliveries", d, "events", e,
				"retention", hrgate.FormatDuration(retention))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

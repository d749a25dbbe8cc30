package gate

import (
	"context"
	"time"

	"github.com/hrgate/hrgate"
)

// NoGrace asks RotateKey to end the old key at once.
const NoGrace time.Duration = 0

// DefaultGrace asks RotateKey for the configured grace period.
const DefaultGrace time.Duration = -1

// MaxGrace bounds a rotation's grace period: an old key that outlives its
// rotation by more than a month is not rotated.
const MaxGrace = 30 * 24 * time.Hour

// RotateKey replaces a key with a new one that has the same consumer,
// environment, scopes, address allowlist and lifetime. The old key keeps
// working for grace (DefaultGrace for the configured period), then fails.
// It returns the new key, its secret (shown once) and the old key as it is
// now.
func (g *Gate) RotateKey(ctx context.Context, id string, grace time.Duration) (next *hrgate.APIKey, secret string, old *hrgate.APIKey, err error) {
	if err := checkKeyID(id); err != nil {
		return nil, "", nil, err
	}
	if grace == DefaultGrace {
		grace = g.defaultGrace
	}
	if grace < 0 || grace > MaxGrace {
		return nil, "", nil, hrgate.Errorf(hrgate.EINVALID, "Invalid grace period: it must be between 0s and %s.", hrgate.FormatDuration(MaxGrace))
	}
	old, err = g.store.FindAPIKey(ctx, id)
	if err != nil {
		return nil, "", nil, err
	}
	next, secret, err = g.rotate(ctx, old, grace, false)
	if err != nil {
		return nil, "", nil, err
	}
	// The rotation has committed: the secret must reach the caller even if
	// re-reading the old key fails, so the old record is updated in memory.
	end := next.CreatedAt.Add(grace)
	if old.ExpiresAt.IsZero() || end.Before(old.ExpiresAt) {
		old.ExpiresAt = end
	}
	old.ReplacedByID = next.ID
	return next, secret, old, nil
}

// rotate creates old's successor and ends old after grace. With deliver,
// the successor's secret is queued for an operator instead of returned.
func (g *Gate) rotate(ctx context.Context, old *hrgate.APIKey, grace time.Duration, deliver bool) (*hrgate.APIKey, string, error) {
	now := g.Now()
	if ok, reason := old.Usable(now); !ok {
		return nil, "", hrgate.Errorf(hrgate.ECONFLICT, "Key %s cannot be rotated: %s. Create a new key instead.", old.ID, reason)
	}
	if old.Rotated() {
		return nil, "", hrgate.Errorf(hrgate.ECONFLICT, "Key %s was rotated already; its successor is %s.", old.ID, old.ReplacedByID)
	}
	// The successor lives as long as the old key was meant to, within the
	// policy in force now.
	lifetime := g.maxKeyLifetime
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.Sub(old.CreatedAt) < lifetime {
		lifetime = max(old.ExpiresAt.Sub(old.CreatedAt), time.Minute)
	}
	next, secret, err := g.newKey(&hrgate.APIKey{
		ConsumerID: old.ConsumerID, Env: old.Env, Description: old.Description, Scopes: old.Scopes,
		AllowCIDRs: old.AllowCIDRs, RateLimit: old.RateLimit, CreatedAt: now, ExpiresAt: now.Add(lifetime),
	})
	if err != nil {
		return nil, "", err
	}
	var delivery *hrgate.KeyDelivery
	if deliver {
		delivery = &hrgate.KeyDelivery{KeyID: next.ID, ConsumerID: next.ConsumerID, ReplacesID: old.ID, Secret: secret, CreatedAt: now}
	}
	if err := g.store.RotateAPIKey(ctx, old.ID, next, now.Add(grace), delivery); err != nil {
		return nil, "", err
	}
	g.log.Info("api key rotated", "key_id", old.ID, "new_key_id", next.ID, "consumer_id", old.ConsumerID,
		"old_key_ends_at", now.Add(grace), "automatic", deliver)
	before, after := keyOf(old), keyOf(next)
	after.Replaces = old.ID
	if err := g.record(ctx, hrgate.AuditKeyRotated, old.ID, old.ID, old.ConsumerID, before, after); err != nil {
		return nil, "", err
	}
	return next, secret, nil
}

// RotateDueKeys rotates every key whose consumer has automatic rotation
// and that has reached the consumer's maximum age. The new secrets wait
// in the delivery box (TakeKeyDeliveries); none is returned or logged. It
// returns how many keys it rotated. Several servers may run it at once:
// the store lets one rotation of a key win and the others fail with
// ECONFLICT, which is not an error here.
func (g *Gate) RotateDueKeys(ctx context.Context) (int, error) {
	ctx = hrgate.WithActor(ctx, hrgate.Actor{Kind: hrgate.ActorSystem, Name: "key-rotation"})
	consumers, err := g.store.ListConsumers(ctx)
	if err != nil {
		return 0, err
	}
	pending, err := g.store.PendingKeyDeliveries(ctx)
	if err != nil {
		return 0, err
	}
	rotated := 0
	for _, c := range consumers {
		if !c.KeyRotation.Enabled() {
			continue
		}
		keys, err := g.store.ListAPIKeys(ctx, c.ID)
		if err != nil {
			return rotated, err
		}
		now := g.Now()
		for _, k := range keys {
			// A key whose own secret nobody has fetched yet is not rotated
			// again: its successor would only pile up undelivered.
			if ok, _ := k.Usable(now); !ok || k.Rotated() || pending[k.ID] {
				continue
			}
			// Due at the maximum age, or earlier when the key would expire
			// before a rotation's grace period could run out, provided
			// its successor would outlive that grace period: a successor
			// due at once would rotate again at every tick.
			old := now.Sub(k.CreatedAt) >= c.KeyRotation.MaxAge
			lifetime := k.ExpiresAt.Sub(k.CreatedAt)
			expiring := !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) <= c.KeyRotation.Grace && lifetime > 2*c.KeyRotation.Grace
			if !old && !expiring {
				continue
			}
			_, _, err := g.rotate(ctx, k, c.KeyRotation.Grace, true)
			switch hrgate.ErrorCode(err) {
			case "":
				rotated++
			case hrgate.ECONFLICT, hrgate.ENOTFOUND:
				// Another server rotated or someone revoked it meanwhile.
			default:
				return rotated, err
			}
		}
	}
	return rotated, nil
}

// TakeKeyDeliveries hands out the secrets of keys created by automatic
// rotation for a consumer (by id or name; "" for all) and forgets them:
// each is returned once.
func (g *Gate) TakeKeyDeliveries(ctx context.Context, consumer string) ([]*hrgate.KeyDelivery, error) {
	id, err := g.consumerID(ctx, consumer)
	if err != nil {
		return nil, err
	}
	ds, err := g.store.TakeKeyDeliveries(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		g.log.Info("rotated key fetched", "key_id", d.KeyID, "consumer_id", d.ConsumerID)
		if err := g.record(ctx, hrgate.AuditKeyFetched, d.KeyID, d.KeyID, d.ConsumerID, nil, nil); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// PendingKeyDeliveries returns the ids of keys whose secrets wait to be
// fetched.
func (g *Gate) PendingKeyDeliveries(ctx context.Context) (map[string]bool, error) {
	return g.store.PendingKeyDeliveries(ctx)
}

// SetKeyRotation sets a consumer's automatic key rotation policy. A zero
// MaxAge turns it off.
func (g *Gate) SetKeyRotation(ctx context.Context, idOrName string, r hrgate.KeyRotation) (*hrgate.Consumer, error) {
	if r.Grace == DefaultGrace {
		r.Grace = g.defaultGrace
	}
	if r.MaxAge != 0 && (r.MaxAge < time.Hour || r.MaxAge > g.maxKeyLifetime) {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Invalid rotation age: it must be between 1h and the longest key lifetime, %s.",
			hrgate.FormatDuration(g.maxKeyLifetime))
	}
	if r.Grace < 0 || r.Grace > MaxGrace {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Invalid grace period: it must be between 0s and %s.", hrgate.FormatDuration(MaxGrace))
	}
	// A grace period as long as the rotation age would keep every key of
	// the last MaxAge/Grace rotations working at once.
	// Without a grace period the working key would end the moment its
	// successor is queued, before anyone could fetch it.
	if r.MaxAge != 0 && r.Grace == 0 {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Invalid grace period: automatic rotation needs one longer than 0s, so the integration can switch keys.")
	}
	if r.MaxAge != 0 && r.Grace >= r.MaxAge {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Invalid grace period: it must be shorter than the rotation age (%s).",
			hrgate.FormatDuration(r.MaxAge))
	}
	if r.MaxAge == 0 {
		r.Grace = 0
	}
	c, err := g.store.FindConsumer(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	old := consumerOf(c)
	c.KeyRotation = r
	c.ModifiedAt = g.Now()
	if err := g.store.UpdateConsumer(ctx, c); err != nil {
		return nil, err
	}
	g.log.Info("consumer key rotation set", "consumer_id", c.ID, "consumer", c.Name,
		"max_age", hrgate.FormatDuration(r.MaxAge), "grace", hrgate.FormatDuration(r.Grace))
	if err := g.record(ctx, hrgate.AuditConsumerUpdated, c.ID, "", c.ID, old, consumerOf(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// RunKeyRotation calls RotateDueKeys every interval until ctx ends. A
// failed round is logged and retried at the next tick.
func (g *Gate) RunKeyRotation(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := g.RotateDueKeys(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("automatic key rotation failed", "err", err)
		} else if n > 0 {
			g.log.Info("keys rotated automatically; fetch them with `hrgate keys fetch`", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

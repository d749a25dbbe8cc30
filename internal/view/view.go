// Package view holds the JSON forms of consumers, keys and OAuth clients
// that the CLI's --output json and the admin API share, so the two cannot
// drift apart. No view ever holds a secret except NewSecret, Delivery and
// NewClientSecret, which exist to hand one out once.
package view

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
)

// Consumer is the JSON form of a consumer.
type Consumer struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Scopes      []string `json:"scopes"`
	// KeyRotation is present when the consumer's keys rotate automatically.
	KeyRotation *KeyRotation `json:"key_rotation,omitempty"`
	RateLimit   RateLimit    `json:"rate_limit"`
	CreatedAt   time.Time    `json:"created_at"`
	ModifiedAt  time.Time    `json:"modified_at"`
}

// KeyRotation is a consumer's automatic rotation policy, durations written
// as hrgate.FormatDuration does ("30d", "1d12h").
type KeyRotation struct {
	MaxAge string `json:"max_age"`
	Grace  string `json:"grace"`
}

// RateLimit is a consumer's or credential's own rate limit, written as an
// operator writes it: "50/s" (or "N/m", "N/h"), a burst, "20000/day". A
// part left to the configured default is absent, so {} means "the
// defaults". The admin API reads the same shape.
type RateLimit struct {
	Rate  string `json:"rate,omitempty"`
	Burst int    `json:"burst,omitempty"`
	Quota string `json:"quota,omitempty"`
}

// NewRateLimit returns the view of r.
func NewRateLimit(r hrgate.RateLimit) RateLimit {
	return RateLimit{Rate: hrgate.FormatRate(r.Rate), Burst: r.Burst, Quota: hrgate.FormatQuota(r.Quota)}
}

// NewConsumer returns the view of c.
func NewConsumer(c *hrgate.Consumer) Consumer {
	j := Consumer{ID: c.ID, Name: c.Name, Description: c.Description, Scopes: nonNil(c.Scopes),
		RateLimit: NewRateLimit(c.RateLimit), CreatedAt: c.CreatedAt, ModifiedAt: c.ModifiedAt}
	if c.KeyRotation.Enabled() {
		j.KeyRotation = &KeyRotation{
			MaxAge: hrgate.FormatDuration(c.KeyRotation.MaxAge), Grace: hrgate.FormatDuration(c.KeyRotation.Grace),
		}
	}
	return j
}

// Key is the JSON form of a key record, without its secret.
type Key struct {
	ID           string     `json:"id"`
	ConsumerID   string     `json:"consumer_id"`
	Consumer     string     `json:"consumer,omitempty"`
	Env          string     `json:"env"`
	Description  string     `json:"description,omitempty"`
	Scopes       []string   `json:"scopes"`
	AllowCIDRs   []string   `json:"allow_cidrs"`
	State        string     `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
	AgeSeconds   int64      `json:"age_seconds"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	LastUsedAddr string     `json:"last_used_addr,omitempty"`
	ReplacedBy   string     `json:"replaced_by,omitempty"`
	RateLimit    RateLimit  `json:"rate_limit"`
	Flags        []string   `json:"flags"`
}

// NewKey returns the view of k at time now, without flags.
func NewKey(k *hrgate.APIKey, now time.Time) Key {
	return Key{
		ID: k.ID, ConsumerID: k.ConsumerID, Env: string(k.Env), Description: k.Description,
		Scopes: nonNil(k.Scopes), AllowCIDRs: nonNil(k.AllowCIDRs), State: KeyState(k, now), CreatedAt: k.CreatedAt,
		AgeSeconds: int64(now.Sub(k.CreatedAt) / time.Second), ExpiresAt: optTime(k.ExpiresAt),
		RevokedAt: optTime(k.RevokedAt), LastUsedAt: optTime(k.LastUsedAt), LastUsedAddr: k.LastUsedAddr,
		ReplacedBy: k.ReplacedByID, RateLimit: NewRateLimit(k.RateLimit), Flags: []string{},
	}
}

// KeyState names where a key is in its life: active, rotated (working
// until its grace period ends), expired or revoked.
func KeyState(k *hrgate.APIKey, now time.Time) string {
	if ok, reason := k.Usable(now); !ok {
		return strings.TrimPrefix(reason, "key ")
	}
	if k.Rotated() {
		return "rotated"
	}
	return "active"
}

// FlagThresholds say when a key deserves an operator's attention.
type FlagThresholds struct {
	// Stale flags keys not used for this long (or never, once this old).
	Stale time.Duration
	// Expiring flags keys that expire within this time.
	Expiring time.Duration
}

// DefaultThresholds are used when the operator names none.
var DefaultThresholds = FlagThresholds{Stale: 30 * 24 * time.Hour, Expiring: 14 * 24 * time.Hour}

// KeyFlags marks what an operator should look at in a usable key: stale,
// expiring, a rotated key whose successor waits to be fetched
// (successor-not-fetched), and a key waiting to be fetched itself
// (awaiting-fetch). pending holds the ids of keys waiting to be fetched.
func KeyFlags(k *hrgate.APIKey, now time.Time, th FlagThresholds, pending map[string]bool) []string {
	flags := []string{}
	if ok, _ := k.Usable(now); !ok {
		return flags
	}
	lastUse := k.LastUsedAt
	if lastUse.IsZero() {
		lastUse = k.CreatedAt
	}
	if now.Sub(lastUse) >= th.Stale {
		flags = append(flags, "stale")
	}
	if !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) <= th.Expiring {
		flags = append(flags, "expiring")
	}
	if k.Rotated() && pending[k.ReplacedByID] {
		flags = append(flags, "successor-not-fetched")
	}
	if pending[k.ID] {
		flags = append(flags, "awaiting-fetch")
	}
	return flags
}

// NewSecret is the one answer that carries a new key's secret: creation
// and rotation.
type NewSecret struct {
	ID         string     `json:"id"`
	Key        string     `json:"key"`
	ConsumerID string     `json:"consumer_id"`
	Scopes     []string   `json:"scopes"`
	AllowCIDRs []string   `json:"allow_cidrs"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RateLimit  RateLimit  `json:"rate_limit"`
	Replaces   string     `json:"replaces,omitempty"`
	OldExpires *time.Time `json:"old_key_expires_at,omitempty"`
}

// NewKeySecret returns the view of a created key and its secret; old is
// the key it replaces, or nil.
func NewKeySecret(k *hrgate.APIKey, secret string, old *hrgate.APIKey) NewSecret {
	s := NewSecret{ID: k.ID, Key: secret, ConsumerID: k.ConsumerID, Scopes: nonNil(k.Scopes),
		AllowCIDRs: nonNil(k.AllowCIDRs), ExpiresAt: k.ExpiresAt, RateLimit: NewRateLimit(k.RateLimit)}
	if old != nil {
		s.Replaces, s.OldExpires = old.ID, optTime(old.ExpiresAt)
	}
	return s
}

// Delivery is a key secret created by automatic rotation, handed out once.
type Delivery struct {
	ID         string    `json:"id"`
	Key        string    `json:"key"`
	ConsumerID string    `json:"consumer_id"`
	Replaces   string    `json:"replaces"`
	CreatedAt  time.Time `json:"created_at"`
}

// NewDeliveries returns the views of ds.
func NewDeliveries(ds []*hrgate.KeyDelivery) []Delivery {
	return All(ds, func(d *hrgate.KeyDelivery) Delivery {
		return Delivery{ID: d.KeyID, Key: d.Secret, ConsumerID: d.ConsumerID, Replaces: d.ReplacesID, CreatedAt: d.CreatedAt}
	})
}

// All returns the views of items, never nil, so that an empty list is []
// in JSON.
func All[T, V any](items []T, view func(T) V) []V {
	out := make([]V, 0, len(items))
	for _, it := range items {
		out = append(out, view(it))
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListKeys returns the views of a consumer's keys ("" for all), named and
// flagged, for `hrgate keys list` and the admin API alike.
func ListKeys(ctx context.Context, g *gate.Gate, consumer string, th FlagThresholds) ([]Key, error) {
	keys, err := g.Keys(ctx, consumer)
	if err != nil {
		return nil, err
	}
	consumers, err := g.Consumers(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(consumers))
	for _, c := range consumers {
		names[c.ID] = c.Name
	}
	pending, err := g.PendingKeyDeliveries(ctx)
	if err != nil {
		return nil, err
	}
	now := g.Now()
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		j := NewKey(k, now)
		j.Consumer = names[k.ConsumerID]
		j.Flags = KeyFlags(k, now, th, pending)
		out = append(out, j)
	}
	return out, nil
}

// Client is the JSON form of an OAuth client, without its secret.
type Client struct {
	ClientID    string          `json:"client_id"`
	ConsumerID  string          `json:"consumer_id"`
	AuthMethod  string          `json:"auth_method"`
	Description string          `json:"description,omitempty"`
	Scopes      []string        `json:"scopes"`
	AllowCIDRs  []string        `json:"allow_cidrs"`
	PublicJWK   json.RawMessage `json:"public_jwk,omitempty"`
	RateLimit   RateLimit       `json:"rate_limit"`
	CreatedAt   time.Time       `json:"created_at"`
}

// NewClient returns the view of c.
func NewClient(c *hrgate.OAuthClient) Client {
	return Client{
		ClientID: c.ID, ConsumerID: c.ConsumerID, AuthMethod: string(c.AuthMethod), Description: c.Description,
		Scopes: nonNil(c.Scopes), AllowCIDRs: nonNil(c.AllowCIDRs), PublicJWK: c.PublicJWK,
		RateLimit: NewRateLimit(c.RateLimit), CreatedAt: c.CreatedAt,
	}
}

// NewClientSecret is the one answer that carries a client's secret: its
// creation. ClientSecret is empty for private_key_jwt clients.
type NewClientSecret struct {
	Client
	ClientSecret string `json:"client_secret,omitempty"`
}

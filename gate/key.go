package gate

import (
	"context"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

// KeyRequest describes a key to create.
type KeyRequest struct {
	// Consumer is the owning consumer's id or name.
	Consumer string
	// Scopes are the key's scopes; empty means the consumer's whole grant.
	Scopes []string
	// Test makes a hrg_test_ key, which sees only sandbox companies.
	Test        bool
	Description string
	// AllowCIDRs restricts the client addresses the key works from.
	AllowCIDRs []string
	// ExpiresIn is the key's lifetime; zero means the longest allowed.
	ExpiresIn time.Duration
	// RateLimit is the key's own allowance; the zero value leaves it to
	// the configured defaults.
	RateLimit hrgate.RateLimit
}

// CreateKey creates an API key and returns its record and its secret. The
// secret is returned once and never stored: only its hash is. The key's
// scopes must lie within the consumer's grant (EINVALID otherwise, naming
// the scopes that do not).
func (g *Gate) CreateKey(ctx context.Context, req KeyRequest) (*hrgate.APIKey, string, error) {
	c, keyGrant, cidrs, err := g.credentialRules(ctx, "Key", req.Consumer, req.Scopes, req.AllowCIDRs, req.Description)
	if err != nil {
		return nil, "", err
	}
	lifetime, err := g.keyLifetime(req.ExpiresIn)
	if err != nil {
		return nil, "", err
	}
	if err := CheckRateLimit(req.RateLimit, fieldsInWords); err != nil {
		return nil, "", err
	}
	env := hrgate.KeyLive
	if req.Test {
		env = hrgate.KeyTest
	}
	now := g.Now()
	k, secret, err := g.newKey(&hrgate.APIKey{
		ConsumerID: c.ID, Env: env, Description: req.Description, Scopes: keyGrant.Scopes(),
		AllowCIDRs: cidrs, CreatedAt: now, ExpiresAt: now.Add(lifetime), RateLimit: req.RateLimit,
	})
	if err != nil {
		return nil, "", err
	}
	if err := g.store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	g.log.Info("api key created", "key_id", k.ID, "consumer_id", c.ID, "env", string(env),
		"scopes", keyGrant.String(), "allow_cidrs", strings.Join(cidrs, " "), "expires_at", k.ExpiresAt,
		"rate_limit", k.RateLimit.String())
	if err := g.record(ctx, hrgate.AuditKeyCreated, k.ID, k.ID, c.ID, nil, keyOf(k)); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// keyLifetime checks a requested lifetime against the policy; zero asks
// for the longest allowed.
func (g *Gate) keyLifetime(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return g.maxKeyLifetime, nil
	case d < time.Minute:
		return 0, hrgate.Errorf(hrgate.EINVALID, "Invalid expiry: a key must live at least 1m.")
	case d > g.maxKeyLifetime:
		return 0, hrgate.Errorf(hrgate.EINVALID, "Invalid expiry: %s exceeds the longest key lifetime allowed, %s (keys.max_lifetime).",
			hrgate.FormatDuration(d), hrgate.FormatDuration(g.maxKeyLifetime))
	}
	return d, nil
}

// newKey fills in a fresh id, secret and hash for the key record tmpl.
func (g *Gate) newKey(tmpl *hrgate.APIKey) (*hrgate.APIKey, string, error) {
	secret, err := hrgate.GenerateAPIKey(tmpl.Env, g.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "generate key")
	}
	id, err := hrgate.NewID(hrgate.PrefixAPIKey, g.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "generate key id")
	}
	k := *tmpl
	k.ID, k.Hash = id, hrgate.HashAPIKey(secret)
	return &k, secret, nil
}

// outside lists the scopes of h that g does not cover, for error messages.
func outside(g, h *grant.Grant) []string {
	var out []string
	for _, s := range h.Scopes() {
		one, err := grant.Parse(s)
		if err != nil || !g.Covers(one) {
			out = append(out, s)
		}
	}
	return out
}

// Keys returns the keys of a consumer (by id or name), or of every consumer
// when consumer is empty.
func (g *Gate) Keys(ctx context.Context, consumer string) ([]*hrgate.APIKey, error) {
	id, err := g.consumerID(ctx, consumer)
	if err != nil {
		return nil, err
	}
	return g.store.ListAPIKeys(ctx, id)
}

// Key returns the key with the given id, or ENOTFOUND; what is not a key
// id is EINVALID.
func (g *Gate) Key(ctx context.Context, id string) (*hrgate.APIKey, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	return g.store.FindAPIKey(ctx, id)
}

// RevokeKey revokes a key: the next request made with it through this gate
// fails, and other processes refuse it within their credential refresh.
func (g *Gate) RevokeKey(ctx context.Context, id string) error {
	if err := checkKeyID(id); err != nil {
		return err
	}
	k, err := g.store.FindAPIKey(ctx, id)
	if err != nil {
		return err
	}
	now := g.Now()
	if err := g.store.RevokeAPIKey(ctx, id, now); err != nil {
		return err
	}
	g.log.Info("api key revoked", "key_id", id)
	before, after := keyOf(k), keyOf(k)
	if k.RevokedAt.IsZero() {
		after.RevokedAt = &now
	}
	return g.record(ctx, hrgate.AuditKeyRevoked, k.ID, k.ID, k.ConsumerID, before, after)
}

// checkKeyID refuses what is not a key id.
func checkKeyID(id string) error {
	return checkID(id, hrgate.PrefixAPIKey, "key")
}

// ownSecret is the secret of each kind of credential checkID names, so
// that its message can say a secret went where its own id belongs.
var ownSecret = map[string]hrgate.SecretKind{
	"key":    hrgate.SecretAPIKey,
	"client": hrgate.SecretClientSecret,
}

// checkID refuses what is not a what id with prefix. A secret of any kind
// hrgate hands out (hrgate.LooksLikeSecret) pasted where the id belongs is
// not echoed back: it is now in a shell history or a request log and
// should be replaced.
func checkID(id, prefix, what string) error {
	if hrgate.ValidID(prefix, id) {
		return nil
	}
	if s, ok := hrgate.LooksLikeSecret(id); ok {
		if s.Kind == ownSecret[what] {
			return hrgate.Errorf(hrgate.EINVALID, "That is a %s's secret, not its id (%s_…); treat it as exposed and replace it.", what, prefix)
		}
		return hrgate.Errorf(hrgate.EINVALID, "That is %s, not a %s id (%s_…); treat it as exposed and replace it.", s.Words, what, prefix)
	}
	return hrgate.Errorf(hrgate.EINVALID, "Invalid %s id %q: %s ids look like %s_… .", what, hrgate.Echo(id), what, prefix)
}

// credentialRules checks what a new key or client of a consumer asks for
// (what names it in messages) and returns the consumer, the credential's
// grant (the consumer's whole grant when scopes is empty, else scopes,
// which must lie within it) and its canonical allowlist.
func (g *Gate) credentialRules(ctx context.Context, what, consumer string, scopes, cidrs []string, description string) (*hrgate.Consumer, *grant.Grant, []string, error) {
	if consumer == "" {
		return nil, nil, nil, hrgate.Errorf(hrgate.EINVALID, "A %s needs a consumer: name it by name or id.", strings.ToLower(what))
	}
	c, err := g.store.FindConsumer(ctx, consumer)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkDescription(description); err != nil {
		return nil, nil, nil, err
	}
	consumerGrant, err := grant.Parse(c.Scopes...)
	if err != nil {
		return nil, nil, nil, hrgate.Wrap(err, "parse stored consumer grant")
	}
	gr := consumerGrant
	if len(scopes) > 0 {
		if gr, err = grant.Parse(scopes...); err != nil {
			return nil, nil, nil, err
		}
		if !consumerGrant.Covers(gr) {
			return nil, nil, nil, hrgate.Errorf(hrgate.EINVALID,
				"%s scopes %q are not within the grant of consumer %q (%s).",
				what, strings.Join(outside(consumerGrant, gr), " "), c.Name, consumerGrant.String())
		}
	}
	canonical, err := parseCIDRs(cidrs)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, gr, canonical, nil
}

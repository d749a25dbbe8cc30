package gate

import (
	"context"
	"strings"

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
}

// CreateKey creates an API key and returns its record and its secret. The
// secret is returned once and never stored: only its hash is. The key's
// scopes must lie within the consumer's grant (EINVALID otherwise, naming
// the scopes that do not).
func (g *Gate) CreateKey(ctx context.Context, req KeyRequest) (*hrgate.APIKey, string, error) {
	c, err := g.store.FindConsumer(ctx, req.Consumer)
	if err != nil {
		return nil, "", err
	}
	if err := checkDescription(req.Description); err != nil {
		return nil, "", err
	}
	consumerGrant, err := grant.Parse(c.Scopes...)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "parse stored consumer grant")
	}
	keyGrant := consumerGrant
	if len(req.Scopes) > 0 {
		if keyGrant, err = grant.Parse(req.Scopes...); err != nil {
			return nil, "", err
		}
		if !consumerGrant.Covers(keyGrant) {
			return nil, "", hrgate.Errorf(hrgate.EINVALID,
				"Key scopes %q are not within the grant of consumer %q (%s).",
				strings.Join(outside(consumerGrant, keyGrant), " "), c.Name, consumerGrant.String())
		}
	}
	env := hrgate.KeyLive
	if req.Test {
		env = hrgate.KeyTest
	}
	secret, err := hrgate.GenerateAPIKey(env, g.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "generate key")
	}
	id, err := hrgate.NewID(hrgate.PrefixAPIKey, g.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "generate key id")
	}
	k := &hrgate.APIKey{
		ID: id, ConsumerID: c.ID, Env: env, Hash: hrgate.HashAPIKey(secret),
		Description: req.Description, Scopes: keyGrant.Scopes(), CreatedAt: g.Now(),
	}
	if err := g.store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	g.log.Info("api key created", "key_id", k.ID, "consumer_id", c.ID, "env", string(env), "scopes", keyGrant.String())
	return k, secret, nil
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
	id := ""
	if consumer != "" {
		c, err := g.store.FindConsumer(ctx, consumer)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	return g.store.ListAPIKeys(ctx, id)
}

// RevokeKey revokes a key at once: the next request made with it fails.
func (g *Gate) RevokeKey(ctx context.Context, id string) error {
	if !hrgate.ValidID(hrgate.PrefixAPIKey, id) {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid key id %q: key ids look like key_… .", truncate(id, 64))
	}
	if err := g.store.RevokeAPIKey(ctx, id, g.Now()); err != nil {
		return err
	}
	g.log.Info("api key revoked", "key_id", id)
	return nil
}

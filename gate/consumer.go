package gate

import (
	"context"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

// ConsumerRequest describes a consumer to create.
type ConsumerRequest struct {
	Name        string
	Description string
	// Scopes are the consumer's grant.
	Scopes []string
	// RateLimit is the consumer's own allowance over all its credentials;
	// the zero value leaves it to the configured defaults.
	RateLimit hrgate.RateLimit
}

// CreateConsumer creates a consumer with the given grant and the default
// rate limits; see CreateConsumerWith.
func (g *Gate) CreateConsumer(ctx context.Context, name, description string, scopes []string) (*hrgate.Consumer, error) {
	return g.CreateConsumerWith(ctx, ConsumerRequest{Name: name, Description: description, Scopes: scopes})
}

// CreateConsumerWith creates the consumer req describes. The name must be
// a valid consumer name, the scopes must parse and the rate limit must be
// within bounds; these errors are EINVALID and say what is wrong. A taken
// name is ECONFLICT.
func (g *Gate) CreateConsumerWith(ctx context.Context, req ConsumerRequest) (*hrgate.Consumer, error) {
	name, description, scopes := req.Name, req.Description, req.Scopes
	if !hrgate.ValidConsumerName(name) {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Invalid consumer name %q: use 1 to 63 lower-case letters, digits, '-' or '_'.", hrgate.Echo(name))
	}
	if err := checkDescription(description); err != nil {
		return nil, err
	}
	gr, err := grant.Parse(scopes...)
	if err != nil {
		return nil, err
	}
	if err := CheckRateLimit(req.RateLimit, fieldsInWords); err != nil {
		return nil, err
	}
	id, err := hrgate.NewID(hrgate.PrefixConsumer, g.random)
	if err != nil {
		return nil, hrgate.Wrap(err, "create consumer")
	}
	now := g.Now()
	c := &hrgate.Consumer{
		ID: id, Name: name, Description: description,
		Scopes: gr.Scopes(), RateLimit: req.RateLimit, CreatedAt: now, ModifiedAt: now,
	}
	if err := g.store.CreateConsumer(ctx, c); err != nil {
		return nil, err
	}
	g.log.Info("consumer created", "consumer_id", c.ID, "consumer", c.Name, "scopes", gr.String(),
		"rate_limit", c.RateLimit.String())
	if err := g.record(ctx, hrgate.AuditConsumerCreated, c.ID, "", c.ID, nil, consumerOf(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// Consumer returns the consumer with the given id or name, or ENOTFOUND.
func (g *Gate) Consumer(ctx context.Context, idOrName string) (*hrgate.Consumer, error) {
	return g.store.FindConsumer(ctx, idOrName)
}

// Consumers returns every consumer ordered by name.
func (g *Gate) Consumers(ctx context.Context) ([]*hrgate.Consumer, error) {
	return g.store.ListConsumers(ctx)
}

// SetGrant replaces a consumer's grant. Keys keep their own scopes; at use
// their effective grant is intersected with the consumer's, so narrowing
// the grant narrows every key at once and widening it widens none.
func (g *Gate) SetGrant(ctx context.Context, idOrName string, scopes []string) (*hrgate.Consumer, error) {
	gr, err := grant.Parse(scopes...)
	if err != nil {
		return nil, err
	}
	if gr.IsEmpty() {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Give the new grant's scopes; an empty grant would see nothing.")
	}
	c, err := g.store.FindConsumer(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	before := strings.Join(c.Scopes, " ")
	old := consumerOf(c)
	c.Scopes = gr.Scopes()
	c.ModifiedAt = g.Now()
	if err := g.store.UpdateConsumer(ctx, c); err != nil {
		return nil, err
	}
	g.log.Info("consumer grant changed", "consumer_id", c.ID, "consumer", c.Name, "before", before, "after", gr.String())
	if err := g.record(ctx, hrgate.AuditConsumerUpdated, c.ID, "", c.ID, old, consumerOf(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteConsumer deletes a consumer and all its keys.
func (g *Gate) DeleteConsumer(ctx context.Context, idOrName string) error {
	c, err := g.store.FindConsumer(ctx, idOrName)
	if err != nil {
		return err
	}
	if err := g.store.DeleteConsumer(ctx, c.ID); err != nil {
		return err
	}
	g.log.Info("consumer deleted", "consumer_id", c.ID, "consumer", c.Name)
	return g.record(ctx, hrgate.AuditConsumerDeleted, c.ID, "", c.ID, consumerOf(c), nil)
}

// checkDescription bounds the free text operators attach to consumers and
// keys: it ends up in listings and logs.
func checkDescription(d string) error {
	if len(d) > 1024 || strings.ContainsFunc(d, isControl) {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid description: at most 1024 characters, no control characters.")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// consumerID resolves a consumer name or id to its id; "" (every
// consumer) stays "".
func (g *Gate) consumerID(ctx context.Context, idOrName string) (string, error) {
	if idOrName == "" {
		return "", nil
	}
	c, err := g.store.FindConsumer(ctx, idOrName)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

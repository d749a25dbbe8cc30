package gate

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hrgate/hrgate"
)

// WithAudit records every change the gate makes to consumers, grants, keys
// and clients in the audit trail, with the actor of the context
// (hrgate.WithActor) and the non-secret attributes before and after. The
// admin API and the CLI go through the same methods, so neither can make
// a change the trail misses.
func WithAudit(r hrgate.AuditRecorder) Option { return func(g *Gate) { g.audit = r } }

// record appends a change event, once the change has committed. The two
// are in different databases and cannot share a transaction: if the event
// cannot be written, the change stands and the caller gets the error, so
// that no change is reported done without its event.
func (g *Gate) record(ctx context.Context, typ, target, credentialID, consumerID string, before, after any) error {
	if g.audit == nil {
		return nil
	}
	a := hrgate.ActorFrom(ctx)
	ev := &hrgate.AuditEvent{
		Type: typ, ActorKind: a.Kind, Actor: a.Name, ClientAddr: a.ClientAddr, RequestID: a.RequestID,
		CredentialID: credentialID, ConsumerID: consumerID, Target: target,
		Before: attrsJSON(before), After: attrsJSON(after),
	}
	if err := g.audit.Record(ctx, ev); err != nil {
		g.log.Error("a change was made but its audit event could not be written", "type", typ, "target", target, "err", err)
		return err
	}
	return nil
}

func attrsJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// consumerAttrs are the attributes of a consumer the trail keeps.
type consumerAttrs struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Scopes      []string `json:"scopes"`
	RotateAfter string   `json:"key_rotation_max_age,omitempty"`
	RotateGrace string   `json:"key_rotation_grace,omitempty"`
	// RateLimit is absent when every part is the configured default.
	RateLimit *limitAttrs `json:"rate_limit,omitempty"`
}

// limitAttrs is a rate limit as the trail keeps it, written as operators
// write it ("50/s", "20000/day"); a part left to the default is absent.
type limitAttrs struct {
	Rate  string `json:"rate,omitempty"`
	Burst int    `json:"burst,omitempty"`
	Quota string `json:"quota,omitempty"`
}

func limitOf(r hrgate.RateLimit) *limitAttrs {
	if r.IsZero() {
		return nil
	}
	return &limitAttrs{Rate: hrgate.FormatRate(r.Rate), Burst: r.Burst, Quota: hrgate.FormatQuota(r.Quota)}
}

func consumerOf(c *hrgate.Consumer) *consumerAttrs {
	a := &consumerAttrs{ID: c.ID, Name: c.Name, Description: c.Description, Scopes: c.Scopes, RateLimit: limitOf(c.RateLimit)}
	if c.KeyRotation.Enabled() {
		a.RotateAfter, a.RotateGrace = hrgate.FormatDuration(c.KeyRotation.MaxAge), hrgate.FormatDuration(c.KeyRotation.Grace)
	}
	return a
}

// keyAttrs are the attributes of an API key the trail keeps: never its
// secret or its hash.
type keyAttrs struct {
	ID          string      `json:"id"`
	ConsumerID  string      `json:"consumer_id"`
	Env         string      `json:"env"`
	Description string      `json:"description,omitempty"`
	Scopes      []string    `json:"scopes"`
	AllowCIDRs  []string    `json:"allow_cidrs,omitempty"`
	ExpiresAt   *time.Time  `json:"expires_at,omitempty"`
	RevokedAt   *time.Time  `json:"revoked_at,omitempty"`
	ReplacedBy  string      `json:"replaced_by,omitempty"`
	Replaces    string      `json:"replaces,omitempty"`
	RateLimit   *limitAttrs `json:"rate_limit,omitempty"`
}

func keyOf(k *hrgate.APIKey) *keyAttrs {
	return &keyAttrs{
		ID: k.ID, ConsumerID: k.ConsumerID, Env: string(k.Env), Description: k.Description, Scopes: k.Scopes,
		AllowCIDRs: k.AllowCIDRs, ExpiresAt: optTime(k.ExpiresAt), RevokedAt: optTime(k.RevokedAt), ReplacedBy: k.ReplacedByID,
		RateLimit: limitOf(k.RateLimit),
	}
}

// clientAttrs are the attributes of an OAuth client the trail keeps:
// never its secret or its hash.
type clientAttrs struct {
	ID          string      `json:"id"`
	ConsumerID  string      `json:"consumer_id"`
	AuthMethod  string      `json:"auth_method"`
	Description string      `json:"description,omitempty"`
	Scopes      []string    `json:"scopes"`
	AllowCIDRs  []string    `json:"allow_cidrs,omitempty"`
	RateLimit   *limitAttrs `json:"rate_limit,omitempty"`
}

func clientOf(c *hrgate.OAuthClient) *clientAttrs {
	return &clientAttrs{ID: c.ID, ConsumerID: c.ConsumerID, AuthMethod: string(c.AuthMethod), Description: c.Description,
		Scopes: c.Scopes, AllowCIDRs: c.AllowCIDRs, RateLimit: limitOf(c.RateLimit)}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

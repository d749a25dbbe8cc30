package gate

import (
	"context"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/oauth"
)

// ClientRequest describes an OAuth client to create.
type ClientRequest struct {
	// Consumer is the owning consumer's id or name.
	Consumer string
	// Scopes are the client's scopes; empty means the consumer's whole
	// grant.
	Scopes []string
	// AllowCIDRs restricts where the client may get and use tokens from.
	AllowCIDRs []string
	// JWK, when set, is the public key of a private_key_jwt client, which
	// then has no secret.
	JWK         []byte
	Description string
	// RateLimit is the client's own allowance; the zero value leaves it
	// to the configured defaults.
	RateLimit hrgate.RateLimit
}

// maxCIDRs bounds a key's or client's allowlist: it is checked on every request.
const maxCIDRs = 64

// CreateClient creates an OAuth client and returns its record and, for a
// client_secret client, its secret. The secret is returned once and never
// stored: only its hash is. The scopes must lie within the consumer's
// grant, and a JWK must be a public signing key (EINVALID otherwise).
func (g *Gate) CreateClient(ctx context.Context, req ClientRequest) (*hrgate.OAuthClient, string, error) {
	c, clientGrant, cidrs, err := g.credentialRules(ctx, "Client", req.Consumer, req.Scopes, req.AllowCIDRs, req.Description)
	if err != nil {
		return nil, "", err
	}
	if err := CheckRateLimit(req.RateLimit, fieldsInWords); err != nil {
		return nil, "", err
	}
	id, err := hrgate.NewID(hrgate.PrefixClient, g.random)
	if err != nil {
		return nil, "", hrgate.Wrap(err, "generate client id")
	}
	cl := &hrgate.OAuthClient{
		ID: id, ConsumerID: c.ID, Description: req.Description, Scopes: clientGrant.Scopes(),
		AllowCIDRs: cidrs, RateLimit: req.RateLimit, CreatedAt: g.Now(),
	}
	secret := ""
	if len(req.JWK) > 0 {
		_, canon, err := oauth.ParseClientJWK(req.JWK)
		if err != nil {
			return nil, "", hrgate.Errorf(hrgate.EINVALID, "Invalid client key: %s.", err.Error())
		}
		cl.AuthMethod, cl.PublicJWK = hrgate.AuthPrivateKeyJWT, canon
	} else {
		if secret, err = hrgate.GenerateClientSecret(g.random); err != nil {
			return nil, "", hrgate.Wrap(err, "generate client secret")
		}
		cl.AuthMethod, cl.SecretHash = hrgate.AuthClientSecret, hrgate.HashClientSecret(secret)
	}
	if err := g.store.CreateClient(ctx, cl); err != nil {
		return nil, "", err
	}
	g.log.Info("oauth client created", "client_id", cl.ID, "consumer_id", c.ID, "auth_method", string(cl.AuthMethod),
		"scopes", clientGrant.String(), "allow_cidrs", strings.Join(cidrs, " "), "rate_limit", cl.RateLimit.String())
	if err := g.record(ctx, hrgate.AuditClientCreated, cl.ID, cl.ID, c.ID, nil, clientOf(cl)); err != nil {
		return nil, "", err
	}
	return cl, secret, nil
}

// parseCIDRs checks an allowlist of a key or client and returns it in
// canonical form.
func parseCIDRs(in []string) ([]string, error) {
	if len(in) > maxCIDRs {
		return nil, hrgate.Errorf(hrgate.EINVALID, "At most %d allowed networks per credential.", maxCIDRs)
	}
	out, err := hrgate.ParseCIDRs(in)
	if err != nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Invalid client network in the allowlist: %v.", err)
	}
	return out, nil
}

// Client returns the OAuth client with the given id, or ENOTFOUND; what is
// not a client id is EINVALID.
func (g *Gate) Client(ctx context.Context, id string) (*hrgate.OAuthClient, error) {
	if err := checkClientID(id); err != nil {
		return nil, err
	}
	return g.store.FindClient(ctx, id)
}

// Clients returns the OAuth clients of a consumer (by id or name), or of
// every consumer when consumer is empty.
func (g *Gate) Clients(ctx context.Context, consumer string) ([]*hrgate.OAuthClient, error) {
	id, err := g.consumerID(ctx, consumer)
	if err != nil {
		return nil, err
	}
	return g.store.ListClients(ctx, id)
}

// DeleteClient deletes an OAuth client: the next request made with any of
// its tokens through this gate fails, and other processes refuse them
// within their credential refresh.
func (g *Gate) DeleteClient(ctx context.Context, id string) error {
	if err := checkClientID(id); err != nil {
		return err
	}
	cl, err := g.store.FindClient(ctx, id)
	if err != nil {
		return err
	}
	if err := g.store.DeleteClient(ctx, id); err != nil {
		return err
	}
	g.log.Info("oauth client deleted", "client_id", id)
	return g.record(ctx, hrgate.AuditClientDeleted, cl.ID, cl.ID, cl.ConsumerID, clientOf(cl), nil)
}

// checkClientID refuses what is not a client id.
func checkClientID(id string) error {
	return checkID(id, hrgate.PrefixClient, "client")
}

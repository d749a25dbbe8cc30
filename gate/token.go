package gate

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
	"github.com/hrgate/hrgate/internal/bounded"
	"github.com/hrgate/hrgate/oauth"
)

// oauthState is the gate's OAuth half: the token authority and the caches
// that let a bearer-token request check its client and the revocations
// against two counters, the credential epoch (as an API-key request does)
// and the revocation epoch, which the store serves from memory.
type oauthState struct {
	authority *oauth.Authority
	clients   bounded.Map[string, *clientCred]

	revokedMu sync.Mutex
	revoked   *revokedSet
}

// WithAuthority enables OAuth 2.0: the gate issues access tokens through a
// and accepts them as credentials. Without it, bearer JWTs are refused.
func WithAuthority(a *oauth.Authority) Option { return func(g *Gate) { g.oauth.authority = a } }

// Authority returns the OAuth authority, or nil when OAuth is not enabled.
func (g *Gate) Authority() *oauth.Authority { return g.oauth.authority }

// isJWT tells a bearer JWT from an API key: API keys never hold a dot, a
// JWS in compact form holds exactly two.
func isJWT(credential string) bool { return strings.Count(credential, ".") == 2 }

// authenticateToken is Authenticate for access tokens. The effective grant
// is the consumer's current grant ∩ the client's scopes ∩ the token's
// scope, so narrowing a grant narrows live tokens at once.
func (g *Gate) authenticateToken(ctx context.Context, token string, addr netip.Addr) (*Principal, error) {
	claims, cc, err := g.checkToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if !cc.allow.Allows(addr) {
		return nil, errUnauthenticatedBy("client address outside the client's allowlist (client "+cc.client.ID+", token "+claims.ID+")",
			cc.client.ID, cc.consumer.ID)
	}
	gr, err := cc.scoped(claims.Scope)
	if err != nil {
		return nil, errUnauthenticatedBy("token scope does not parse (client "+cc.client.ID+", token "+claims.ID+")", cc.client.ID, cc.consumer.ID)
	}
	return &Principal{
		KeyID:        cc.client.ID,
		ConsumerID:   cc.consumer.ID,
		ConsumerName: cc.consumer.Name,
		Env:          hrgate.KeyLive,
		Grant:        gr,
		ClientID:     cc.client.ID,
		TokenID:      claims.ID,
		// Read under the epoch checkToken checked, like the grant.
		RateLimit:         cc.client.RateLimit,
		ConsumerRateLimit: cc.consumer.RateLimit,
	}, nil
}

// checkToken verifies a token and checks that it is not revoked and that
// its client still exists. Failures are the generic EUNAUTHORIZED.
func (g *Gate) checkToken(ctx context.Context, token string) (*oauth.Claims, *clientCred, error) {
	a := g.oauth.authority
	if a == nil {
		return nil, nil, errUnauthenticated("bearer token presented but OAuth is not enabled")
	}
	claims, err := a.Verify(ctx, token)
	if err != nil {
		return nil, nil, tokenFailure(err)
	}
	// The credential epoch is read before the client it guards, and
	// revokedTokens reads the revocation epoch before the revocations, so
	// that a change committed between two reads leaves a stale epoch
	// behind, which the next request reloads.
	epoch, err := g.store.CredentialEpoch(ctx)
	if err != nil {
		return nil, nil, err
	}
	revoked, err := g.revokedTokens(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := revoked[claims.ID]; ok {
		return nil, nil, errUnauthenticatedBy("token revoked (client "+claims.ClientID+", token "+claims.ID+")", claims.ClientID, "")
	}
	cc, err := g.clientCredential(ctx, claims.ClientID, epoch)
	if err != nil {
		return nil, nil, err
	}
	return claims, cc, nil
}

// tokenFailure turns a verification error into the generic answer,
// keeping the reason for the log; errors of the store stay what they are.
func tokenFailure(err error) error {
	var ie *oauth.InvalidTokenError
	if errors.As(err, &ie) {
		return errUnauthenticated(ie.Error())
	}
	return hrgate.Wrap(err, "verify access token")
}

// revokedSet is the set of unexpired revoked token ids, read under one
// revocation epoch.
type revokedSet struct {
	epoch int64
	ids   map[string]struct{}
}

func (g *Gate) revokedTokens(ctx context.Context) (map[string]struct{}, error) {
	epoch, err := g.store.RevocationEpoch(ctx)
	if err != nil {
		return nil, err
	}
	s := &g.oauth
	s.revokedMu.Lock()
	cur := s.revoked
	s.revokedMu.Unlock()
	if cur != nil && cur.epoch == epoch {
		return cur.ids, nil
	}
	list, err := g.store.RevokedTokens(ctx, g.Now())
	if err != nil {
		return nil, err
	}
	next := &revokedSet{epoch: epoch, ids: make(map[string]struct{}, len(list))}
	for _, id := range list {
		next.ids[id] = struct{}{}
	}
	s.revokedMu.Lock()
	s.revoked = next
	s.revokedMu.Unlock()
	return next.ids, nil
}

// clientCred is a resolved client: its record, its consumer, the grant
// they allow together and, for private_key_jwt, its parsed key. It is
// shared between requests and never modified, but for scopedCache.
type clientCred struct {
	epoch    int64
	client   *hrgate.OAuthClient
	allow    hrgate.Allowlist
	consumer *hrgate.Consumer
	grant    *grant.Grant
	key      *oauth.ClientKey

	byTokenScope bounded.Map[string, *grant.Grant]
}

// maxScopedGrants bounds the grants cached per client; a client asks for a
// handful of distinct scopes in practice.
const maxScopedGrants = 64

// scoped returns the client's grant narrowed to a token's scope claim.
func (cc *clientCred) scoped(scope string) (*grant.Grant, error) {
	if gr, ok := cc.byTokenScope.Get(scope); ok {
		return gr, nil
	}
	tokenGrant, err := grant.Parse(scope)
	if err != nil {
		return nil, err
	}
	gr := cc.grant.Intersect(tokenGrant)
	cc.byTokenScope.Put(scope, gr)
	return gr, nil
}

func (g *Gate) clientCredential(ctx context.Context, id string, epoch int64) (*clientCred, error) {
	if cc, ok := g.oauth.clients.Get(id); ok && cc.epoch == epoch {
		return cc, nil
	}
	cc, err := g.loadClient(ctx, id, epoch)
	if err != nil {
		return nil, err
	}
	g.oauth.clients.Put(id, cc)
	return cc, nil
}

func (g *Gate) loadClient(ctx context.Context, id string, epoch int64) (*clientCred, error) {
	if !hrgate.ValidID(hrgate.PrefixClient, id) {
		return nil, errUnauthenticated("malformed client id")
	}
	cl, err := g.store.FindClient(ctx, id)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return nil, errUnauthenticatedBy("unknown or deleted client "+id, id, "")
	} else if err != nil {
		return nil, err
	}
	c, gr, err := g.consumerGrant(ctx, cl.ConsumerID, cl.Scopes, "client", id)
	if err != nil {
		return nil, err
	}
	cc := &clientCred{epoch: epoch, client: cl, allow: hrgate.NewAllowlist(cl.AllowCIDRs), consumer: c, grant: gr}
	cc.byTokenScope.Max = maxScopedGrants
	if cl.AuthMethod == hrgate.AuthPrivateKeyJWT {
		if cc.key, _, err = oauth.ParseClientJWK(cl.PublicJWK); err != nil {
			return nil, hrgate.Wrap(err, "parse stored client key")
		}
	}
	return cc, nil
}

package gate

import (
	"context"
	"crypto/subtle"
	"net/netip"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
	"github.com/hrgate/hrgate/oauth"
)

// ClientAuth is what a client presents to the OAuth endpoints: its id with
// either its secret (client_secret_basic or client_secret_post) or a
// signed assertion (private_key_jwt). The transport has already refused
// requests that use more than one method.
type ClientAuth struct {
	ClientID  string
	Secret    string
	Assertion string
}

// authenticateClient checks a client's credential and address. Every
// failure is the same EUNAUTHORIZED, the reason kept for the log.
func (g *Gate) authenticateClient(ctx context.Context, ca ClientAuth, addr netip.Addr) (*clientCred, error) {
	a := g.oauth.authority
	if a == nil {
		return nil, errUnauthenticated("OAuth is not enabled")
	}
	id := ca.ClientID
	if id == "" && ca.Assertion != "" {
		id = oauth.AssertionSubject(ca.Assertion)
	}
	if id == "" {
		return nil, errUnauthenticated("no client credentials")
	}
	epoch, err := g.store.CredentialEpoch(ctx)
	if err != nil {
		return nil, err
	}
	cc, err := g.clientCredential(ctx, id, epoch)
	if err != nil {
		return nil, err
	}
	// The address is checked first, so that an assertion sent from outside
	// the allowlist does not use up its one-time id.
	if !cc.allow.Allows(addr) {
		return nil, errUnauthenticatedBy("client address outside the client's allowlist (client "+id+")", id, cc.consumer.ID)
	}
	switch {
	case ca.Secret != "" && ca.Assertion == "":
		if cc.client.AuthMethod != hrgate.AuthClientSecret {
			return nil, errUnauthenticatedBy("client secret presented for a private_key_jwt client "+id, id, cc.consumer.ID)
		}
		if !hrgate.CheckClientSecret(ca.Secret) {
			return nil, errUnauthenticatedBy("malformed client secret (client "+id+")", id, cc.consumer.ID)
		}
		if subtle.ConstantTimeCompare(hrgate.HashClientSecret(ca.Secret), cc.client.SecretHash) != 1 {
			return nil, errUnauthenticatedBy("wrong client secret (client "+id+")", id, cc.consumer.ID)
		}
	case ca.Assertion != "" && ca.Secret == "":
		if cc.client.AuthMethod != hrgate.AuthPrivateKeyJWT {
			return nil, errUnauthenticatedBy("client assertion presented for a client_secret client "+id, id, cc.consumer.ID)
		}
		as, err := a.VerifyAssertion(ca.Assertion, id, cc.key)
		if err != nil {
			return nil, tokenFailure(err)
		}
		// Replays are refused across instances: the id is recorded in
		// the shared store until the assertion expires.
		err = g.store.UseAssertionID(ctx, id+":"+as.ID, as.ExpiresAt)
		if hrgate.ErrorCode(err) == hrgate.ECONFLICT {
			return nil, errUnauthenticatedBy("client assertion replayed (client "+id+")", id, cc.consumer.ID)
		} else if err != nil {
			return nil, err
		}
	default:
		return nil, errUnauthenticated("no client credentials")
	}
	return cc, nil
}

// IssueToken runs the client credentials grant (RFC 6749 §4.4): it
// authenticates the client and signs a token for the requested scope,
// which must lie within the client's grant (the consumer's grant ∩ the
// client's scopes); an empty scope asks for all of it. A failed client
// authentication is EUNAUTHORIZED; a bad scope is oauth.ErrInvalidScope.
func (g *Gate) IssueToken(ctx context.Context, ca ClientAuth, scope string, addr netip.Addr) (*oauth.Token, error) {
	cc, err := g.authenticateClient(ctx, ca, addr)
	if err != nil {
		return nil, err
	}
	tokenGrant := cc.grant
	if strings.TrimSpace(scope) != "" {
		req, err := grant.Parse(scope)
		if err != nil {
			return nil, oauth.Errorf(oauth.ErrInvalidScope, hrgate.ErrorMessage(err))
		}
		if !cc.grant.Covers(req) {
			return nil, oauth.Errorf(oauth.ErrInvalidScope, "The requested scopes "+
				strings.Join(outside(cc.grant, req), " ")+" are not within the client's grant ("+cc.grant.String()+").")
		}
		tokenGrant = req
	}
	if tokenGrant.IsEmpty() {
		return nil, oauth.Errorf(oauth.ErrInvalidScope, "The client's grant is empty: there is nothing to issue a token for.")
	}
	tok, err := g.oauth.authority.Issue(ctx, cc.client.ID, tokenGrant.String())
	if err != nil {
		return nil, hrgate.Wrap(err, "issue access token")
	}
	g.log.Info("access token issued", "client_id", cc.client.ID, "consumer", cc.consumer.Name, "token_id", tok.ID,
		"scope", tok.Scope, "expires_at", tok.ExpiresAt)
	return tok, nil
}

// Introspection is the answer of token introspection (RFC 7662). Inactive
// answers carry nothing else.
type Introspection struct {
	Active bool
	Claims *oauth.Claims
	// Scope is the token's effective scope now: its scope claim narrowed
	// by the current grant of the consumer and the client.
	Scope string
}

// IntrospectToken tells an authenticated client whether a token is active.
// A client learns about its own tokens only: any other token, valid or
// not, is simply inactive, so introspection cannot be used to probe the
// tokens of other clients.
func (g *Gate) IntrospectToken(ctx context.Context, ca ClientAuth, token string, addr netip.Addr) (*Introspection, error) {
	caller, err := g.authenticateClient(ctx, ca, addr)
	if err != nil {
		return nil, err
	}
	inactive := &Introspection{}
	if !isJWT(token) {
		return inactive, nil
	}
	claims, cc, err := g.checkToken(ctx, token)
	if hrgate.ErrorCode(err) == hrgate.EUNAUTHORIZED {
		g.log.Info("introspection: token inactive", "client_id", caller.client.ID, "reason", AuthFailureReason(err))
		return inactive, nil
	} else if err != nil {
		return nil, err
	}
	if claims.ClientID != caller.client.ID {
		g.log.Info("introspection: token of another client", "client_id", caller.client.ID, "token_client_id", claims.ClientID)
		return inactive, nil
	}
	gr, err := cc.scoped(claims.Scope)
	if err != nil {
		return inactive, nil
	}
	return &Introspection{Active: true, Claims: claims, Scope: gr.String()}, nil
}

// RevokeToken revokes an access token of the authenticated client (RFC
// 7009). A token that does not verify (malformed, expired, forged) is
// nothing to revoke and not an error; a valid token of another client is
// oauth.ErrUnauthorizedClient. The revocation reaches every instance on
// its next request through the credential epoch.
func (g *Gate) RevokeToken(ctx context.Context, ca ClientAuth, token string, addr netip.Addr) error {
	caller, err := g.authenticateClient(ctx, ca, addr)
	if err != nil {
		return err
	}
	if !isJWT(token) {
		return nil
	}
	claims, err := g.oauth.authority.Verify(ctx, token)
	if err != nil {
		if hrgate.ErrorCode(tokenFailure(err)) == hrgate.EUNAUTHORIZED {
			return nil
		}
		return hrgate.Wrap(err, "verify token to revoke")
	}
	if claims.ClientID != caller.client.ID {
		return oauth.Errorf(oauth.ErrUnauthorizedClient, "The token was not issued to this client.")
	}
	if err := g.store.RevokeToken(ctx, claims.ID, claims.ExpiresAt); err != nil {
		return err
	}
	g.log.Info("access token revoked", "client_id", caller.client.ID, "token_id", claims.ID)
	return nil
}

// PurgeEvery is how often `serve` deletes expired revocations and
// assertion ids; purgeMargin keeps them an hour past expiry, so that an
// instance whose clock lags still finds them.
const (
	PurgeEvery  = 10 * time.Minute
	purgeMargin = time.Hour
)

// RunTokenPurge deletes expired token state every interval until ctx
// ends, off the request path. Several servers may run it at once: the
// deletes are idempotent.
func (g *Gate) RunTokenPurge(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := g.store.PurgeTokens(ctx, g.Now().Add(-purgeMargin)); err != nil && ctx.Err() == nil {
			g.log.Warn("purging expired token state failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

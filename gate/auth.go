package gate

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

// Principal is an authenticated caller: which credential, which consumer,
// and the grant in force for this request.
type Principal struct {
	KeyID        string
	ConsumerID   string
	ConsumerName string
	Env          hrgate.KeyEnv
	Grant        *grant.Grant
	// ClientID and TokenID name the OAuth client and the access token
	// when the credential is a bearer JWT; KeyID is then the client id.
	ClientID string
	TokenID  string
	// RateLimit and ConsumerRateLimit are the credential's and its
	// consumer's own allowances, as stored; zero fields mean the
	// configured defaults.
	RateLimit         hrgate.RateLimit
	ConsumerRateLimit hrgate.RateLimit
}

// CompanyScope returns the companies the principal may see. Test keys are
// confined to sandbox companies.
func (p *Principal) CompanyScope() hrgate.CompanyScope {
	s := p.Grant.CompanyScope()
	s.SandboxOnly = p.Env == hrgate.KeyTest
	return s
}

// errUnauthenticated is the one answer every failed authentication gets,
// whatever the reason, so a caller cannot learn whether a key exists, was
// revoked, expired or is used from the wrong network.
func errUnauthenticated(reason string) error {
	return errUnauthenticatedBy(reason, "", "")
}

// errUnauthenticatedBy is errUnauthenticated for a credential that was
// identified (a key found by its hash, a client by its id) and refused.
func errUnauthenticatedBy(reason, credentialID, consumerID string) error {
	return &hrgate.Error{
		Code:    hrgate.EUNAUTHORIZED,
		Message: "Missing or invalid credentials.",
		Err:     &AuthFailure{Reason: reason, CredentialID: credentialID, ConsumerID: consumerID},
	}
}

// AuthFailure is the truth behind a refused credential, for the server
// log and the audit trail; it must never reach the client. It never holds
// the secret presented.
type AuthFailure struct {
	Reason string
	// CredentialID and ConsumerID name the key or OAuth client refused
	// and its consumer, when the credential was identified.
	CredentialID string
	ConsumerID   string
}

func (f *AuthFailure) Error() string { return f.Reason }

// AuthFailureOf returns the failure behind an authentication error, or
// nil when err is not one.
func AuthFailureOf(err error) *AuthFailure {
	var e *hrgate.Error
	var f *AuthFailure
	if errors.As(err, &e) && e.Code == hrgate.EUNAUTHORIZED && errors.As(e.Err, &f) {
		return f
	}
	return nil
}

// AuthFailureReason returns the true reason of an authentication failure
// for the server log and the audit trail; it must never reach the client.
func AuthFailureReason(err error) string {
	var e *hrgate.Error
	if errors.As(err, &e) && e.Code == hrgate.EUNAUTHORIZED && e.Err != nil {
		return e.Err.Error()
	}
	return ""
}

// Authenticate checks an API key presented from addr and returns the
// principal. Every failure is EUNAUTHORIZED with the same message; the
// reason is available through AuthFailureReason.
//
// Resolved credentials are cached, tagged with the store's credential
// epoch read before they were loaded. Each request asks the store for the
// current epoch and reloads on any difference. The store answers from
// memory: a revocation or a grant change made through the same store is in
// force for the next request; one committed by another process is in force
// within the store's credential refresh interval (docs/security.md).
// Expiry and the address allowlist are checked on every request.
func (g *Gate) Authenticate(ctx context.Context, key string, addr netip.Addr) (*Principal, error) {
	if key == "" {
		return nil, errUnauthenticated("no credentials")
	}
	if isJWT(key) {
		return g.authenticateToken(ctx, key, addr)
	}
	// The checksum rejects typos and look-alikes without a look-up. The
	// environment needs no check of its own: the stored hash covers the
	// hrg_live_/hrg_test_ prefix, so a key found by hash has its record's.
	if _, ok := hrgate.CheckAPIKey(key); !ok {
		return nil, errUnauthenticated("malformed key")
	}
	hash := hrgate.HashAPIKey(key)
	epoch, err := g.store.CredentialEpoch(ctx)
	if err != nil {
		return nil, err
	}
	c := g.cachedCredential(hash, epoch)
	if c == nil {
		if c, err = g.loadCredential(ctx, hash, epoch); err != nil {
			return nil, err
		}
	}
	k := c.key
	now := g.Now()
	if ok, reason := k.Usable(now); !ok {
		return nil, errUnauthenticatedBy(reason+" (key "+k.ID+")", k.ID, k.ConsumerID)
	}
	if !c.allow.Allows(addr) {
		return nil, errUnauthenticatedBy("client address outside the key's allowlist (key "+k.ID+")", k.ID, k.ConsumerID)
	}
	g.touch(ctx, k, now, addr)
	return c.principal, nil
}

// loadCredential reads a key and its consumer from the store and caches
// the result under epoch.
func (g *Gate) loadCredential(ctx context.Context, hash []byte, epoch int64) (*credential, error) {
	k, err := g.store.FindAPIKeyByHash(ctx, hash)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return nil, errUnauthenticated("unknown key")
	} else if err != nil {
		return nil, err
	}
	c, gr, err := g.consumerGrant(ctx, k.ConsumerID, k.Scopes, "key", k.ID)
	if err != nil {
		return nil, err
	}
	cred := &credential{epoch: epoch, key: k, allow: hrgate.NewAllowlist(k.AllowCIDRs), principal: &Principal{
		KeyID:        k.ID,
		ConsumerID:   c.ID,
		ConsumerName: c.Name,
		Env:          k.Env,
		Grant:        gr,
		// Both limits are read under the same epoch as the grant: a
		// change of either bumps it, and the next request reloads.
		RateLimit:         k.RateLimit,
		ConsumerRateLimit: c.RateLimit,
	}}
	g.creds.Put([32]byte(hash), cred)
	return cred, nil
}

// consumerGrant reads the consumer of a key or an OAuth client (what, with
// id credentialID) and returns it with the grant the two allow together:
// the consumer's grant narrowed to the credential's scopes. A deleted
// consumer is the generic refusal.
func (g *Gate) consumerGrant(ctx context.Context, consumerID string, scopes []string, what, credentialID string) (*hrgate.Consumer, *grant.Grant, error) {
	c, err := g.store.FindConsumer(ctx, consumerID)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return nil, nil, errUnauthenticatedBy("consumer deleted ("+what+" "+credentialID+")", credentialID, consumerID)
	} else if err != nil {
		return nil, nil, err
	}
	consumerGrant, err := grant.Parse(c.Scopes...)
	if err != nil {
		return nil, nil, hrgate.Wrap(err, "parse stored consumer grant")
	}
	own, err := grant.Parse(scopes...)
	if err != nil {
		return nil, nil, hrgate.Wrap(err, "parse stored "+what+" grant")
	}
	return c, consumerGrant.Intersect(own), nil
}

// credential is a resolved key: its record and the principal it yields.
// Both are shared between requests and never modified.
type credential struct {
	epoch     int64
	key       *hrgate.APIKey
	allow     hrgate.Allowlist
	principal *Principal
}

// credentialCacheMax bounds the credential and client caches; when full
// they start over, which costs only reloads.
const credentialCacheMax = 10_000

// cachedCredential returns the cached credential for hash when it was read
// under epoch. Keys are the hash's array, so the look-up does not allocate.
func (g *Gate) cachedCredential(hash []byte, epoch int64) *credential {
	c, ok := g.creds.Get([32]byte(hash))
	if !ok || c.epoch != epoch {
		return nil
	}
	return c
}

// touch records the key's last use at most once per touchEvery per key, so
// that reads stay reads. A failure to record is logged, not fatal: the
// request itself is legitimate.
func (g *Gate) touch(ctx context.Context, k *hrgate.APIKey, now time.Time, addr netip.Addr) {
	g.touchMu.Lock()
	last, seen := g.touched[k.ID]
	due := !seen || now.Sub(last) >= g.touchEvery
	if due {
		if len(g.touched) > 100_000 {
			g.touched = make(map[string]time.Time)
		}
		g.touched[k.ID] = now
	}
	g.touchMu.Unlock()
	if !due {
		return
	}
	if err := g.store.TouchAPIKey(ctx, k.ID, now, addr.String()); err != nil {
		g.log.Warn("recording key use failed", "key_id", k.ID, "err", err)
	}
}

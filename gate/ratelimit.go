package gate

import (
	"context"
	"math"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/limits"
)

// LimitFields names the three parts of a rate limit as the caller's
// operator wrote them (flags on the CLI, JSON members on the admin API),
// so that an error names the field to fix.
type LimitFields struct {
	Rate, Burst, Quota string
}

// fieldsInWords name the parts when the caller has no names of its own.
var fieldsInWords = LimitFields{Rate: "rate", Burst: "burst", Quota: "quota"}

// DefaultLimit is the word that sets a part of a rate limit back to the
// configured default, where the empty string or 0 would do as well.
const DefaultLimit = "default"

// ParseRateLimit reads a rate limit as an operator writes it: a rate such
// as "50/s", "50/m" or "50/h", a burst, and a quota such as "20000/day".
// An empty rate or quota, or "default", and a burst of 0 leave that part
// to the configured default. Errors are EINVALID and name the field.
func ParseRateLimit(rate string, burst int, quota string, f LimitFields) (hrgate.RateLimit, error) {
	var r hrgate.RateLimit
	var err error
	if r.Rate, err = ParseRate(rate, f.Rate); err != nil {
		return r, err
	}
	if r.Quota, err = ParseQuota(quota, f.Quota); err != nil {
		return r, err
	}
	r.Burst = burst
	return r, CheckRateLimit(r, f)
}

// ParseRate reads the rate part of a limit ("50/s", "N/m", "N/h"; "" or
// "default" is 0, the default). Errors are EINVALID and name field.
func ParseRate(s, field string) (float64, error) {
	if s == "" || s == DefaultLimit {
		return 0, nil
	}
	v, err := limits.ParseRate(s)
	if err != nil {
		return 0, hrgate.Errorf(hrgate.EINVALID, "Invalid %s: %v.", field, err)
	}
	return v, nil
}

// ParseQuota reads the quota part of a limit ("20000/day"; "" or
// "default" is 0, the default). Errors are EINVALID and name field.
func ParseQuota(s, field string) (int64, error) {
	if s == "" || s == DefaultLimit {
		return 0, nil
	}
	v, err := limits.ParseQuota(s)
	if err != nil {
		return 0, hrgate.Errorf(hrgate.EINVALID, "Invalid %s: %v.", field, err)
	}
	return v, nil
}

// CheckRateLimit checks a rate limit against the bounds the limiter
// accepts (limits.Limit.Validate) and the store keeps: a rate of at least
// one a day and at most 1,000,000/s, a burst of at most 1,000,000 and only with a rate of its
// own, a quota of at most 10^12 a day. Zero parts are the defaults and
// always pass. Errors are EINVALID and name the field.
func CheckRateLimit(r hrgate.RateLimit, f LimitFields) error {
	switch {
	case r.Rate < 0 || r.Rate > 1e6 || math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) || (r.Rate > 0 && r.Rate < hrgate.MinRate):
		return hrgate.Errorf(hrgate.EINVALID, "Invalid %s: a rate must be at least one request a day (0.0417/h) and at most 1000000/s.", f.Rate)
	case r.Burst < 0 || r.Burst > 1_000_000:
		return hrgate.Errorf(hrgate.EINVALID, "Invalid %s: a burst must be between 1 and 1000000 (0 for the default).", f.Burst)
	case r.Burst > 0 && r.Rate == 0:
		return hrgate.Errorf(hrgate.EINVALID, "Invalid %s: a burst needs a rate of its own; set %s as well.", f.Burst, f.Rate)
	case r.Quota < 0 || r.Quota > 1e12:
		return hrgate.Errorf(hrgate.EINVALID, "Invalid %s: a quota must be more than 0 and at most 1000000000000/day.", f.Quota)
	}
	// What the limiter will be given, the default burst included (as the
	// server builds it). Its own check must agree with the one above.
	l := limits.Limit{Rate: r.Rate, Burst: r.Burst, Quota: r.Quota}.WithDefaultBurst()
	if err := l.Validate(); err != nil {
		return hrgate.Errorf(hrgate.EINVALID, "Invalid rate limit: %v.", err)
	}
	return nil
}

// SetConsumerRateLimit replaces a consumer's own rate limit, shared by all
// its credentials; the zero limit returns it to the configured defaults.
// Running servers apply it from the next request (within
// auth.credential_refresh for other processes). The change is audited as
// consumer.updated. EINVALID for a limit out of bounds, ENOTFOUND when
// there is no such consumer.
func (g *Gate) SetConsumerRateLimit(ctx context.Context, idOrName string, r hrgate.RateLimit) (*hrgate.Consumer, error) {
	if err := CheckRateLimit(r, fieldsInWords); err != nil {
		return nil, err
	}
	c, err := g.store.FindConsumer(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	old := consumerOf(c)
	now := g.Now()
	if err := g.store.SetConsumerRateLimit(ctx, c.ID, r, now); err != nil {
		return nil, err
	}
	before := c.RateLimit
	c.RateLimit, c.ModifiedAt = r, now
	g.log.Info("consumer rate limit changed", "consumer_id", c.ID, "consumer", c.Name,
		"before", before.String(), "after", r.String())
	if err := g.record(ctx, hrgate.AuditConsumerUpdated, c.ID, "", c.ID, old, consumerOf(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// SetKeyRateLimit replaces an API key's own rate limit; the zero limit
// returns it to the configured defaults. Running servers apply it from the
// next request made with the key. The change is audited as key.updated.
// EINVALID for a bad id or a limit out of bounds, ENOTFOUND when there is
// no such key.
func (g *Gate) SetKeyRateLimit(ctx context.Context, id string, r hrgate.RateLimit) (*hrgate.APIKey, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	if err := CheckRateLimit(r, fieldsInWords); err != nil {
		return nil, err
	}
	k, err := g.store.FindAPIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	old := keyOf(k)
	if err := g.store.SetAPIKeyRateLimit(ctx, k.ID, r); err != nil {
		return nil, err
	}
	before := k.RateLimit
	k.RateLimit = r
	g.log.Info("api key rate limit changed", "key_id", k.ID, "consumer_id", k.ConsumerID,
		"before", before.String(), "after", r.String())
	if err := g.record(ctx, hrgate.AuditKeyUpdated, k.ID, k.ID, k.ConsumerID, old, keyOf(k)); err != nil {
		return nil, err
	}
	return k, nil
}

// SetClientRateLimit replaces an OAuth client's own rate limit, which
// covers its token requests and the requests made with its tokens; the
// zero limit returns it to the configured defaults. The change is audited
// as client.updated. EINVALID for a bad id or a limit out of bounds,
// ENOTFOUND when there is no such client.
func (g *Gate) SetClientRateLimit(ctx context.Context, id string, r hrgate.RateLimit) (*hrgate.OAuthClient, error) {
	if err := checkClientID(id); err != nil {
		return nil, err
	}
	if err := CheckRateLimit(r, fieldsInWords); err != nil {
		return nil, err
	}
	cl, err := g.store.FindClient(ctx, id)
	if err != nil {
		return nil, err
	}
	old := clientOf(cl)
	if err := g.store.SetClientRateLimit(ctx, cl.ID, r); err != nil {
		return nil, err
	}
	before := cl.RateLimit
	cl.RateLimit = r
	g.log.Info("oauth client rate limit changed", "client_id", cl.ID, "consumer_id", cl.ConsumerID,
		"before", before.String(), "after", r.String())
	if err := g.record(ctx, hrgate.AuditClientUpdated, cl.ID, cl.ID, cl.ConsumerID, old, clientOf(cl)); err != nil {
		return nil, err
	}
	return cl, nil
}

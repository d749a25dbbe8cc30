package http

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/limits"
)

// Limits are the protections of the public API beyond authentication and
// grants: global IP rules, brute-force lockouts, a cap on the requests one
// credential has in flight, and rate limits and daily quotas at four
// levels (credential, consumer, route class, global). NewLimits builds
// them from the configuration; WithLimits gives them to a server. `serve`
// always does; a server without them limits nothing, which only tests of
// other concerns want.
type Limits struct {
	limiter limits.Limiter
	log     *slog.Logger

	credential, consumer, global level
	// routes are the per-credential limits of the route classes list,
	// single and token; a class without one has no rule.
	routes map[string]level

	maxConcurrent int
	inflight      inflight

	bf *limits.BruteForce
	ip atomic.Pointer[limits.IPRules]

	// invalidLogged is set once a stored limit that does not validate
	// was logged (ownLimit).
	invalidLogged atomic.Bool
}

// level is the limit of one level and the key its rules start with
// (limits.key_prefix, the level's name and, for a level per credential or
// consumer, a colon): built once, so that a request's rules add only the
// id and join no strings.
type level struct {
	key   string
	limit limits.Limit
}

// ipRulesGrace is how long replaced IP rules stay open: requests that
// loaded them before a reload finish their check first.
const ipRulesGrace = time.Minute

// NewLimits builds the limits of cfg over limiter: memory for one
// instance, or Redis behind a limits.Failover for several. now nil means
// time.Now (the brute-force clock).
func NewLimits(cfg config.Limits, limiter limits.Limiter, log *slog.Logger, now func() time.Time) (*Limits, error) {
	if limiter == nil {
		return nil, fmt.Errorf("limits: no limiter")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Limits{limiter: limiter, log: log, routes: make(map[string]level),
		maxConcurrent: cfg.MaxConcurrent, inflight: inflight{n: make(map[string]int)},
		credential: level{key: cfg.KeyPrefix + "cred:"}, consumer: level{key: cfg.KeyPrefix + "consumer:"},
		global: level{key: cfg.KeyPrefix + "global"}}
	var err error
	for _, lv := range []struct {
		key string
		dst *limits.Limit
		src config.RateLimit
	}{{"limits.credential", &l.credential.limit, cfg.Credential}, {"limits.consumer", &l.consumer.limit, cfg.Consumer}, {"limits.global", &l.global.limit, cfg.Global}} {
		if *lv.dst, err = lv.src.Parse(); err != nil {
			return nil, fmt.Errorf("%s: %w", lv.key, err)
		}
	}
	for class, rl := range cfg.Routes {
		lim, err := rl.ParseRoute(class)
		if err != nil {
			return nil, fmt.Errorf("limits.routes.%s: %w", class, err)
		}
		l.routes[class] = level{key: cfg.KeyPrefix + "route:" + class + ":", limit: lim}
	}
	if l.maxConcurrent < 1 {
		return nil, fmt.Errorf("limits.max_concurrent must be at least 1")
	}
	l.bf = limits.NewBruteForce(now)
	l.bf.Threshold = cfg.BruteForce.Threshold
	l.bf.Window = time.Duration(cfg.BruteForce.Window)
	l.bf.BaseLockout = time.Duration(cfg.BruteForce.BaseLockout)
	l.bf.MaxLockout = time.Duration(cfg.BruteForce.MaxLockout)
	if err := l.ReloadIPRules(cfg); err != nil {
		return nil, err
	}
	return l, nil
}

// ReloadIPRules builds the IP rules of cfg (allow, block, geo_db,
// block_countries) and swaps them in atomically: requests already past
// the check keep the old rules, every later one gets the new. When cfg's
// rules are bad, the error says why and the rules in force stay.
func (l *Limits) ReloadIPRules(cfg config.Limits) error {
	rules, err := limits.NewIPRules(limits.IPRulesConfig{
		Allow: cfg.Allow, Block: cfg.Block, GeoDB: cfg.GeoDB, BlockCountries: cfg.BlockCountries,
	})
	if err != nil {
		return fmt.Errorf("limits: IP rules: %w", err)
	}
	if old := l.ip.Swap(rules); old != nil {
		time.AfterFunc(ipRulesGrace, func() { _ = old.Close() })
	}
	return nil
}

// Close releases the IP rules' country database. The limiter is the
// caller's to close.
func (l *Limits) Close() error { return l.ip.Load().Close() }

// WithLimits enforces l on the public API.
func WithLimits(l *Limits) Option { return func(s *Server) { s.limits = l } }

// probes answer load balancers, which the operator's allow list need not
// name; they reveal nothing about anyone.
var probes = map[string]bool{"/healthz": true, "/readyz": true}

// checkAddress refuses, before anything else reads the request, a client
// address the global IP rules refuse. The address is the one identify
// resolved: the TCP peer, or what a trusted proxy forwarded.
func (s *Server) checkAddress(next http.Handler) http.Handler {
	if s.limits == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probes[r.URL.Path] {
			info := requestInfoFrom(r.Context())
			if ok, reason := s.limits.ip.Load().Check(info.client); !ok {
				s.writeError(w, r, &hrgate.Error{Code: hrgate.EFORBIDDEN,
					Message: "Requests from this address are not accepted.", Err: fmt.Errorf("IP rules: %s", reason)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorize authenticates the request of a /v1 route under the limits,
// in this order: a locked-out client address is refused before its
// credential is even looked at; a failed authentication counts towards
// the lockout of the address and of the credential it named; then the
// credential's own lockout, its cap on requests in flight, and one
// decision over its rate limits and quotas. It answers every refusal
// itself. When it returns true the caller must call s.finish(p) once the
// request is answered.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, info *requestInfo, pattern string) (*gate.Principal, bool) {
	l := s.limits
	if l == nil {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return nil, false
		}
		info.principal = p
		return p, true
	}
	addr := limits.AddrSource(info.client)
	if wait := l.bf.Locked(addr); wait > 0 {
		s.writeLockedOut(w, r, wait)
		return nil, false
	}
	p, err := s.authenticate(r)
	if err != nil {
		if hrgate.ErrorCode(err) == hrgate.EUNAUTHORIZED {
			var cred string
			if f := gate.AuthFailureOf(err); f != nil {
				cred = f.CredentialID
			}
			sources := []string{addr}
			if cred != "" {
				// Only the holder of the full key can make the
				// gate name it (found by its hash).
				sources = append(sources, limits.CredentialSource(cred))
			}
			s.authFailed(r, info, cred, sources...)
		}
		s.writeError(w, r, err)
		return nil, false
	}
	info.principal = p
	// Only the holder of the full secret can name a key, so a key
	// locked out after refusals (revoked, expired, outside its
	// allowlist) is locked for everyone who holds it.
	if wait := l.bf.Locked(limits.CredentialSource(p.KeyID)); wait > 0 {
		s.writeLockedOut(w, r, wait)
		return nil, false
	}
	if !l.inflight.acquire(p.KeyID, l.maxConcurrent) {
		w.Header().Set("Retry-After", "1")
		s.writeProblem(w, r, hrgate.Errorf(hrgate.ERATELIMITED,
			"This credential already has %d requests in flight; wait for one to finish.", l.maxConcurrent), problemTooConcurrent)
		return nil, false
	}
	var buf [4]limits.Rule
	rules := l.apiRules(buf[:0], p, routeClass(pattern))
	if !s.decide(w, r, rules) {
		l.inflight.release(p.KeyID)
		return nil, false
	}
	return p, true
}

// finish ends a request that authorize admitted.
func (s *Server) finish(p *gate.Principal) {
	if s.limits != nil {
		s.limits.inflight.release(p.KeyID)
	}
}

// routeClass returns the route class of a /v1 pattern: single for one
// record by id, list for pages of records.
func routeClass(pattern string) string {
	if len(pattern) > 0 && pattern[len(pattern)-1] == '}' {
		return "single"
	}
	return "list"
}

// apiRules appends the rules of one API request: the credential's and
// its consumer's own limits (or the defaults), the credential's limit on
// the route class when one is configured, and the global limit. Levels
// without a limit have no rule.
func (l *Limits) apiRules(rules []limits.Rule, p *gate.Principal, class string) []limits.Rule {
	if lim := l.ownLimit(p.RateLimit, l.credential.limit, "credential", p.KeyID); lim != (limits.Limit{}) {
		rules = append(rules, limits.Rule{Key: l.credential.key, ID: p.KeyID, Limit: lim})
	}
	if lim := l.ownLimit(p.ConsumerRateLimit, l.consumer.limit, "consumer", p.ConsumerID); lim != (limits.Limit{}) {
		rules = append(rules, limits.Rule{Key: l.consumer.key, ID: p.ConsumerID, Limit: lim})
	}
	if rt := l.routes[class]; rt.limit != (limits.Limit{}) {
		rules = append(rules, limits.Rule{Key: rt.key, ID: p.KeyID, Limit: rt.limit})
	}
	return l.global.append(rules)
}

// append appends the rule of a level without ids (global), if it limits
// anything.
func (lv level) append(rules []limits.Rule) []limits.Rule {
	if lv.limit == (limits.Limit{}) {
		return rules
	}
	return append(rules, limits.Rule{Key: lv.key, Limit: lv.limit})
}

// own returns a credential's or consumer's allowance with each field it
// leaves zero taken from def; a rate set without a burst gets the default
// burst (limits.Limit.WithDefaultBurst). A burst without a rate never gets
// here: gate.CheckRateLimit and the store refuse one. An allowance that
// does not validate (the store holds something no command could have
// written) gives way to def, and err says why.
func own(r hrgate.RateLimit, def limits.Limit) (limits.Limit, error) {
	if r.IsZero() {
		return def, nil
	}
	out := def
	if r.Rate > 0 {
		rate := limits.Limit{Rate: r.Rate, Burst: r.Burst}.WithDefaultBurst()
		out.Rate, out.Burst = rate.Rate, rate.Burst
	}
	if r.Quota > 0 {
		out.Quota = r.Quota
	}
	if err := out.Validate(); err != nil {
		return def, err
	}
	return out, nil
}

// ownLimit is own for the principal's credential or consumer id, logging
// the first allowance that gives way to def: once per process, since the
// same stored limit comes with every request of its credential.
func (l *Limits) ownLimit(r hrgate.RateLimit, def limits.Limit, level, id string) limits.Limit {
	lim, err := own(r, def)
	if err != nil && l.invalidLogged.CompareAndSwap(false, true) {
		l.log.Error("a stored rate limit is invalid; the default applies (further ones are not logged)",
			"level", level, "id", id, "err", err)
	}
	return lim
}

// decide makes one limiter decision over rules, sets the RateLimit
// headers, and answers a refusal itself. A limiter that fails (as opposed
// to refusing) admits the request (docs/limits.md). Of the limiters
// there are, the Failover fails only when the request went away (it
// decides locally while Redis is down), and Memory only on more rules than
// any request makes; anything else is a fault of hrgate's own, which must
// not turn away authenticated clients, and is logged.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, rules []limits.Rule) bool {
	if len(rules) == 0 {
		return true
	}
	l := s.limits
	d, err := l.limiter.Allow(r.Context(), rules)
	if err != nil {
		if r.Context().Err() == nil {
			l.log.Error("the rate limiter failed; the request is admitted without limits", "err", err)
		}
		return true
	}
	setRateLimitHeaders(w.Header(), d, rules)
	if d.Allowed {
		return true
	}
	w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(d.RetryAfter), 10))
	if d.QuotaExceeded {
		s.writeProblem(w, r, hrgate.Errorf(hrgate.ERATELIMITED, "The daily quota is used up; it renews at midnight UTC."), problemQuotaExceeded)
	} else {
		s.writeProblem(w, r, hrgate.Errorf(hrgate.ERATELIMITED, "Rate limit exceeded; retry after the time in Retry-After."), problemRateLimited)
	}
	return false
}

// setRateLimitHeaders describes the rule that decided, the one with the
// least room left (draft-ietf-httpapi-ratelimit-headers): its limit, what
// remains, and the seconds until it is whole again, with its policy as
// "limit;w=window".
func setRateLimitHeaders(h http.Header, d limits.Decision, rules []limits.Rule) {
	if d.Rule < 0 || d.Rule >= len(rules) {
		return
	}
	window := int64(86400)
	if !d.Quota {
		lim := rules[d.Rule].Limit
		window = max(1, ceilSeconds(time.Duration(float64(lim.Burst)/lim.Rate*float64(time.Second))))
	}
	// Every request of the API sets these, so their four values are
	// cut from one string and their slices from one array: two
	// allocations, not seven.
	var buf [128]byte
	b := strconv.AppendInt(buf[:0], d.Limit, 10)
	limitEnd := len(b)
	b = strconv.AppendInt(b, max(0, d.Remaining), 10)
	remainingEnd := len(b)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset), 10)
	resetEnd := len(b)
	b = append(b, b[:limitEnd]...)
	b = strconv.AppendInt(append(b, ";w="...), window, 10)
	v, vals := string(b), make([]string, 4)
	vals[0], vals[1], vals[2], vals[3] = v[:limitEnd], v[limitEnd:remainingEnd], v[remainingEnd:resetEnd], v[resetEnd:]
	h["Ratelimit-Limit"] = vals[0:1:1]
	h["Ratelimit-Remaining"] = vals[1:2:2]
	h["Ratelimit-Reset"] = vals[2:3:3]
	h["Ratelimit-Policy"] = vals[3:4:4]
}

// ceilSeconds rounds d up to whole seconds, at least 1 when d is
// positive: a client told to retry after 0 seconds would retry at once.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// writeLockedOut answers a request from a locked-out source.
func (s *Server) writeLockedOut(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(wait)), 10))
	s.writeProblem(w, r, hrgate.Errorf(hrgate.ERATELIMITED,
		"Too many failed authentications; retry after the time in Retry-After."), problemLockedOut)
}

// authFailed counts a failed authentication against each of sources.
// credential names the credential presented, if any, for the log and the
// audit trail. When that starts a lockout, the lockout is logged and
// audited, once.
func (s *Server) authFailed(r *http.Request, info *requestInfo, credential string, sources ...string) {
	lockout := s.limits.bf.Fail(sources...)
	if lockout == 0 {
		return
	}
	s.log.Warn("repeated failed authentication: locking the source out",
		"request_id", info.id, "client", info.client.String(), "credential_id", credential, "lockout", lockout.String())
	if s.audit != nil {
		s.audit.Enqueue(&hrgate.AuditEvent{
			Type: hrgate.AuditAuthLockout, ActorKind: hrgate.ActorSystem, Actor: "server", RequestID: info.id,
			ClientAddr: info.client.String(), CredentialID: credential, Route: info.route, Method: r.Method,
			Reason: fmt.Sprintf("%d failed authentications within %s; locked out for %s",
				s.limits.bf.Threshold, s.limits.bf.Window, lockout),
		})
	}
}

// inflight counts the requests each credential has in flight.
type inflight struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes one of id's max slots, or reports that all are taken.
func (c *inflight) acquire(id string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[id] >= max {
		return false
	}
	c.n[id]++
	return true
}

func (c *inflight) release(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[id] <= 1 {
		delete(c.n, id)
		return
	}
	c.n[id]--
}

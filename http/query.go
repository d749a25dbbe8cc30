package http

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
)

// query is a request's query string checked against the parameters its
// route accepts. Unknown and repeated parameters are errors, so a typo
// ("compnay_id") fails loudly instead of silently returning everything.
type query struct {
	values url.Values
}

// parseQuery checks raw against allowed. It also refuses any parameter
// that carries something shaped like an hrgate secret: keys and tokens
// belong in the Authorization header, never in URLs that end up in logs
// and histories.
func parseQuery(raw string, allowed []string) (query, error) {
	if raw == "" {
		return query{}, nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, hrgate.Errorf(hrgate.EINVALID, "The query string is malformed.")
	}
	for k, vs := range values {
		for _, v := range vs {
			for _, s := range [2]string{k, v} {
				if sh, ok := hrgate.LooksLikeSecret(s); ok {
					return query{}, hrgate.Errorf(hrgate.EINVALID, "The URL carries %s. Credentials are accepted only in the Authorization header (Authorization: Bearer …), never in the URL: treat this one as exposed and replace it.", sh.Words)
				}
			}
		}
	}
	for k, vs := range values {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return query{}, hrgate.Errorf(hrgate.EINVALID, "Unknown query parameter %q: this route takes none.", hrgate.Echo(k))
			}
			return query{}, hrgate.Errorf(hrgate.EINVALID, "Unknown query parameter %q. Allowed: %s.", hrgate.Echo(k), strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return query{}, hrgate.Errorf(hrgate.EINVALID, "Query parameter %q is given more than once.", k)
		}
	}
	return query{values: values}, nil
}

func (q query) get(k string) string { return q.values.Get(k) }

// limit returns the page size: def when absent, an error unless it is a
// whole number from 1 to max. Out-of-range values are refused, not
// clamped, so a client learns the cap instead of silently getting less.
func (q query) limit(def, max int) (int, error) {
	s := q.get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, hrgate.Errorf(hrgate.EINVALID, "limit must be a whole number from 1 to %d.", max)
	}
	return n, nil
}

func (q query) time(k string) (time.Time, error) {
	s := q.get(k)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, hrgate.Errorf(hrgate.EINVALID, "%s must be an RFC 3339 date-time such as 2024-01-31T00:00:00Z.", k)
	}
	return t.UTC(), nil
}

// id returns an id parameter, which must have the shape of an id with the
// given prefix.
func (q query) id(k, prefix string) (string, error) {
	s := q.get(k)
	if s != "" && !hrgate.ValidID(prefix, s) {
		return "", hrgate.Errorf(hrgate.EINVALID, "%s must be an id of the form %s_… .", k, prefix)
	}
	return s, nil
}

func (q query) status() (hrgate.EmploymentStatus, error) {
	s := hrgate.EmploymentStatus(q.get("employment_status"))
	if s != "" && !s.Valid() {
		return "", hrgate.Errorf(hrgate.EINVALID, "employment_status must be one of active, leave, terminated.")
	}
	return s, nil
}

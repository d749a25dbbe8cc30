package hrgate

import (
	"net/url"
	"strings"
)

// IsPostgresDSN reports whether a database DSN is a PostgreSQL URL
// (postgres:// or postgresql://, in any case); anything else is a SQLite
// file path. It is the one rule that picks the dialect: the store opens
// by it and the configuration checks by it.
func IsPostgresDSN(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// RedactDSN returns a database URL with any password (in the user info,
// or a query parameter such as password, sslpassword or sslkey) replaced by
// "xxxxx", for logs, errors and --print-config. A SQLite path is returned unchanged; any URL, not only a
// postgres:// one, is redacted, since a mistyped scheme must not leak either.
func RedactDSN(dsn string) string {
	const mask = "xxxxx"
	if !strings.Contains(dsn, "://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Unparseable, so where the password ends is a guess: keep only
		// what follows the last '@' and precedes the query.
		scheme, rest, _ := strings.Cut(dsn, "://")
		if i := strings.LastIndex(rest, "@"); i >= 0 {
			rest = rest[i+1:]
		}
		rest, _, _ = strings.Cut(rest, "?")
		return scheme + "://" + mask + "@" + rest
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), mask)
		}
	}
	q := u.Query()
	redacted := false
	for k := range q {
		if l := strings.ToLower(k); strings.Contains(l, "password") || l == "sslkey" {
			q.Set(k, mask)
			redacted = true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/hrgate/hrgate"
)

// translate turns an error of the database into an *hrgate.Error. It is
// called once, where a store method returns, so that no driver type, SQL
// text or constraint name reaches a caller: the message of the result is
// always caller-safe and the cause stays in Err for the server log.
func (db *DB) translate(err error, op string) error {
	if err == nil {
		return nil
	}
	var he *hrgate.Error
	if errors.As(err, &he) {
		return err
	}
	cause := fmt.Errorf("%s: %w", op, err)
	switch v := db.dialect.classify(err); v.kind {
	case violationUnique:
		return &hrgate.Error{Code: hrgate.ECONFLICT, Message: conflictMessage(v), Err: cause}
	case violationForeignKey:
		return &hrgate.Error{Code: hrgate.EINVALID, Message: "Referenced object does not exist.", Err: cause}
	case violationBadValue:
		return &hrgate.Error{Code: hrgate.EINVALID, Message: "A value cannot be stored.", Err: cause}
	}
	return hrgate.Wrap(err, op)
}

// notFound maps sql.ErrNoRows to ENOTFOUND for what and translates any other
// error.
func (db *DB) notFound(err error, op, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		e := hrgate.ErrNotFound(what)
		e.Err = fmt.Errorf("%s: %w", op, err)
		return e
	}
	return db.translate(err, op)
}

// conflictMessage returns a message such as "A company with this slug
// already exists." for a uniqueness violation.
func conflictMessage(v violation) string {
	var noun, phrase string
	switch v.table {
	case "companies":
		noun = "A company"
	case "employees":
		noun = "An employee"
	case "teams":
		noun = "A team"
	case "locations":
		noun = "A location"
	case "time_off_requests":
		noun = "A time-off request"
	case "time_off_balances":
		noun = "A time-off balance"
	case "consumers":
		noun = "A consumer"
	case "api_keys":
		noun = "An API key"
	case "secrets":
		noun = "A secret"
	case "oauth_clients":
		noun = "An OAuth client"
	case "oauth_signing_keys":
		noun = "A signing key"
	}
	switch v.key {
	case "pkey":
		phrase = "this id"
	case "slug", "name", "hash", "generation":
		phrase = "this " + v.key
	case "source":
		phrase = "this source and remote id"
	}
	if noun == "" || phrase == "" {
		return "An object with the same key already exists."
	}
	return noun + " with " + phrase + " already exists."
}

// invalid returns an EINVALID error with a caller-safe message.
func invalid(format string, args ...any) error {
	return hrgate.Errorf(hrgate.EINVALID, format, args...)
}

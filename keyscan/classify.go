package keyscan

import (
	"context"
	"time"

	"github.com/hrgate/hrgate"
)

// Status is what a found credential is worth to an attacker.
type Status string

// Statuses.
const (
	// Live: the credential authenticates now.
	Live Status = "live"
	// Revoked and Expired: it no longer does.
	Revoked Status = "revoked"
	Expired Status = "expired"
	// Unknown: the store has no such credential. It may belong to another
	// installation, or have been deleted with its consumer.
	Unknown Status = "unknown"
	// Unchecked: no store was asked.
	Unchecked Status = "unchecked"
)

// KeyLookup finds API key records by hash; hrgate.KeyStore satisfies it.
// FindAPIKeyByHash returns ENOTFOUND for a hash it does not know.
type KeyLookup interface {
	FindAPIKeyByHash(ctx context.Context, hash []byte) (*hrgate.APIKey, error)
}

// Lookup finds the credentials Classify checks; hrgate.Store satisfies
// it.
type Lookup interface {
	KeyLookup
	SourceLookup
}

// SourceLookup finds SCIM sources by token hash; hrgate.SourceStore
// satisfies it. FindSourceByTokenHash returns ENOTFOUND for a hash it does
// not know.
type SourceLookup interface {
	FindSourceByTokenHash(ctx context.Context, hash []byte) (*hrgate.Source, error)
}

// Classify tells whether the credential of f is live at time now, looking
// it up by hash, and returns the id of what it belongs to when the store
// knows it: an API key's own id, live, revoked or expired; a SCIM source
// token's source, live while the source authenticates with it (a token
// rotated away is Unknown, as one the store never had). A credential
// kind that cannot be looked up by hash is Unchecked.
func Classify(ctx context.Context, store Lookup, now time.Time, f Finding) (Status, string, error) {
	switch f.Kind {
	case KindAPIKey:
		k, err := store.FindAPIKeyByHash(ctx, f.Hash)
		if err != nil {
			return notFound(err)
		}
		switch ok, _ := k.Usable(now); {
		case ok:
			return Live, k.ID, nil
		case !k.RevokedAt.IsZero():
			return Revoked, k.ID, nil
		}
		return Expired, k.ID, nil
	case KindSourceToken:
		src, err := store.FindSourceByTokenHash(ctx, f.Hash)
		if err != nil {
			return notFound(err)
		}
		return Live, src.ID, nil
	}
	return Unchecked, "", nil
}

// notFound is Classify's answer to a failed look-up: Unknown for
// ENOTFOUND, else the error.
func notFound(err error) (Status, string, error) {
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return Unknown, "", nil
	}
	return "", "", err
}

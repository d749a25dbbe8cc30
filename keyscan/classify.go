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

// Classify tells whether the credential of f is live at time now, looking
// it up in keys. It returns the key record when there is one. A credential
// kind that keys cannot look up is Unchecked.
func Classify(ctx context.Context, keys KeyLookup, now time.Time, f Finding) (Status, *hrgate.APIKey, error) {
	if f.Kind != KindAPIKey {
		return Unchecked, nil, nil
	}
	k, err := keys.FindAPIKeyByHash(ctx, f.Hash)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return Unknown, nil, nil
	} else if err != nil {
		return "", nil, err
	}
	if ok, _ := k.Usable(now); ok {
		return Live, k, nil
	}
	if !k.RevokedAt.IsZero() {
		return Revoked, k, nil
	}
	return Expired, k, nil
}

// SourceLookup finds SCIM sources by token hash; hrgate.SourceStore
// satisfies it. FindSourceByTokenHash returns ENOTFOUND for a hash it does
// not know.
type SourceLookup interface {
	FindSourceByTokenHash(ctx context.Context, hash []byte) (*hrgate.Source, error)
}

// ClassifySourceToken tells whether the SCIM source token of f is live:
// a source authenticates with it now (Live, with the source), or none
// does (Unknown: replaced by a rotation, its source deleted, or another
// installation's). Any other kind is Unchecked.
func ClassifySourceToken(ctx context.Context, sources SourceLookup, f Finding) (Status, *hrgate.Source, error) {
	if f.Kind != KindSourceToken {
		return Unchecked, nil, nil
	}
	src, err := sources.FindSourceByTokenHash(ctx, f.Hash)
	if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
		return Unknown, nil, nil
	} else if err != nil {
		return "", nil, err
	}
	return Live, src, nil
}

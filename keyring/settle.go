package keyring

import (
	"context"
	"time"

	"github.com/hrgate/hrgate"
)

// MaxCacheTTL is the longest any instance keeps an owner's data keys
// without reading the key store again (Options.CacheTTL may not exceed
// it). Once an owner's newest data key version is older than this, no
// instance can still be sealing under an older one.
const MaxCacheTTL = time.Hour

// settleMargin covers clocks that disagree between instances.
const settleMargin = 5 * time.Minute

// SettledOwners returns up to limit owners, in order after after, whose
// data keys were rotated long enough ago that every instance seals under
// the newest version, yet who still hold older versions. Their values
// sealed under an older version can be re-sealed, and the older versions
// deleted, without racing an instance whose cache predates the rotation.
func (k *Keyring) SettledOwners(ctx context.Context, after string, limit int) ([]string, error) {
	owners, err := k.store.SupersededDataKeyOwners(ctx, k.now().Add(-MaxCacheTTL-settleMargin), after, limit)
	return owners, hrgate.Wrap(err, "keyring.SettledOwners")
}

// HasSupersededDataKeys reports whether any owner holds more than one data
// key version, however recent its newest: an owner SettledOwners does not
// return yet, or one whose older versions could not be deleted. A store
// that finds none knows that every rotation so far has settled.
func (k *Keyring) HasSupersededDataKeys(ctx context.Context) (bool, error) {
	owners, err := k.store.SupersededDataKeyOwners(ctx, endOfTime, "", 1)
	return len(owners) > 0, hrgate.Wrap(err, "keyring.HasSupersededDataKeys")
}

// endOfTime is later than any key's creation time.
var endOfTime = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)

// NewestDataKeyVersion returns the version Seal uses for owner, read from
// the key store unless the cache holds it.
func (k *Keyring) NewestDataKeyVersion(ctx context.Context, owner string) (int, error) {
	keys, err := k.ownerKeys(ctx, owner, false)
	if err != nil {
		return 0, err
	}
	return keys.newest().version, nil
}

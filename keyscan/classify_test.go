package keyscan_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyscan"
)

// lookup is a Lookup over a map from hash to API key record, which
// knows no source.
type lookup map[string]*hrgate.APIKey

func (lookup) FindSourceByTokenHash(context.Context, []byte) (*hrgate.Source, error) {
	return nil, hrgate.ErrNotFound("Source")
}

func (l lookup) FindAPIKeyByHash(_ context.Context, hash []byte) (*hrgate.APIKey, error) {
	if string(hash) == "broken" {
		return nil, errors.New("database is down")
	}
	if k, ok := l[string(hash)]; ok {
		return k, nil
	}
	return nil, hrgate.ErrNotFound("API key")
}

func TestClassify(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keys := lookup{
		"live":            {ID: "key_live"},
		"expires-later":   {ID: "key_later", ExpiresAt: now.Add(time.Second)},
		"expired":         {ID: "key_expired", ExpiresAt: now},
		"revoked":         {ID: "key_revoked", RevokedAt: now.Add(-time.Hour)},
		"revoked-expired": {ID: "key_both", RevokedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-2 * time.Hour)},
	}
	for _, tc := range []struct {
		name   string
		kind   keyscan.Kind
		hash   string
		want   keyscan.Status
		wantID string
	}{
		{"OK", keyscan.KindAPIKey, "live", keyscan.Live, "key_live"},
		{"ExpiresLater", keyscan.KindAPIKey, "expires-later", keyscan.Live, "key_later"},
		{"Expired", keyscan.KindAPIKey, "expired", keyscan.Expired, "key_expired"},
		{"Revoked", keyscan.KindAPIKey, "revoked", keyscan.Revoked, "key_revoked"},
		{"RevokedWins", keyscan.KindAPIKey, "revoked-expired", keyscan.Revoked, "key_both"},
		{"Unknown", keyscan.KindAPIKey, "nope", keyscan.Unknown, ""},
		{"OtherKind", keyscan.Kind("client_secret"), "live", keyscan.Unchecked, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, id, err := keyscan.Classify(context.Background(), keys, now, keyscan.Finding{Kind: tc.kind, Hash: []byte(tc.hash)})
			if err != nil || st != tc.want {
				t.Fatalf("status %q, %v; want %q", st, err, tc.want)
			}
			if id != tc.wantID {
				t.Fatalf("key %q, want %q", id, tc.wantID)
			}
		})
	}
	t.Run("ErrStore", func(t *testing.T) {
		if _, _, err := keyscan.Classify(context.Background(), keys, now, keyscan.Finding{Kind: keyscan.KindAPIKey, Hash: []byte("broken")}); err == nil {
			t.Fatal("a store failure was not reported")
		}
	})
}

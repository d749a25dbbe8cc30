package oauth_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/oauth"
	"github.com/hrgate/hrgate/sqlstore"
)

// forEachDB runs fn once per database on a fresh store: the keys live in
// the store, and rotation between instances relies on its constraints.
func forEachDB(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	storetest.ForEach(t, fn)
}

// clock is a settable clock shared by the authorities of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const issuer = "https://hrgate.example.com"

var testConfig = oauth.Config{
	Issuer:          issuer,
	TokenTTL:        15 * time.Minute,
	Algorithm:       oauth.EdDSA,
	KeyRotation:     24 * time.Hour,
	KeyPublishAhead: 2 * time.Hour,
}

func newAuthority(t *testing.T, db *sqlstore.DB, c *clock, mutate ...func(*oauth.Config)) *oauth.Authority {
	t.Helper()
	cfg := testConfig
	cfg.Now = c.Now
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := oauth.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// serverKey returns the private key behind kid, read from the store as an
// attacker who stole the database would: tests use it to forge tokens
// that only the claims checks can refuse.
func serverKey(t *testing.T, db *sqlstore.DB, kid string) (jose.SignatureAlgorithm, any) {
	t.Helper()
	keys, err := db.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == kid {
			priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			return jose.SignatureAlgorithm(k.Algorithm), priv
		}
	}
	t.Fatalf("no signing key %s", kid)
	return "", nil
}

// sign makes a compact JWS of claims with the given headers.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, hdr map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: hdr}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jsonMarshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// selfSigned returns a self-signed certificate for key, base64-encoded as
// an x5c header carries it.
func selfSigned(t *testing.T, key any) string {
	t.Helper()
	signer := key.(crypto.Signer)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "forger"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

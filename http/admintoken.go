package http

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/secretfile"
)

// Operator is whoever is authenticated on the admin API. Today that is the
// holder of the admin token; human operators with roles and MFA will be
// other Operators from other AdminAuthenticators.
type Operator struct {
	// Name identifies the operator in logs and, later, the audit trail.
	Name string
	// Method says how the operator authenticated ("admin-token").
	Method string
}

// AdminAuthenticator authenticates admin API requests. Every failure to
// authenticate must be EUNAUTHORIZED with a generic message; a failure to
// check (the store is down) is reported as what it is.
type AdminAuthenticator interface {
	AuthenticateAdmin(r *http.Request) (*Operator, error)
}

// minAdminToken is the shortest admin token accepted: the token opens the
// whole admin API.
const minAdminToken = 32

// errBadAdminToken is the answer to every admin request without the
// admin token.
func errBadAdminToken(cause string) error {
	return &hrgate.Error{Code: hrgate.EUNAUTHORIZED, Message: "Missing or invalid admin credentials.", Err: errors.New(cause)}
}

// bearerDigest returns the SHA-256 digest of the request's bearer token,
// and false when the request has no bearer token.
func bearerDigest(r *http.Request) ([32]byte, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return sha256.Sum256([]byte(strings.TrimSpace(token))), strings.EqualFold(scheme, "Bearer")
}

// TokenAuth authenticates the bearer of one static admin token, which the
// operator wrote to admin.token_file. Only the token's SHA-256 digest is
// kept in memory, and the comparison takes the same time whatever the
// presented value.
type TokenAuth struct{ digest [32]byte }

// NewTokenAuth returns a TokenAuth for token, which must hold at least 32
// characters: an empty or short token would let anyone in.
func NewTokenAuth(token string) (*TokenAuth, error) {
	if len(token) < minAdminToken {
		return nil, fmt.Errorf("the admin token must hold at least %d characters", minAdminToken)
	}
	return &TokenAuth{digest: sha256.Sum256([]byte(token))}, nil
}

// AuthenticateAdmin implements AdminAuthenticator.
func (a *TokenAuth) AuthenticateAdmin(r *http.Request) (*Operator, error) {
	got, bearer := bearerDigest(r)
	if !bearer || subtle.ConstantTimeCompare(got[:], a.digest[:]) != 1 {
		return nil, errBadAdminToken("admin token mismatch")
	}
	return &Operator{Name: "admin-token", Method: "admin-token"}, nil
}

// ReadAdminTokenFile reads the admin token the operator wrote to path
// (admin.token_file). hrgate never writes this file. The token opens the
// whole admin API, so a symbolic link, a file that others can read or
// that another user owns, and a short token are all refused; a missing
// file is an error wrapping fs.ErrNotExist.
func ReadAdminTokenFile(path string) (string, error) {
	token, err := readTokenFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("admin token file %s does not exist; write a long random token there (mode 0600), "+
			"or unset admin.token_file and issue a token with `hrgate admin token`: %w", path, err)
	}
	if err != nil {
		return "", err
	}
	return token, nil
}

// readTokenFile returns the token an admin token file holds, refusing
// what secretfile.Read refuses and a token shorter than minAdminToken. A
// missing file is an error wrapping fs.ErrNotExist.
func readTokenFile(path string) (string, error) {
	b, err := secretfile.Read(path, "admin token file")
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(b))
	if len(token) < minAdminToken {
		return "", fmt.Errorf("admin token file %s holds fewer than %d characters: too short for a token that opens the admin API", path, minAdminToken)
	}
	return token, nil
}

// AdminTokenSecret names the secret that holds the SHA-256 digest of the
// admin token hrgate issued. The token itself is stored nowhere: the
// operator is shown it once.
const AdminTokenSecret = "admin_token_sha256" // #nosec G101 -- the name of a vault entry, not a credential.

// AdminTokenStore keeps the issued admin token's digest: hrgate's secret
// store, which seals it under the keyring. PutSecret changes the
// credential epoch, which is how every instance learns of a new token.
type AdminTokenStore interface {
	FindSecret(ctx context.Context, name string) ([]byte, error)
	PutSecret(ctx context.Context, name string, value []byte) error
	CredentialEpoch(ctx context.Context) (int64, error)
}

// IssueAdminToken makes a new admin token (hrg_admin_ and 256 random bits
// from random, crypto/rand when nil), stores its digest in place of the
// previous token's, and returns it. The caller shows it once. The old
// token stops working at once on this process, and within
// auth.credential_refresh on every other instance.
func IssueAdminToken(ctx context.Context, store AdminTokenStore, random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	var raw [32]byte
	if _, err := io.ReadFull(random, raw[:]); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	token := hrgate.AdminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	digest := sha256.Sum256([]byte(token))
	if err := store.PutSecret(ctx, AdminTokenSecret, digest[:]); err != nil {
		return "", err
	}
	return token, nil
}

// StoredTokenAuth authenticates the bearer of the admin token last issued
// by IssueAdminToken. It keeps the digest in memory and reads it again
// whenever the credential epoch has moved, so a token issued by the CLI
// or another instance replaces the old one without a restart. Before any
// token is issued, every request is refused.
type StoredTokenAuth struct {
	store AdminTokenStore

	mu     sync.Mutex
	loaded bool
	epoch  int64
	digest []byte // nil when no token was issued
}

// NewStoredTokenAuth returns a StoredTokenAuth reading store.
func NewStoredTokenAuth(store AdminTokenStore) *StoredTokenAuth {
	return &StoredTokenAuth{store: store}
}

// HasToken reports whether an admin token was issued.
func (a *StoredTokenAuth) HasToken(ctx context.Context) (bool, error) {
	d, err := a.current(ctx)
	return d != nil, err
}

// current returns the digest of the token in force, nil when none.
func (a *StoredTokenAuth) current(ctx context.Context) ([]byte, error) {
	// The epoch is read before the digest: a token replaced in between
	// is then read again on the next request, never missed.
	epoch, err := a.store.CredentialEpoch(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded && a.epoch == epoch {
		return a.digest, nil
	}
	d, err := a.store.FindSecret(ctx, AdminTokenSecret)
	switch {
	case hrgate.ErrorCode(err) == hrgate.ENOTFOUND:
		d = nil
	case err != nil:
		return nil, err
	case len(d) != sha256.Size:
		return nil, fmt.Errorf("the stored admin token digest has %d bytes, not %d", len(d), sha256.Size)
	}
	a.loaded, a.epoch, a.digest = true, epoch, d
	return d, nil
}

// AuthenticateAdmin implements AdminAuthenticator.
func (a *StoredTokenAuth) AuthenticateAdmin(r *http.Request) (*Operator, error) {
	want, err := a.current(r.Context())
	if err != nil {
		return nil, hrgate.Wrap(err, "http.StoredTokenAuth")
	}
	got, bearer := bearerDigest(r)
	if want == nil {
		return nil, errBadAdminToken("no admin token has been issued; run hrgate admin token")
	}
	if !bearer || subtle.ConstantTimeCompare(got[:], want) != 1 {
		return nil, errBadAdminToken("admin token mismatch")
	}
	return &Operator{Name: "admin-token", Method: "admin-token"}, nil
}

// LegacyAdminToken says what ImportLegacyAdminToken found.
type LegacyAdminToken int

// What ImportLegacyAdminToken found.
const (
	// LegacyNone: there is no such file.
	LegacyNone LegacyAdminToken = iota
	// LegacyImported: the file's token is now the issued token (it was,
	// or no token had been issued), and the file is deleted.
	LegacyImported
	// LegacyStale: a token was issued since; the file's no longer works
	// and the file is left for the operator to delete.
	LegacyStale
)

// ImportLegacyAdminToken moves the admin token an earlier hrgate wrote to
// path (data_dir/admin-token) into store: when no token has been issued,
// the file's token becomes the issued one, so that it keeps working, and
// the file is deleted, since hrgate keeps no secret in the clear. A file
// that is unsafe to trust (readable by others, a link, short) is refused
// as ReadAdminTokenFile refuses it: its token may have leaked, and the
// operator should delete it and issue a new one. When the token was
// imported but the file could not be deleted, the answer is
// LegacyImported with an error saying so: the token works all the same.
func ImportLegacyAdminToken(ctx context.Context, store AdminTokenStore, path string) (LegacyAdminToken, error) {
	token, err := readTokenFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return LegacyNone, nil
	}
	if err != nil {
		return LegacyNone, fmt.Errorf("%w; delete it and issue a new token with `hrgate admin token`", err)
	}
	digest := sha256.Sum256([]byte(token))
	have, err := store.FindSecret(ctx, AdminTokenSecret)
	switch {
	case hrgate.ErrorCode(err) == hrgate.ENOTFOUND:
		if err := store.PutSecret(ctx, AdminTokenSecret, digest[:]); err != nil {
			return LegacyNone, err
		}
	case err != nil:
		return LegacyNone, err
	case subtle.ConstantTimeCompare(have, digest[:]) != 1:
		return LegacyStale, nil
	}
	if err := os.Remove(path); err != nil {
		return LegacyImported, fmt.Errorf("the admin token of %s is now kept sealed in the database, but the file could not be deleted; delete it: %w", path, err)
	}
	return LegacyImported, nil
}

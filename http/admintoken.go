package http

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

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

// AdminAuthenticator authenticates admin API requests. Every failure must
// be EUNAUTHORIZED with a generic message.
type AdminAuthenticator interface {
	AuthenticateAdmin(r *http.Request) (*Operator, error)
}

// TokenAuth authenticates the bearer of one static admin token. Only the
// token's SHA-256 digest is kept in memory, and the comparison takes the
// same time whatever the presented value.
type TokenAuth struct{ digest [32]byte }

// minAdminToken is the shortest admin token accepted: the token opens the
// whole admin API.
const minAdminToken = 32

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
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], a.digest[:]) != 1 {
		return nil, &hrgate.Error{Code: hrgate.EUNAUTHORIZED, Message: "Missing or invalid admin credentials.",
			Err: errors.New("admin token mismatch")}
	}
	return &Operator{Name: "admin-token", Method: "admin-token"}, nil
}

// LoadAdminToken reads the admin token from path, creating the file with a
// new random token (mode 0600, never overwriting) when it does not exist.
// created reports whether it did. The token opens the whole admin API, so
// a symbolic link, a file that others can read or that another user owns,
// and a short token are all refused.
func LoadAdminToken(path string) (token string, created bool, err error) {
	token, err = readAdminToken(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	token, err = createAdminToken(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; read its token.
		token, err = readAdminToken(path)
		return token, false, err
	}
	return token, err == nil, err
}

func readAdminToken(path string) (string, error) {
	b, err := secretfile.Read(path, "admin token file")
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(b))
	if len(token) < minAdminToken {
		return "", fmt.Errorf("admin token file %s holds fewer than 32 characters; use a long random token", path)
	}
	return token, nil
}

// createAdminToken writes a new token to path; fs.ErrExist when the file
// exists already.
func createAdminToken(path string) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	token := hrgate.AdminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	if err := secretfile.Create(path, "admin token file", []byte(token+"\n")); err != nil {
		return "", err
	}
	return token, nil
}

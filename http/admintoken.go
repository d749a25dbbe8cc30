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
	"os"
	"strings"

	"github.com/hrgate/hrgate"
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

// NewTokenAuth returns a TokenAuth for token.
func NewTokenAuth(token string) *TokenAuth { return &TokenAuth{digest: sha256.Sum256([]byte(token))} }

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

// adminTokenPrefix marks admin tokens so secret scanners can find them.
const adminTokenPrefix = "hrg_admin_"

// LoadAdminToken reads the admin token from path, creating the file with a
// new random token (mode 0600, never overwriting) when it does not exist.
// created reports whether it did. A file that others can read, or that
// holds a short token, is refused: the token opens the whole admin API.
func LoadAdminToken(path string) (token string, created bool, err error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator configures the token file.
	if errors.Is(err, fs.ErrNotExist) {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", false, fmt.Errorf("generate admin token: %w", err)
		}
		token = adminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- as above.
		if errors.Is(err, fs.ErrExist) {
			return LoadAdminToken(path) // another process created it first
		} else if err != nil {
			return "", false, fmt.Errorf("create admin token file: %w", err)
		}
		_, werr := f.WriteString(token + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return "", false, fmt.Errorf("write admin token file: %w", werr)
		}
		return token, true, nil
	} else if err != nil {
		return "", false, fmt.Errorf("read admin token file: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", false, fmt.Errorf("read admin token file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", false, fmt.Errorf("admin token file %s is readable by others (mode %v); run chmod 600 on it", path, st.Mode().Perm())
	}
	token = strings.TrimSpace(string(b))
	if len(token) < 32 {
		return "", false, fmt.Errorf("admin token file %s holds fewer than 32 characters; use a long random token", path)
	}
	return token, false, nil
}

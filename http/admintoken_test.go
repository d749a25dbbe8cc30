package http_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sqlstore"
)

// adminRequest authenticates one request carrying the Authorization
// header h with auth.
func adminRequest(auth hrhttp.AdminAuthenticator, h string) error {
	r := httptest.NewRequest("GET", "/admin/v1/keys", nil)
	if h != "" {
		r.Header.Set("Authorization", h)
	}
	_, err := auth.AuthenticateAdmin(r)
	return err
}

func wantAdmin(t *testing.T, auth hrhttp.AdminAuthenticator, token string, ok bool) {
	t.Helper()
	err := adminRequest(auth, "Bearer "+token)
	switch {
	case ok && err != nil:
		t.Fatalf("token %.14s… refused: %v", token, err)
	case !ok && hrgate.ErrorCode(err) != hrgate.EUNAUTHORIZED:
		t.Fatalf("token %.14s…: err = %v, want unauthorized", token, err)
	}
}

// An operator's token file is read, never written, and refused when it
// is unsafe to trust.
func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin-token")
	good := hrgate.AdminTokenPrefix + strings.Repeat("k", 43)

	_, err := hrhttp.ReadAdminTokenFile(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "hrgate admin token") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("reading a missing token file created it")
	}

	if err := os.WriteFile(path, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := hrhttp.ReadAdminTokenFile(path)
	if err != nil || tok != good {
		t.Fatalf("ReadAdminTokenFile = %q, %v", tok, err)
	}
	auth, err := hrhttp.NewTokenAuth(tok)
	if err != nil {
		t.Fatal(err)
	}
	wantAdmin(t, auth, good, true)
	wantAdmin(t, auth, good+"x", false)
	if err := adminRequest(auth, good); hrgate.ErrorCode(err) != hrgate.EUNAUTHORIZED {
		t.Fatalf("a token without the Bearer scheme: %v", err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hrhttp.ReadAdminTokenFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable token file: %v", err)
	}
	for _, tok := range []string{"", "short"} {
		if _, err := hrhttp.NewTokenAuth(tok); err == nil {
			t.Fatalf("NewTokenAuth(%q) accepted a token anyone could guess", tok)
		}
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := hrhttp.ReadAdminTokenFile(short); err == nil {
		t.Fatal("a short token was accepted")
	}
	// A symbolic link, dangling or not, is refused rather than followed.
	for _, target := range []string{filepath.Join(dir, "nowhere"), short} {
		link := filepath.Join(t.TempDir(), "admin-token")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if _, err := hrhttp.ReadAdminTokenFile(link); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("symlink to %s: %v", target, err)
		}
	}
}

// The issued admin token works on every instance sharing the store until
// the next one is issued, which replaces it everywhere; before the first,
// nothing gets in.
func TestStoredAdminToken(t *testing.T) {
	for name, newDSN := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := newDSN(t)
			db := storetest.Open(t, dsn)
			auth := hrhttp.NewStoredTokenAuth(db)
			if has, err := auth.HasToken(ctx); err != nil || has {
				t.Fatalf("HasToken before any was issued = %v, %v", has, err)
			}
			wantAdmin(t, auth, "", false)
			wantAdmin(t, auth, hrgate.AdminTokenPrefix+strings.Repeat("a", 43), false)

			first, err := hrhttp.IssueAdminToken(ctx, db, nil)
			if err != nil || !hrgate.AdminTokenPattern.MatchString(first) {
				t.Fatalf("IssueAdminToken = %q, %v", first, err)
			}
			wantAdmin(t, auth, first, true)

			// Another instance, reading the credential epoch on every
			// request.
			other, err := sqlstore.Open(ctx, dsn, sqlstore.Options{CredentialRefresh: -1, Cipher: storetest.Keyring(t, storetest.KeysDSN(dsn))})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			otherAuth := hrhttp.NewStoredTokenAuth(other)
			wantAdmin(t, otherAuth, first, true)

			second, err := hrhttp.IssueAdminToken(ctx, db, nil)
			if err != nil || second == first {
				t.Fatalf("second token %q, %v", second, err)
			}
			for _, a := range []hrhttp.AdminAuthenticator{auth, otherAuth} {
				wantAdmin(t, a, first, false)
				wantAdmin(t, a, second, true)
			}
		})
	}
}

// Neither the admin token nor its digest is in the database files or a
// dump; a store written in the clear shows that the search would find the
// digest.
func TestAdminTokenNotAtRest(t *testing.T) {
	for name, newDSN := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			for _, sealed := range []bool{true, false} {
				ctx := context.Background()
				dsn := newDSN(t)
				var store hrhttp.AdminTokenStore
				if sealed {
					store = storetest.Open(t, dsn)
				} else {
					db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{AutoMigrate: true, InsecurePlaintext: true})
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					store = db
				}
				token, err := hrhttp.IssueAdminToken(ctx, store, nil)
				if err != nil {
					t.Fatal(err)
				}
				digest := sha256.Sum256([]byte(token))
				dump := storetest.Dump(t, dsn)
				if bytes.Contains(dump, []byte(token)) {
					t.Fatal("the admin token is stored")
				}
				found := bytes.Contains(dump, digest[:]) || bytes.Contains(dump, []byte(hex.EncodeToString(digest[:])))
				if found == sealed {
					t.Fatalf("sealed store: %v; the digest found at rest: %v", sealed, found)
				}
			}
		})
	}
}

// The admin token file an earlier hrgate wrote becomes the issued token,
// and the file goes; one that no longer matches is left with a warning.
func TestImportLegacyAdminToken(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.SQLite(t))
	auth := hrhttp.NewStoredTokenAuth(db)
	dir := t.TempDir()
	path := filepath.Join(dir, "admin-token")
	legacy := hrgate.AdminTokenPrefix + strings.Repeat("L", 43)
	if err := os.WriteFile(path, []byte(legacy+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	res, err := hrhttp.ImportLegacyAdminToken(ctx, db, path)
	if err != nil || res != hrhttp.LegacyImported {
		t.Fatalf("import = %v, %v", res, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the token file is still there: %v", err)
	}
	wantAdmin(t, auth, legacy, true)
	if res, err := hrhttp.ImportLegacyAdminToken(ctx, db, path); err != nil || res != hrhttp.LegacyNone {
		t.Fatalf("import without a file = %v, %v", res, err)
	}

	// Another instance's file, written before the first imported its own.
	other := hrgate.AdminTokenPrefix + strings.Repeat("O", 43)
	if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := hrhttp.ImportLegacyAdminToken(ctx, db, path); err != nil || res != hrhttp.LegacyStale {
		t.Fatalf("import of a stale file = %v, %v", res, err)
	}
	wantAdmin(t, auth, other, false)
	wantAdmin(t, auth, legacy, true)

	// A file others could read may have leaked: refused, not imported.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hrhttp.ImportLegacyAdminToken(ctx, db, path); err == nil || !strings.Contains(err.Error(), "hrgate admin token") {
		t.Fatalf("import of a world-readable file: %v", err)
	}
}

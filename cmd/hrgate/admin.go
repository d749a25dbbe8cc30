package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	hrhttp "github.com/hrgate/hrgate/http"
)

func (m *Main) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage access to the admin API",
	}
	token := &cobra.Command{
		Use:   "token",
		Short: "Issue a new admin API token and print it once; the previous token stops working",
		Long: "Issue a new admin API token and print it once. hrgate keeps only its hash, sealed in the database,\n" +
			"so it cannot show the token again: store it in your password manager or secrets store.\n" +
			"The previous token stops working at once here and, on running instances, within auth.credential_refresh.\n" +
			"Not available when admin.token_file names a token file of your own.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.loadConfig(cmd); err != nil {
				return err
			}
			if f := m.Config.Admin.TokenFile; f != "" {
				return hrgate.Errorf(hrgate.EINVALID, "admin.token_file is set (%s): the admin token is what that file holds. "+
					"Replace it there and restart hrgate, or unset admin.token_file to have hrgate issue tokens.", f)
			}
			db, err := m.openStore(cmd, true)
			if err != nil {
				return err
			}
			token, err := hrhttp.IssueAdminToken(cmd.Context(), db, nil)
			if err != nil {
				return err
			}
			// The file an earlier hrgate wrote now holds a dead token.
			legacy := m.legacyAdminTokenFile()
			if err := os.Remove(legacy); err == nil {
				m.Logger.Info("deleted the admin token file an earlier hrgate wrote; its token no longer works", "file", legacy)
			} else if !errors.Is(err, fs.ErrNotExist) {
				m.Logger.Warn("could not delete the admin token file an earlier hrgate wrote; its token no longer works, delete it",
					"file", legacy, "error", err)
			}
			return m.report(map[string]string{"token": token},
				"New admin API token (the previous one no longer works):\n\n  %s\n\n"+
					"Store it now: it is shown only once. Use it as: Authorization: Bearer <token>\n", token)
		},
	}
	cmd.AddCommand(token)
	return cmd
}

// adminAuth returns the admin API's authenticator: the token of
// admin.token_file when the operator set one, else the token issued by
// `hrgate admin token`, whose digest the store keeps sealed.
func (m *Main) adminAuth(ctx context.Context) (hrhttp.AdminAuthenticator, error) {
	if path := m.Config.Admin.TokenFile; path != "" {
		token, err := hrhttp.ReadAdminTokenFile(path)
		if err != nil {
			return nil, err
		}
		return hrhttp.NewTokenAuth(token)
	}
	auth := hrhttp.NewStoredTokenAuth(m.Store)
	has, err := auth.HasToken(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		m.Logger.Warn("no admin token has been issued, so the admin API refuses every request; issue one with `hrgate admin token`")
	}
	return auth, nil
}

// importLegacyAdminToken moves the admin token file an earlier hrgate
// wrote into the data directory into the store, sealed, and deletes it,
// so that no secret stays in the clear and the token keeps working. A
// file the operator names in admin.token_file is theirs and stays.
func (m *Main) importLegacyAdminToken(ctx context.Context) error {
	legacy := m.legacyAdminTokenFile()
	if own := m.Config.Admin.TokenFile; own != "" && samePath(own, legacy) {
		return nil
	}
	res, err := hrhttp.ImportLegacyAdminToken(ctx, m.Store, legacy)
	switch {
	case res == hrhttp.LegacyImported && err != nil:
		m.Logger.Warn("could not delete the admin token file after moving its token into the database", "file", legacy, "error", err)
	case err != nil:
		return err
	case res == hrhttp.LegacyImported:
		m.Logger.Info("moved the admin token an earlier hrgate wrote into the database, sealed, and deleted the file; the token keeps working",
			"file", legacy)
	case res == hrhttp.LegacyStale:
		m.Logger.Warn("the admin token file an earlier hrgate wrote holds a token that no longer works "+
			"(another was issued since, or imported by another instance on this database); delete it", "file", legacy)
	}
	return nil
}

// legacyAdminTokenFile is where hrgate before the vault wrote the admin
// token it generated.
func (m *Main) legacyAdminTokenFile() string { return filepath.Join(m.Config.DataDir, "admin-token") }

// demoAdminToken issues a fresh admin token for the demo to print, unless
// the admin API is off or the operator keeps a token file. A token file
// an earlier hrgate wrote is moved out of the way first, rather than left
// behind holding a token the new one replaces.
func (m *Main) demoAdminToken(ctx context.Context) (string, error) {
	if m.Config.Admin.Addr == "" || m.Config.Admin.TokenFile != "" {
		return "", nil
	}
	if err := m.importLegacyAdminToken(ctx); err != nil {
		return "", err
	}
	return hrhttp.IssueAdminToken(ctx, m.Store, nil)
}

package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/view"
	"github.com/hrgate/hrgate/oauth"
)

// newAuthority builds the OAuth authority from the oauth section. Its keys
// are created on first use, so commands that never issue a token never
// touch them.
func newAuthority(c config.OAuth, store hrgate.SigningKeyStore) (*oauth.Authority, error) {
	return oauth.New(store, oauth.Config{
		Issuer:          c.Issuer,
		TokenTTL:        time.Duration(c.TokenTTL),
		Algorithm:       c.SigningAlg,
		KeyRotation:     time.Duration(c.KeyRotation),
		KeyPublishAhead: time.Duration(c.KeyPublishAhead),
	})
}

func (m *Main) clientsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Manage OAuth 2.0 clients (client credentials grant)"}

	create := &cobra.Command{
		Use:   "create --consumer NAME",
		Short: "Create an OAuth client; its secret is printed once and never stored",
		Example: `  hrgate clients create --consumer payroll --allow-cidr 203.0.113.0/24 --output json
  hrgate clients create --consumer payroll --jwk payroll-public.jwk   # private_key_jwt, no secret
  hrgate clients create --consumer payroll --rate-limit 20/s --burst 40 --quota 20000/day`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			consumer, _ := cmd.Flags().GetString("consumer")
			if consumer == "" {
				return hrgate.Errorf(hrgate.EINVALID, "--consumer is required")
			}
			limit, err := limitsFromFlags(cmd, hrgate.RateLimit{})
			if err != nil {
				return err
			}
			req := gate.ClientRequest{Consumer: consumer, Scopes: scopesFlag(cmd), RateLimit: limit}
			req.AllowCIDRs, _ = cmd.Flags().GetStringArray("allow-cidr")
			req.Description, _ = cmd.Flags().GetString("description")
			if path, _ := cmd.Flags().GetString("jwk"); path != "" {
				b, err := os.ReadFile(path) // #nosec G304 -- the operator names the key file.
				if err != nil {
					return hrgate.Errorf(hrgate.EINVALID, "--jwk: %v", err)
				}
				req.JWK = b
			}
			if err := m.open(cmd); err != nil {
				return err
			}
			c, secret, err := m.Gate.CreateClient(cmd.Context(), req)
			if err != nil {
				return err
			}
			out := view.NewClientSecret{Client: view.NewClient(c), ClientSecret: secret}
			if secret == "" {
				return m.report(out,
					"Client %s for consumer %s (private_key_jwt)\n  scopes: %s\n  rate limit: %s\n", c.ID, consumer,
					strings.Join(c.Scopes, " "), limitText(out.RateLimit))
			}
			return m.report(out,
				"Client %s for consumer %s\n  scopes: %s\n  rate limit: %s\n\n  client_id:     %s\n  client_secret: %s\n\nStore the secret now: it is shown only once.\n",
				c.ID, consumer, strings.Join(c.Scopes, " "), limitText(out.RateLimit), c.ID, secret)
		},
	}
	create.Flags().String("consumer", "", "owning consumer (name or id)")
	create.Flags().StringArray("allow-cidr", nil, "network the client may get and use tokens from (repeatable; default anywhere)")
	create.Flags().String("jwk", "", "file with the client's public JWK: private_key_jwt instead of a secret")
	create.Flags().String("description", "", "what the client is for")
	addScopeFlags(create)
	addLimitFlags(create)

	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change a client's rate limit and daily quota (its token requests and the requests made with its tokens)",
		Example: `  hrgate clients update cli_… --rate-limit 5/s --quota 10000/day
  hrgate clients update cli_… --rate-limit default   # back to limits.credential`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := updateLimits(m, cmd, args[0], (*gate.Gate).Client,
				func(c *hrgate.OAuthClient) (string, hrgate.RateLimit) { return c.ID, c.RateLimit }, (*gate.Gate).SetClientRateLimit)
			if err != nil {
				return err
			}
			j := view.NewClient(c)
			return m.report(j, "Client %s\n  rate limit: %s\n", c.ID, limitText(j.RateLimit))
		},
	}
	addLimitFlags(update)

	list := &cobra.Command{
		Use: "list", Short: "List OAuth clients (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			consumer, _ := cmd.Flags().GetString("consumer")
			clients, err := m.Gate.Clients(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(view.All(clients, view.NewClient))
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT ID\tCONSUMER\tAUTH\tALLOWED FROM\tCREATED\tRATE LIMIT\tSCOPES")
			for _, c := range clients {
				from := strings.Join(c.AllowCIDRs, ",")
				if from == "" {
					from = "anywhere"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.ConsumerID, c.AuthMethod, from,
					c.CreatedAt.Format(time.RFC3339), limitText(view.NewRateLimit(c.RateLimit)), strings.Join(c.Scopes, " "))
			}
			return tw.Flush()
		},
	}
	list.Flags().String("consumer", "", "only this consumer's clients")

	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a client; running servers refuse its tokens within auth.credential_refresh", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			if err := m.Gate.DeleteClient(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"deleted": args[0]}, "Deleted client %s.\n", args[0])
		},
	}
	cmd.AddCommand(create, update, list, del)
	return cmd
}

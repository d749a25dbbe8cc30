package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
)

// keyJSON is the CLI's JSON form of a key record; it never holds the
// secret, which only `keys create` prints, once.
type keyJSON struct {
	ID           string     `json:"id"`
	ConsumerID   string     `json:"consumer_id"`
	Env          string     `json:"env"`
	Description  string     `json:"description,omitempty"`
	Scopes       []string   `json:"scopes"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	LastUsedAddr string     `json:"last_used_addr,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toKeyJSON(k *hrgate.APIKey) keyJSON {
	return keyJSON{
		ID: k.ID, ConsumerID: k.ConsumerID, Env: string(k.Env), Description: k.Description,
		Scopes: k.Scopes, CreatedAt: k.CreatedAt, ExpiresAt: optTime(k.ExpiresAt),
		RevokedAt: optTime(k.RevokedAt), LastUsedAt: optTime(k.LastUsedAt), LastUsedAddr: k.LastUsedAddr,
	}
}

func (m *Main) keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys"}

	create := &cobra.Command{
		Use:     "create --consumer NAME",
		Short:   "Create an API key; the key is printed once and never stored",
		Example: `  hrgate keys create --consumer payroll --output json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			consumer, _ := cmd.Flags().GetString("consumer")
			if consumer == "" {
				return hrgate.Errorf(hrgate.EINVALID, "--consumer is required")
			}
			if err := m.open(cmd); err != nil {
				return err
			}
			test, _ := cmd.Flags().GetBool("test")
			desc, _ := cmd.Flags().GetString("description")
			k, secret, err := m.Gate.CreateKey(cmd.Context(), gate.KeyRequest{
				Consumer: consumer, Scopes: scopesFlag(cmd), Test: test, Description: desc,
			})
			if err != nil {
				return err
			}
			return m.report(map[string]any{"id": k.ID, "key": secret, "consumer_id": k.ConsumerID, "scopes": k.Scopes}, "Key %s for consumer %s\n  scopes: %s\n\n  %s\n\nStore it now: it is shown only once.\n",
				k.ID, consumer, strings.Join(k.Scopes, " "), secret)
		},
	}
	create.Flags().String("consumer", "", "owning consumer (name or id)")
	create.Flags().Bool("test", false, "create a hrg_test_ key, which sees only sandbox companies")
	create.Flags().String("description", "", "what the key is for")
	addScopeFlags(create)

	list := &cobra.Command{
		Use: "list", Short: "List keys (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			consumer, _ := cmd.Flags().GetString("consumer")
			keys, err := m.Gate.Keys(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			if m.output == "json" {
				out := make([]keyJSON, 0, len(keys))
				for _, k := range keys {
					out = append(out, toKeyJSON(k))
				}
				return m.printJSON(out)
			}
			now := m.Gate.Now()
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCONSUMER\tENV\tSTATE\tAGE\tLAST USED\tSCOPES")
			for _, k := range keys {
				state := "active"
				if ok, reason := k.Usable(now); !ok {
					state = strings.TrimPrefix(reason, "key ")
				}
				last := "never"
				if !k.LastUsedAt.IsZero() {
					last = k.LastUsedAt.Format(time.RFC3339) + " from " + k.LastUsedAddr
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.ConsumerID, k.Env, state,
					now.Sub(k.CreatedAt).Round(time.Minute), last, strings.Join(k.Scopes, " "))
			}
			return tw.Flush()
		},
	}
	list.Flags().String("consumer", "", "only this consumer's keys")

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a key; it stops working on the next request", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			if err := m.Gate.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"revoked": args[0]}, "Revoked key %s.\n", args[0])
		},
	}
	cmd.AddCommand(create, list, revoke)
	cmd.AddCommand(m.keysScanCommand())
	return cmd
}

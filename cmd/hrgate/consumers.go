package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
)

// consumerJSON is the CLI's JSON form of a consumer.
type consumerJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Scopes      []string  `json:"scopes"`
	CreatedAt   time.Time `json:"created_at"`
	ModifiedAt  time.Time `json:"modified_at"`
}

func toConsumerJSON(c *hrgate.Consumer) consumerJSON {
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return consumerJSON{c.ID, c.Name, c.Description, scopes, c.CreatedAt, c.ModifiedAt}
}

func (m *Main) consumersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "consumers", Short: "Manage the applications that read HR data, and their grants"}

	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a consumer with a grant",
		Example: `  hrgate consumers create payroll --scopes "employees:read:identity,employment,compensation employees:read_masked:banking companies:*"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			desc, _ := cmd.Flags().GetString("description")
			c, err := m.Gate.CreateConsumer(cmd.Context(), args[0], desc, scopesFlag(cmd))
			if err != nil {
				return err
			}
			return m.printConsumer(c)
		},
	}
	addScopeFlags(create)
	create.Flags().String("description", "", "what the consumer is")

	list := &cobra.Command{
		Use: "list", Short: "List consumers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			cs, err := m.Gate.Consumers(cmd.Context())
			if err != nil {
				return err
			}
			if m.output == "json" {
				out := make([]consumerJSON, 0, len(cs))
				for _, c := range cs {
					out = append(out, toConsumerJSON(c))
				}
				return m.printJSON(out)
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tSCOPES")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.ID, strings.Join(c.Scopes, " "))
			}
			return tw.Flush()
		},
	}

	show := &cobra.Command{
		Use: "show NAME|ID", Short: "Show one consumer", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			c, err := m.Gate.Consumer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.printConsumer(c)
		},
	}

	grantCmd := &cobra.Command{
		Use: "grant NAME|ID", Short: "Replace a consumer's grant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			scopes := scopesFlag(cmd)
			if len(scopes) == 0 {
				return hrgate.Errorf(hrgate.EINVALID, "give the new grant with --scopes or --scope (an empty grant would see nothing)")
			}
			c, err := m.Gate.SetGrant(cmd.Context(), args[0], scopes)
			if err != nil {
				return err
			}
			return m.printConsumer(c)
		},
	}
	addScopeFlags(grantCmd)

	del := &cobra.Command{
		Use: "delete NAME|ID", Short: "Delete a consumer and all its keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			if err := m.Gate.DeleteConsumer(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"deleted": args[0]}, "Deleted consumer %s and its keys.\n", args[0])
		},
	}
	cmd.AddCommand(create, list, show, grantCmd, del)
	return cmd
}

func (m *Main) printConsumer(c *hrgate.Consumer) error {
	desc := ""
	if c.Description != "" {
		desc = "  description: " + c.Description + "\n"
	}
	return m.report(toConsumerJSON(c), "Consumer %s (%s)\n%s  grant:       %s\n",
		c.Name, c.ID, desc, strings.Join(c.Scopes, " "))
}

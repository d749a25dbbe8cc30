package main

import (
	"fmt"
	"github.com/hrgate/hrgate/gate"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/view"
)

func (m *Main) consumersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "consumers", Short: "Manage the applications that read HR data, and their grants"}

	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a consumer with a grant",
		Example: `  hrgate consumers create payroll --scopes "employees:read:identity,employment,compensation employees:read_masked:banking companies:*"
  hrgate consumers create payroll --scope "employees:read:identity" --rate-limit 200/s --burst 400 --quota 100000/day`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			limit, err := limitsFromFlags(cmd, hrgate.RateLimit{})
			if err != nil {
				return err
			}
			if err := m.open(cmd); err != nil {
				return err
			}
			desc, _ := cmd.Flags().GetString("description")
			c, err := m.Gate.CreateConsumerWith(cmd.Context(), gate.ConsumerRequest{
				Name: args[0], Description: desc, Scopes: scopesFlag(cmd), RateLimit: limit,
			})
			if err != nil {
				return err
			}
			return m.printConsumer(c)
		},
	}
	addScopeFlags(create)
	addLimitFlags(create)
	create.Flags().String("description", "", "what the consumer is")

	update := &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change a consumer's rate limit and daily quota, shared by all its keys and clients",
		Example: `  hrgate consumers update payroll --rate-limit 100/s --burst 200 --quota 50000/day
  hrgate consumers update payroll --quota default   # back to limits.consumer`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := updateLimits(m, cmd, args[0], (*gate.Gate).Consumer,
				func(c *hrgate.Consumer) (string, hrgate.RateLimit) { return c.ID, c.RateLimit }, (*gate.Gate).SetConsumerRateLimit)
			if err != nil {
				return err
			}
			return m.printConsumer(c)
		},
	}
	addLimitFlags(update)

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
				return m.printJSON(view.All(cs, view.NewConsumer))
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tRATE LIMIT\tSCOPES")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.ID, limitText(view.NewRateLimit(c.RateLimit)), strings.Join(c.Scopes, " "))
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

	rotation := &cobra.Command{
		Use:   "rotation NAME|ID --after 90d [--grace 24h]",
		Short: "Rotate a consumer's keys automatically once they reach an age (--after 0 turns it off)",
		Long: "While `hrgate serve` runs, keys of the consumer that reach the age are replaced by new keys with\n" +
			"the same scopes and rules. The old key keeps working through the grace period; fetch the new\n" +
			"secrets with `hrgate keys fetch` (they are never logged).",
		Args: cobra.ExactArgs(1),
	}
	after := durationFlag(rotation, "after", 0, "maximum key age, e.g. 90d; 0 turns automatic rotation off")
	rotationGrace := durationFlag(rotation, "grace", 0, "how long a rotated key keeps working (default: keys.rotation_grace)")
	rotation.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("after") {
			return hrgate.Errorf(hrgate.EINVALID, "--after is required (0 turns automatic rotation off)")
		}
		if err := m.open(cmd); err != nil {
			return err
		}
		g := gate.DefaultGrace
		if cmd.Flags().Changed("grace") {
			g = *rotationGrace
		}
		c, err := m.Gate.SetKeyRotation(cmd.Context(), args[0], hrgate.KeyRotation{MaxAge: *after, Grace: g})
		if err != nil {
			return err
		}
		return m.printConsumer(c)
	}

	del := &cobra.Command{
		Use: "delete NAME|ID", Short: "Delete a consumer with all its keys and OAuth clients", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			if err := m.Gate.DeleteConsumer(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"deleted": args[0]}, "Deleted consumer %s with its keys and clients.\n", args[0])
		},
	}
	cmd.AddCommand(create, update, list, show, grantCmd, rotation, del)
	return cmd
}

func (m *Main) printConsumer(c *hrgate.Consumer) error {
	desc := ""
	if c.Description != "" {
		desc = "  description: " + c.Description + "\n"
	}
	rot := "  key rotation: off\n"
	if c.KeyRotation.Enabled() {
		rot = fmt.Sprintf("  key rotation: after %s, grace %s\n", hrgate.FormatDuration(c.KeyRotation.MaxAge), hrgate.FormatDuration(c.KeyRotation.Grace))
	}
	j := view.NewConsumer(c)
	return m.report(j, "Consumer %s (%s)\n%s  grant:       %s\n  rate limit:  %s\n%s",
		c.Name, c.ID, desc, strings.Join(c.Scopes, " "), limitText(j.RateLimit), rot)
}

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/view"
)

// durationValue is a flag holding a duration in hrgate's syntax ("90d").
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return hrgate.FormatDuration(*v.d)
}

func (v durationValue) Set(s string) error {
	d, err := hrgate.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (durationValue) Type() string { return "duration" }

func durationFlag(cmd *cobra.Command, name string, def time.Duration, usage string) *time.Duration {
	d := def
	cmd.Flags().Var(durationValue{&d}, name, usage)
	return &d
}

func (m *Main) keysCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys"}

	create := &cobra.Command{
		Use:   "create --consumer NAME",
		Short: "Create an API key; the key is printed once and never stored",
		Example: `  hrgate keys create --consumer payroll --output json
  hrgate keys create --consumer payroll --allow-cidr 10.1.2.0/24 --expires-in 90d`,
		Args: cobra.NoArgs,
	}
	expiresIn := durationFlag(create, "expires-in", 0, "lifetime of the key, e.g. 90d (default and maximum: keys.max_lifetime)")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		consumer, _ := cmd.Flags().GetString("consumer")
		if consumer == "" {
			return hrgate.Errorf(hrgate.EINVALID, "--consumer is required")
		}
		if cmd.Flags().Changed("expires-in") && *expiresIn == 0 {
			return hrgate.Errorf(hrgate.EINVALID, "--expires-in must be longer than 0; every key expires")
		}
		limit, err := limitsFromFlags(cmd, hrgate.RateLimit{})
		if err != nil {
			return err
		}
		if err := m.open(cmd); err != nil {
			return err
		}
		test, _ := cmd.Flags().GetBool("test")
		desc, _ := cmd.Flags().GetString("description")
		cidrs, _ := cmd.Flags().GetStringArray("allow-cidr")
		k, secret, err := m.Gate.CreateKey(cmd.Context(), gate.KeyRequest{
			Consumer: consumer, Scopes: scopesFlag(cmd), Test: test, Description: desc,
			AllowCIDRs: cidrs, ExpiresIn: *expiresIn, RateLimit: limit,
		})
		if err != nil {
			return err
		}
		return m.printSecret(k, secret, consumer)
	}
	create.Flags().String("consumer", "", "owning consumer (name or id)")
	create.Flags().Bool("test", false, "create a hrg_test_ key, which sees only sandbox companies")
	create.Flags().String("description", "", "what the key is for")
	create.Flags().StringArray("allow-cidr", nil, "client network the key works from, e.g. 10.1.2.0/24 (repeatable; default: any)")
	addScopeFlags(create)
	addLimitFlags(create)

	update := &cobra.Command{
		Use:   "update ID",
		Short: "Change a key's rate limit and daily quota; running servers apply them within auth.credential_refresh",
		Example: `  hrgate keys update key_… --rate-limit 10/s --burst 20 --quota 5000/day
  hrgate keys update key_… --rate-limit default --quota default   # back to limits.credential`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := updateLimits(m, cmd, args[0], (*gate.Gate).Key,
				func(k *hrgate.APIKey) (string, hrgate.RateLimit) { return k.ID, k.RateLimit }, (*gate.Gate).SetKeyRateLimit)
			if err != nil {
				return err
			}
			j := view.NewKey(k, m.Gate.Now())
			return m.report(j, "Key %s\n  rate limit: %s\n", k.ID, limitText(j.RateLimit))
		},
	}
	addLimitFlags(update)

	rotate := &cobra.Command{
		Use:     "rotate ID",
		Short:   "Replace a key by a new one with the same consumer, scopes and rules; the old one works until the grace period ends",
		Example: `  hrgate keys rotate key_… --grace 24h --output json`,
		Args:    cobra.ExactArgs(1),
	}
	grace := durationFlag(rotate, "grace", 0, "how long the old key keeps working (default: keys.rotation_grace)")
	rotate.RunE = func(cmd *cobra.Command, args []string) error {
		if err := m.open(cmd); err != nil {
			return err
		}
		g := gate.DefaultGrace
		if cmd.Flags().Changed("grace") {
			g = *grace
		}
		next, secret, old, err := m.Gate.RotateKey(cmd.Context(), args[0], g)
		if err != nil {
			return err
		}
		if m.output == "json" {
			return m.printJSON(view.NewKeySecret(next, secret, old))
		}
		_, err = fmt.Fprintf(m.Stdout, "Key %s replaces %s, which keeps working until %s.\n  scopes: %s\n  expires: %s\n\n  %s\n\nStore it now: it is shown only once.\n",
			next.ID, old.ID, old.ExpiresAt.Format(time.RFC3339), strings.Join(next.Scopes, " "), next.ExpiresAt.Format(time.RFC3339), secret)
		return err
	}

	list := &cobra.Command{
		Use:     "list",
		Short:   "List keys (never their secrets) with age, last use and expiry; flag stale and expiring keys",
		Example: `  hrgate keys list --expiring 14d --stale 30d --flagged`,
		Args:    cobra.NoArgs,
	}
	stale := durationFlag(list, "stale", view.DefaultThresholds.Stale, "flag keys not used for this long")
	expiring := durationFlag(list, "expiring", view.DefaultThresholds.Expiring, "flag keys that expire within this time")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := m.open(cmd); err != nil {
			return err
		}
		consumer, _ := cmd.Flags().GetString("consumer")
		flaggedOnly, _ := cmd.Flags().GetBool("flagged")
		activeOnly, _ := cmd.Flags().GetBool("active")
		all, err := view.ListKeys(cmd.Context(), m.Gate, consumer, view.FlagThresholds{Stale: *stale, Expiring: *expiring})
		if err != nil {
			return err
		}
		now := m.Gate.Now()
		out := all[:0]
		for _, j := range all {
			if (flaggedOnly && len(j.Flags) == 0) || (activeOnly && (j.State == "revoked" || j.State == "expired")) {
				continue
			}
			out = append(out, j)
		}
		if m.output == "json" {
			return m.printJSON(out)
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCONSUMER\tENV\tSTATE\tAGE\tLAST USED\tEXPIRES\tALLOW\tRATE LIMIT\tFLAGS")
		for _, j := range out {
			last := "never"
			if j.LastUsedAt != nil {
				last = hrgate.FormatDuration(now.Sub(*j.LastUsedAt).Truncate(time.Minute)) + " ago from " + j.LastUsedAddr
			}
			expires := "never"
			if j.ExpiresAt != nil {
				if d := j.ExpiresAt.Sub(now); d > 0 {
					expires = "in " + hrgate.FormatDuration(d.Truncate(time.Minute))
				} else {
					expires = j.ExpiresAt.Format(time.RFC3339)
				}
			}
			allow := "any"
			if len(j.AllowCIDRs) > 0 {
				allow = strings.Join(j.AllowCIDRs, ",")
			}
			flags := "-"
			if len(j.Flags) > 0 {
				flags = strings.Join(j.Flags, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Consumer, j.Env, j.State,
				hrgate.FormatDuration(now.Sub(j.CreatedAt).Truncate(time.Minute)), last, expires, allow, limitText(j.RateLimit), flags)
		}
		return tw.Flush()
	}
	list.Flags().String("consumer", "", "only this consumer's keys")
	list.Flags().Bool("flagged", false, "only keys with a flag")
	list.Flags().Bool("active", false, "leave out revoked and expired keys")

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a key; running servers refuse it within auth.credential_refresh", Args: cobra.ExactArgs(1),
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

	fetch := &cobra.Command{
		Use:   "fetch",
		Short: "Print the keys created by automatic rotation, once: each is forgotten when fetched",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := m.open(cmd); err != nil {
				return err
			}
			consumer, _ := cmd.Flags().GetString("consumer")
			ds, err := m.Gate.TakeKeyDeliveries(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(view.NewDeliveries(ds))
			}
			if len(ds) == 0 {
				_, err := fmt.Fprintln(m.Stdout, "No rotated keys are waiting.")
				return err
			}
			for _, d := range ds {
				fmt.Fprintf(m.Stdout, "Key %s (consumer %s) replaces %s:\n\n  %s\n\n", d.KeyID, d.ConsumerID, d.ReplacesID, d.Secret)
			}
			_, err = fmt.Fprintln(m.Stdout, "Store them now: they are shown only once.")
			return err
		},
	}
	fetch.Flags().String("consumer", "", "only this consumer's keys")

	cmd.AddCommand(create, update, rotate, list, revoke, fetch, m.keysScanCommand())
	return cmd
}

// printSecret reports a newly created key with its secret, shown once.
func (m *Main) printSecret(k *hrgate.APIKey, secret, consumer string) error {
	return m.report(view.NewKeySecret(k, secret, nil),
		"Key %s for consumer %s\n  scopes: %s\n  allowed from: %s\n  rate limit: %s\n  expires: %s\n\n  %s\n\nStore it now: it is shown only once.\n",
		k.ID, consumer, strings.Join(k.Scopes, " "), allowText(k.AllowCIDRs), limitText(view.NewRateLimit(k.RateLimit)),
		k.ExpiresAt.Format(time.RFC3339), secret)
}

// limitText describes a rate limit in a line or a table cell: "default"
// when every part is the configured one.
func limitText(l view.RateLimit) string {
	if l == (view.RateLimit{}) {
		return "default"
	}
	rate, quota := "default rate", "default quota"
	if l.Rate != "" {
		rate = l.Rate
		if l.Burst != 0 {
			rate += " burst " + strconv.Itoa(l.Burst)
		}
	}
	if l.Quota != "" {
		quota = l.Quota
	}
	return rate + ", " + quota
}

func allowText(cidrs []string) string {
	if len(cidrs) == 0 {
		return "any address"
	}
	return strings.Join(cidrs, ", ")
}

// limitFlags names the rate limit flags in errors.
var limitFlags = gate.LimitFields{Rate: "--rate-limit", Burst: "--burst", Quota: "--quota"}

// addLimitFlags adds the rate limit flags that keys, clients and consumers
// share. Each takes "default" to return that part to the configuration.
func addLimitFlags(cmd *cobra.Command) {
	cmd.Flags().String("rate-limit", "", `requests per second, minute or hour, e.g. 50/s, 300/m, 1000/h ("default": the configured one)`)
	cmd.Flags().String("burst", "", `requests allowed at once, with --rate-limit (default: the rate, rounded up)`)
	cmd.Flags().String("quota", "", `requests per UTC day, e.g. 20000/day ("default": the configured one)`)
}

// limitsFromFlags applies the rate limit flags given to current and
// returns the result, checked. A part whose flag is absent stays as it
// is; "default" returns it to the configuration. A rate set back to the default takes its burst with it,
// since a burst needs a rate of its own.
func limitsFromFlags(cmd *cobra.Command, current hrgate.RateLimit) (hrgate.RateLimit, error) {
	r, fs := current, cmd.Flags()
	var err error
	if fs.Changed("rate-limit") {
		s, _ := fs.GetString("rate-limit")
		if s == "" {
			return current, hrgate.Errorf(hrgate.EINVALID, "Invalid --rate-limit: give a rate such as 50/s, or %q.", gate.DefaultLimit)
		}
		if r.Rate, err = gate.ParseRate(s, limitFlags.Rate); err != nil {
			return current, err
		}
		if r.Rate == 0 {
			r.Burst = 0
		}
	}
	if fs.Changed("burst") {
		s, _ := fs.GetString("burst")
		switch n, convErr := strconv.Atoi(s); {
		case s == gate.DefaultLimit:
			r.Burst = 0
		case convErr != nil || n <= 0:
			return current, hrgate.Errorf(hrgate.EINVALID, "Invalid --burst: give a whole number of requests, or %q.", gate.DefaultLimit)
		default:
			r.Burst = n
		}
	}
	if fs.Changed("quota") {
		s, _ := fs.GetString("quota")
		if s == "" {
			return current, hrgate.Errorf(hrgate.EINVALID, "Invalid --quota: give a quota such as 20000/day, or %q.", gate.DefaultLimit)
		}
		if r.Quota, err = gate.ParseQuota(s, limitFlags.Quota); err != nil {
			return current, err
		}
	}
	if err := gate.CheckRateLimit(r, limitFlags); err != nil {
		return current, err
	}
	return r, nil
}

// updateLimits is the work of the update commands of keys, clients and
// consumers: it refuses a command without a rate limit flag before it
// opens the store, finds the record named by id, applies the flags to the
// limit limitOf reads from it, and stores the result with set under the
// record's id, returning the record as set left it.
func updateLimits[T any](m *Main, cmd *cobra.Command, id string,
	find func(*gate.Gate, context.Context, string) (T, error),
	limitOf func(T) (string, hrgate.RateLimit),
	set func(*gate.Gate, context.Context, string, hrgate.RateLimit) (T, error),
) (T, error) {
	var none T
	if err := requireLimitFlags(cmd); err != nil {
		return none, err
	}
	if err := m.open(cmd); err != nil {
		return none, err
	}
	rec, err := find(m.Gate, cmd.Context(), id)
	if err != nil {
		return none, err
	}
	recID, current := limitOf(rec)
	limit, err := limitsFromFlags(cmd, current)
	if err != nil {
		return none, err
	}
	return set(m.Gate, cmd.Context(), recID, limit)
}

// requireLimitFlags refuses an update command that gives no rate limit
// flag, before it opens the store: it would change nothing.
func requireLimitFlags(cmd *cobra.Command) error {
	if fs := cmd.Flags(); !fs.Changed("rate-limit") && !fs.Changed("burst") && !fs.Changed("quota") {
		return hrgate.Errorf(hrgate.EINVALID, "give --rate-limit, --burst or --quota")
	}
	return nil
}

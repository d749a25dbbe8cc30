package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/internal/view"
	"github.com/hrgate/hrgate/webhooks"
)

// openWebhooks opens the store and the audit trail and returns the
// webhooks service on them.
func (m *Main) openWebhooks(cmd *cobra.Command) (*webhooks.Service, error) {
	if err := m.open(cmd); err != nil {
		return nil, err
	}
	return m.webhooksService(), nil
}

// webhooksService returns the webhooks service on the open store and
// audit trail.
func (m *Main) webhooksService() *webhooks.Service {
	// The section was validated when the configuration loaded.
	allowed, _ := m.Config.Webhooks.Networks()
	opts := []webhooks.Option{webhooks.WithLogger(m.Logger), webhooks.WithAllowedNetworks(allowed),
		webhooks.WithRotationOverlap(time.Duration(m.Config.Webhooks.RotationOverlap))}
	if m.Audit != nil {
		opts = append(opts, webhooks.WithAudit(m.Audit))
	}
	return webhooks.New(m.Store, opts...)
}

// newDeliveryClient returns the HTTP client of webhook deliveries: the
// SSRF-safe transport (docs/webhooks.md), which checks every address it
// dials against webhooks.allowed_networks, follows no redirect (a 3xx is
// a failed attempt) and gives up after the configured timeout.
func newDeliveryClient(cfg config.Webhooks, log *slog.Logger) (*http.Client, error) {
	allowed, err := cfg.Networks()
	if err != nil {
		return nil, err
	}
	return webhooks.NewClient(webhooks.TransportConfig{AllowedNetworks: allowed, Timeout: time.Duration(cfg.Timeout), Log: log}), nil
}

// webhookWorker returns the delivery worker `serve` runs, configured by
// the webhooks section.
func (m *Main) webhookWorker() (*webhooks.Worker, error) {
	c := m.Config.Webhooks
	schedule, err := c.Schedule()
	if err != nil {
		return nil, err
	}
	client, err := newDeliveryClient(c, m.Logger)
	if err != nil {
		return nil, err
	}
	cfg := webhooks.WorkerConfig{
		Client: client, Schedule: schedule, Timeout: time.Duration(c.Timeout),
		DisableAfter: time.Duration(c.DisableAfter), PollInterval: time.Duration(c.PollInterval), Workers: c.Workers,
		Logger: m.Logger,
	}
	if m.Audit != nil {
		cfg.Audit = m.Audit
	}
	return webhooks.NewWorker(m.Store, cfg)
}

func (m *Main) webhooksCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Manage consumers' webhook endpoints and their deliveries"}

	create := &cobra.Command{
		Use:   "create --consumer NAME --url URL --events TYPE,...",
		Short: "Create a webhook endpoint; its signing secret is printed once",
		Long: "The endpoint receives the change events it subscribes to that the consumer's grant lets through,\n" +
			"each signed per the Standard Webhooks specification with a whsec_ secret shown once, now.\n" +
			"Event types: " + strings.Join(hrgate.WebhookEventTypes, ", ") + ".\n" +
			"employee.* events need an employees scope in the consumer's grant, time_off.* events time_off:read;\n" +
			"an endpoint subscribing to events its consumer cannot read is refused.",
		Example: "  hrgate webhooks create --consumer payroll --url https://payroll.example.com/hooks --events employee.created,employee.updated --output json\n" +
			"  hrgate webhooks create --consumer leave --url https://leave.example.com/hooks --events time_off.created,time_off.updated,time_off.cancelled",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			consumer, _ := f.GetString("consumer")
			url, _ := f.GetString("url")
			events, _ := f.GetStringSlice("events")
			desc, _ := f.GetString("description")
			allowHTTP, _ := f.GetBool("allow-http")
			mode := hrgate.WebhookFull
			if thin, _ := f.GetBool("thin"); thin {
				mode = hrgate.WebhookThin
			}
			switch {
			case consumer == "":
				return hrgate.Errorf(hrgate.EINVALID, "--consumer is required")
			case url == "":
				return hrgate.Errorf(hrgate.EINVALID, "--url is required")
			case len(events) == 0:
				return hrgate.Errorf(hrgate.EINVALID, "--events is required, e.g. --events %s", strings.Join(hrgate.WebhookEventTypes, ","))
			}
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			e, secret, err := svc.Create(cmd.Context(), webhooks.EndpointRequest{
				Consumer: consumer, URL: url, EventTypes: events, Description: desc, AllowHTTP: allowHTTP, Mode: mode,
			})
			if err != nil {
				return err
			}
			return m.report(view.WebhookSecret{ID: e.ID, Secret: secret},
				"Created webhook endpoint %s for %s (%s).\nSigning secret (shown once, store it now): %s\n", e.ID, consumer, e.Mode, secret)
		},
	}
	create.Flags().String("consumer", "", "the consumer (name or id) the endpoint belongs to")
	create.Flags().String("url", "", "the endpoint's https:// URL")
	create.Flags().StringSlice("events", nil, "event types, comma-separated")
	create.Flags().String("description", "", "what the endpoint is")
	create.Flags().Bool("allow-http", false, "accept a plain http:// URL (logged as a warning: anyone on the path reads the data)")
	create.Flags().Bool("thin", false, "send ids only; the receiver reads the employee or time-off request through the API")

	list := &cobra.Command{
		Use: "list [--consumer NAME]", Short: "List webhook endpoints", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			consumer, _ := cmd.Flags().GetString("consumer")
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			es, err := svc.Endpoints(cmd.Context(), consumer)
			if err != nil {
				return err
			}
			if m.output == "json" {
				return m.printJSON(view.All(es, view.NewWebhookEndpoint))
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCONSUMER\tSTATE\tMODE\tEVENTS\tURL")
			for _, e := range es {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.ConsumerID, endpointState(e), e.Mode,
					strings.Join(e.EventTypes, ","), webhooks.RedactURL(e.URL))
			}
			return tw.Flush()
		},
	}
	list.Flags().String("consumer", "", "only the endpoints of this consumer (name or id)")

	show := &cobra.Command{
		Use: "show ID", Short: "Show one webhook endpoint", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			e, err := svc.Endpoint(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.printEndpoint(e)
		},
	}

	disable := &cobra.Command{
		Use: "disable ID [--reason TEXT]", Short: "Stop deliveries to an endpoint; pending ones wait until it is enabled", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reason, _ := cmd.Flags().GetString("reason")
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			e, err := svc.Disable(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return m.printEndpoint(e)
		},
	}
	disable.Flags().String("reason", "", "why (kept with the endpoint)")

	enable := &cobra.Command{
		Use: "enable ID", Short: "Resume deliveries to an endpoint", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			e, err := svc.Enable(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.printEndpoint(e)
		},
	}

	del := &cobra.Command{
		Use: "delete ID", Short: "Delete an endpoint with its secrets and deliveries", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			if err := svc.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.report(map[string]any{"deleted": args[0]}, "Deleted webhook endpoint %s.\n", args[0])
		},
	}

	rotate := &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Give an endpoint a new signing secret, printed once; the old one keeps signing for webhooks.rotation_overlap",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			secret, until, err := svc.RotateSecret(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.report(view.WebhookSecret{ID: args[0], Secret: secret, OverlapUntil: &until},
				"New signing secret of %s (shown once, store it now): %s\nDeliveries carry both signatures until %s.\n",
				args[0], secret, until.Format(time.RFC3339))
		},
	}

	deliveries := &cobra.Command{
		Use:   "deliveries [MSG_ID] [--endpoint ID] [--event EVENT_ID] [--status pending|succeeded|failed|skipped]",
		Short: "List deliveries, newest first, or show one with its attempts",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				d, attempts, err := svc.Delivery(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return m.printDelivery(view.NewWebhookDelivery(d, attempts))
			}
			f := hrgate.DeliveryFilter{}
			f.EndpointID, _ = cmd.Flags().GetString("endpoint")
			f.EventID, _ = cmd.Flags().GetString("event")
			f.Status, _ = cmd.Flags().GetString("status")
			f.Limit, _ = cmd.Flags().GetInt("limit")
			ds, err := svc.Deliveries(cmd.Context(), f)
			if err != nil {
				return err
			}
			if m.output == "json" {
				out := make([]view.WebhookDelivery, len(ds))
				for i, d := range ds {
					out[i] = view.NewWebhookDelivery(d, nil)
				}
				return m.printJSON(out)
			}
			return m.printDeliveries(ds)
		},
	}
	deliveries.Flags().String("endpoint", "", "only the deliveries to this endpoint")
	deliveries.Flags().String("event", "", "only the deliveries of this change event")
	deliveries.Flags().String("status", "", "only deliveries in this state: pending, succeeded, failed or skipped")
	deliveries.Flags().Int("limit", 50, "at most this many (1-1000)")

	replay := &cobra.Command{
		Use:   "replay EVENT_ID | --since TIME [--endpoint ID]",
		Short: "Queue change events again, as new deliveries with new webhook-ids",
		Long: "Each endpoint an event was delivered to (or failed to be) gets a new delivery of it: a new\n" +
			"webhook-id, so that receivers that drop repeated ids take it in; the payload's \"id\" is still the\n" +
			"event's. The payload is projected anew through the consumer's grant as it is now.",
		Example: "  hrgate webhooks replay evt_0123456789abcdefghjkmnpqrs\n  hrgate webhooks replay --since 2026-05-01T00:00:00Z --endpoint whe_…",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sinceText, _ := cmd.Flags().GetString("since")
			endpoint, _ := cmd.Flags().GetString("endpoint")
			var (
				eventID string
				since   time.Time
			)
			if len(args) == 1 {
				eventID = args[0]
			}
			if sinceText != "" {
				var err error
				if since, err = time.Parse(time.RFC3339, sinceText); err != nil {
					return hrgate.Errorf(hrgate.EINVALID, "--since must be an RFC 3339 time such as 2026-05-01T00:00:00Z")
				}
			}
			if (eventID == "") == since.IsZero() {
				return hrgate.Errorf(hrgate.EINVALID, "give either an event id or --since, not both")
			}
			svc, err := m.openWebhooks(cmd)
			if err != nil {
				return err
			}
			ds, err := svc.Replay(cmd.Context(), eventID, since, endpoint)
			if err != nil {
				return err
			}
			ids := make([]string, len(ds))
			for i, d := range ds {
				ids[i] = d.ID
			}
			return m.report(map[string]any{"queued": len(ds), "deliveries": ids}, "Queued %d deliveries.\n", len(ds))
		},
	}
	replay.Flags().String("since", "", "replay every event since this RFC 3339 time")
	replay.Flags().String("endpoint", "", "only to this endpoint")

	cmd.AddCommand(create, list, show, disable, enable, del, rotate, deliveries, replay)
	return cmd
}

func endpointState(e *hrgate.WebhookEndpoint) string {
	if e.Enabled() {
		return "enabled"
	}
	return "disabled"
}

func (m *Main) printEndpoint(e *hrgate.WebhookEndpoint) error {
	if m.output == "json" {
		return m.printJSON(view.NewWebhookEndpoint(e))
	}
	fmt.Fprintf(m.Stdout, "Webhook endpoint %s\n  consumer: %s\n  url:      %s\n  events:   %s\n  mode:     %s\n  state:    %s\n",
		e.ID, e.ConsumerID, e.URL, strings.Join(e.EventTypes, ","), e.Mode, endpointState(e))
	if !e.Enabled() {
		fmt.Fprintf(m.Stdout, "  disabled: %s (%s)\n", e.DisabledAt.Format(time.RFC3339), e.DisabledReason)
	}
	if !e.FailingSince.IsZero() {
		fmt.Fprintf(m.Stdout, "  failing since: %s\n", e.FailingSince.Format(time.RFC3339))
	}
	if e.Description != "" {
		fmt.Fprintf(m.Stdout, "  description: %s\n", e.Description)
	}
	_, err := fmt.Fprintf(m.Stdout, "  created:  %s\n", e.CreatedAt.Format(time.RFC3339))
	return err
}

func (m *Main) printDeliveries(ds []*hrgate.WebhookDelivery) error {
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tENDPOINT\tEVENT\tTYPE\tSTATUS\tATTEMPTS\tLAST\tCREATED")
	for _, d := range ds {
		last := "-"
		if d.LastStatus != 0 || d.LastError != "" {
			last = strings.TrimSpace(fmt.Sprintf("%d %s", d.LastStatus, d.LastError))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.EndpointID, d.EventID, d.EventType, d.Status, d.Attempts, last,
			d.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (m *Main) printDelivery(v view.WebhookDelivery) error {
	if m.output == "json" {
		return m.printJSON(v)
	}
	fmt.Fprintf(m.Stdout, "Delivery %s of %s (%s) to %s: %s after %d attempts\n", v.ID, v.EventID, v.EventType, v.EndpointID, v.Status, v.Attempts)
	if v.ReplayOf != "" {
		fmt.Fprintf(m.Stdout, "  replays %s\n", v.ReplayOf)
	}
	if v.NextAttempt != nil {
		fmt.Fprintf(m.Stdout, "  next attempt: %s\n", v.NextAttempt.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTEMPT\tAT\tSTATUS\tLATENCY\tERROR")
	for _, a := range v.History {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%dms\t%s\n", a.Attempt, a.At.Format(time.RFC3339), a.StatusCode, a.LatencyMS, a.ErrorClass)
	}
	return tw.Flush()
}

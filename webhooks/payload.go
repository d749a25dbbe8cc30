package webhooks

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
)

// visibleGroups returns, of the field groups an event names, those the
// grant lets out (in clear or masked).
func visibleGroups(groups []string, g *grant.Grant) []string {
	var out []string
	readable := g.EmployeeGroups()
	for _, name := range groups {
		if fg, ok := hrgate.ParseFieldGroup(name); ok && readable.Has(fg) {
			out = append(out, name)
		}
	}
	return out
}

// eventVisible reports whether an event of the given type, naming the
// given changed groups, may reach a consumer with grant g at all, before
// its company is considered:
//
//   - every event needs the grant to read employees;
//   - employee.updated needs at least one changed group the grant lets
//     out: a consumer without compensation learns nothing of a raise,
//     not even that one happened;
//   - employee.terminated says the employment status changed, so it
//     needs the employment group in clear, as filtering by status does
//     on the API (gate.Reader.Employees).
func eventVisible(typ string, groups []string, g *grant.Grant) bool {
	if !g.CanRead(grant.ResourceEmployees) {
		return false
	}
	switch typ {
	case hrgate.ChangeEmployeeCreated:
		return true
	case hrgate.ChangeEmployeeUpdated:
		return len(visibleGroups(groups, g)) > 0
	case hrgate.ChangeEmployeeTerminated:
		clear := g.EmployeeGroups() &^ g.MaskedGroups()
		return clear.Has(hrgate.GroupEmployment)
	}
	return false
}

// payload is the body of a delivery. ID is the event's id, the same in
// every delivery of the event, replays included (the webhook-id header is
// the delivery's); Data is the employee as the consumer's grant projects
// it, or its ids in thin mode.
type payload struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Timestamp     time.Time       `json:"timestamp"`
	ChangedGroups []string        `json:"changed_groups,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// thinData is the data of a thin payload.
type thinData struct {
	ID        string `json:"id"`
	CompanyID string `json:"company_id"`
}

// buildPayload reads the delivery's employee through the principal's
// grant, now, and returns the body to send; nil when the delivery must be
// skipped: the grant no longer lets the event through, or the employee is
// erased, gone or outside the grant (all alike, as the API answers 404
// alike). The object is projected by grant.AppendEmployee after a read
// through gate.Reader, the code that answers GET /v1/employees/{id}.
func buildPayload(ctx context.Context, store hrgate.ReadStore, p *gate.Principal, d *hrgate.WebhookDelivery, mode string) ([]byte, error) {
	if !eventVisible(d.EventType, d.Groups, p.Grant) {
		return nil, nil
	}
	e, err := gate.NewReader(store, p).Employee(ctx, d.EmployeeID)
	if err != nil || e == nil {
		return nil, err
	}
	body := payload{ID: d.EventID, Type: d.EventType, Timestamp: d.EventTime.UTC()}
	if d.EventType == hrgate.ChangeEmployeeUpdated {
		body.ChangedGroups = visibleGroups(d.Groups, p.Grant)
	}
	if mode == hrgate.WebhookThin {
		body.Data, err = json.Marshal(thinData{ID: e.ID, CompanyID: e.CompanyID})
		if err != nil {
			return nil, err
		}
	} else {
		body.Data = grant.AppendEmployee(nil, e, p.Grant)
	}
	return json.Marshal(body)
}

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

// eventResource returns the grant resource whose read access an event
// type needs: the object the event is about, and the object its payload
// carries.
func eventResource(typ string) string {
	switch typ {
	case hrgate.ChangeTimeOffCreated, hrgate.ChangeTimeOffUpdated, hrgate.ChangeTimeOffCancelled:
		return grant.ResourceTimeOff
	}
	return grant.ResourceEmployees
}

// eventVisible reports whether an event of the given type, naming the
// given changed groups, may reach a consumer with grant g at all, before
// its company is considered:
//
//   - every event needs the grant to read its object: employees for
//     employee.*, time_off for time_off.*, as the API's routes do;
//   - employee.updated needs at least one changed group the grant lets
//     out: a consumer without compensation learns nothing of a raise,
//     not even that one happened;
//   - employee.terminated says the employment status changed, so it
//     needs the employment group in clear, as filtering by status does
//     on the API (gate.Reader.Employees).
func eventVisible(typ string, groups []string, g *grant.Grant) bool {
	if !hrgate.ValidWebhookEventType(typ) || !g.CanRead(eventResource(typ)) {
		return false
	}
	switch typ {
	case hrgate.ChangeEmployeeUpdated:
		return len(visibleGroups(groups, g)) > 0
	case hrgate.ChangeEmployeeTerminated:
		clear := g.EmployeeGroups() &^ g.MaskedGroups()
		return clear.Has(hrgate.GroupEmployment)
	}
	return true
}

// payload is the body of a delivery. ID is the event's id, the same in
// every delivery of the event, replays included (the webhook-id header is
// the delivery's); Data is the event's object as the consumer's grant
// lets it out, or its ids in thin mode.
type payload struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Timestamp     time.Time       `json:"timestamp"`
	ChangedGroups []string        `json:"changed_groups,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// thinData is the data of a thin payload: the object's id and company,
// and for a time-off request its employee, by which the receiver finds it
// on GET /v1/time-off.
type thinData struct {
	ID         string `json:"id"`
	CompanyID  string `json:"company_id"`
	EmployeeID string `json:"employee_id,omitempty"`
}

// buildPayload reads the delivery's object through the principal's grant,
// now, and returns the body to send; nil when the delivery must be
// skipped: the grant no longer lets the event through, or the object is
// erased, gone or outside the grant (all alike, as the API answers alike).
// The object is read through gate.Reader and projected by the grant
// package, the code that answers the API: an employee as GET
// /v1/employees/{id}, a time-off request as GET /v1/time-off.
func buildPayload(ctx context.Context, store hrgate.ReadStore, p *gate.Principal, d *hrgate.WebhookDelivery, mode string) ([]byte, error) {
	if !eventVisible(d.EventType, d.Groups, p.Grant) {
		return nil, nil
	}
	rd := gate.NewReader(store, p)
	body := payload{ID: d.EventID, Type: d.EventType, Timestamp: d.EventTime.UTC()}
	var (
		ids  thinData
		full func() []byte
	)
	if eventResource(d.EventType) == grant.ResourceTimeOff {
		r, err := rd.TimeOffRequest(ctx, d.TimeOffID)
		if err != nil || r == nil {
			return nil, err
		}
		ids = thinData{ID: r.ID, CompanyID: r.CompanyID, EmployeeID: r.EmployeeID}
		full = func() []byte { return grant.AppendTimeOffRequest(nil, r) }
	} else {
		e, err := rd.Employee(ctx, d.EmployeeID)
		if err != nil || e == nil {
			return nil, err
		}
		if d.EventType == hrgate.ChangeEmployeeUpdated {
			body.ChangedGroups = visibleGroups(d.Groups, p.Grant)
		}
		ids = thinData{ID: e.ID, CompanyID: e.CompanyID}
		full = func() []byte { return grant.AppendEmployee(nil, e, p.Grant) }
	}
	if mode == hrgate.WebhookThin {
		var err error
		if body.Data, err = json.Marshal(ids); err != nil {
			return nil, err
		}
	} else {
		body.Data = full()
	}
	return json.Marshal(body)
}

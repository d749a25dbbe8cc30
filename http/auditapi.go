package http

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/grant"
)

// auditParams are the filters of GET /v1/audit/events.
var auditParams = []string{"from", "to", "consumer_id", "credential_id", "type", "employee_id", "record_id", "limit", "cursor"}

// auditEvents answers GET /v1/audit/events: the trail for credentials
// with audit:read, oldest first, filtered and paged like every list. The
// trail is not divided by company: audit:read sees every event, whatever
// the credential's companies scope. Test keys never do, as they are meant
// for integrations under development.
func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request, q query, p *gate.Principal) error {
	if !p.Grant.CanRead(grant.ResourceAudit) {
		return hrgate.Errorf(hrgate.EFORBIDDEN, "This credential's grant does not include audit:read.")
	}
	if p.Env == hrgate.KeyTest {
		return hrgate.Errorf(hrgate.EFORBIDDEN, "Test keys cannot read the audit trail; use a live key with audit:read.")
	}
	if s.audit == nil {
		return hrgate.Errorf(hrgate.EUNAVAILABLE, "The audit trail is disabled on this server.")
	}
	limit, err := q.limit(s.cfg.API.DefaultPageSize, s.cfg.API.MaxPageSize)
	if err != nil {
		return err
	}
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	qh := queryHash("audit/events", p.KeyID, q)
	after, err := s.cursors.decode(q.get("cursor"), qh)
	if err != nil {
		return err
	}
	if after != "" {
		if f.AfterSeq, err = strconv.ParseInt(after, 10, 64); err != nil {
			return errBadCursor
		}
	}
	f.Limit = limit + 1
	evs, err := s.audit.FindAuditEvents(r.Context(), f)
	if err != nil {
		return err
	}
	requestInfoFrom(r.Context()).object = "audit_event"
	evs, next := trimPage(s, qh, evs, limit, func(ev *hrgate.AuditEvent) string { return strconv.FormatInt(ev.Seq, 10) })
	return writePage(w, evs, next, appendAuditEvent)
}

// appendAuditEvent appends the JSON of ev to dst.
func appendAuditEvent(dst []byte, ev *hrgate.AuditEvent) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return dst, hrgate.Wrap(err, "encode audit events")
	}
	return append(dst, b...), nil
}

// auditFilter reads the filters of GET /v1/audit/events.
func auditFilter(q query) (hrgate.AuditFilter, error) {
	var f hrgate.AuditFilter
	var err error
	if f.From, err = q.time("from"); err != nil {
		return f, err
	}
	if f.To, err = q.time("to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, hrgate.Errorf(hrgate.EINVALID, "from must be before to.")
	}
	if f.ConsumerID, err = q.id("consumer_id", hrgate.PrefixConsumer); err != nil {
		return f, err
	}
	// A source (SCIM, inbound webhooks) is recorded with its id as the
	// credential, as keys and OAuth clients are.
	if f.CredentialID = q.get("credential_id"); f.CredentialID != "" &&
		!hrgate.ValidID(hrgate.PrefixAPIKey, f.CredentialID) && !hrgate.ValidID(hrgate.PrefixClient, f.CredentialID) &&
		!hrgate.ValidID(hrgate.PrefixSource, f.CredentialID) {
		return f, hrgate.Errorf(hrgate.EINVALID, "credential_id must be an API key id (key_…), an OAuth client id (cli_…) or a source id (src_…).")
	}
	if t := q.get("type"); t != "" {
		if !audit.ValidType(t) {
			return f, hrgate.Errorf(hrgate.EINVALID, "type must be an audit event type such as api.request (docs/audit.md).")
		}
		f.Types = []string{t}
	}
	emp, err := q.id("employee_id", hrgate.PrefixEmployee)
	if err != nil {
		return f, err
	}
	rec := q.get("record_id")
	switch {
	case emp != "" && rec != "":
		return f, hrgate.Errorf(hrgate.EINVALID, "Give employee_id or record_id, not both.")
	case emp != "":
		f.RecordID = emp
	case rec != "":
		if !validRecordID(rec) {
			return f, hrgate.Errorf(hrgate.EINVALID, "record_id must be the id of a record hrgate returns, such as emp_… or tor_… .")
		}
		f.RecordID = rec
	}
	return f, nil
}

// validRecordID reports whether id is an id of an object the API returns.
func validRecordID(id string) bool {
	for _, prefix := range []string{hrgate.PrefixEmployee, hrgate.PrefixCompany, hrgate.PrefixTimeOff,
		hrgate.PrefixBalance, hrgate.PrefixTeam, hrgate.PrefixLocation} {
		if hrgate.ValidID(prefix, id) {
			return true
		}
	}
	return false
}

package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/stdwebhook"
	"github.com/hrgate/hrgate/limits"
	"github.com/hrgate/hrgate/sources"
)

// maxEventBytes caps the body of an inbound webhook event: one employee
// or one time-off request is a few kilobytes.
const maxEventBytes = 256 << 10

// sourceEventsRoute is the route of inbound webhooks.
const sourceEventsRoute = "POST /v1/sources/{id}/events"

// problemRejected is the type of the 422 answer to input whose values
// were refused (a CSV file with bad rows, an event with a bad value): it
// lists every problem.
const problemRejected = "urn:hrgate:problem:rejected"

// headerReplayed marks the answer to a webhook message applied before.
const headerReplayed = "Hrgate-Replayed"

// registerSourceRoutes registers the public routes of sources: inbound
// webhooks, CSV imports and runs.
func (s *Server) registerSourceRoutes() {
	s.addPattern(sourceEventsRoute)
	s.mux.HandleFunc(sourceEventsRoute, s.sourceEvent)
	s.route("POST /v1/sources/{id}/imports", []string{"mode"}, s.sourceImport)
	s.route("GET /v1/sources/{id}/runs", []string{"limit"}, s.sourceRuns)
}

// sourceEvent serves POST /v1/sources/{id}/events: a signed inbound
// webhook (Standard Webhooks) of a webhook source. It authenticates by
// signature, not by bearer credential, in this order: a locked-out
// address is refused; the body is read up to maxEventBytes; the source's
// secret signs the body, within five minutes of the server's clock, or
// the answer is the one 401, whether the source does not exist, is not a
// webhook source, or the signature, timestamp or headers are wrong, and
// the failure counts towards the address's lockout. Only then is the
// payload read and applied, at most once per webhook-id.
func (s *Server) sourceEvent(w http.ResponseWriter, r *http.Request) {
	info, _, ok := s.admit(w, r, sourceEventsRoute, nil)
	if !ok {
		return
	}
	addr := limits.AddrSource(info.client)
	if s.limits != nil {
		if wait := s.limits.bf.Locked(addr); wait > 0 {
			s.writeLockedOut(w, r, wait)
			return
		}
	}
	if r.ContentLength > maxEventBytes {
		s.writeError(w, r, hrgate.Errorf(hrgate.ETOOLARGE, "An event body is at most %d bytes.", maxEventBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBytes))
	if err != nil {
		s.writeError(w, r, bodyError(err))
		return
	}
	src, msgID, err := s.verifyEvent(r, body)
	if err != nil {
		if s.limits != nil {
			s.authFailed(r, info, "", addr)
		}
		s.writeError(w, r, err)
		return
	}
	info.target = src.ID
	if !s.admitSource(w, r, src) {
		return
	}
	if s.limits != nil {
		defer s.limits.inflight.release(src.ID)
	}
	if err := s.applyEvent(w, r, src, msgID, body); err != nil {
		s.writeError(w, r, err)
	}
}

// admitSource applies the limits to an authenticated source that pushes
// (SCIM, webhooks), as to a credential: its cap on requests in flight and the default
// per-credential rate limit, keyed by the source id, and the global
// limit. When it returns true the caller releases the in-flight slot.
func (s *Server) admitSource(w http.ResponseWriter, r *http.Request, src *hrgate.Source) bool {
	l := s.limits
	if l == nil {
		return true
	}
	if !l.inflight.acquire(src.ID, l.maxConcurrent) {
		w.Header().Set("Retry-After", "1")
		s.writeProblem(w, r, hrgate.Errorf(hrgate.ERATELIMITED,
			"This source already has %d requests in flight; wait for one to finish.", l.maxConcurrent), problemTooConcurrent)
		return false
	}
	var buf [1]limits.Rule
	rules := buf[:0]
	if l.credential.limit != (limits.Limit{}) {
		rules = append(rules, limits.Rule{Key: l.credential.key, ID: src.ID, Limit: l.credential.limit})
	}
	if !s.decide(w, r, l.global.append(rules)) {
		l.inflight.release(src.ID)
		return false
	}
	return true
}

// verifyEvent finds the webhook source of the path and checks the
// message's signature with its secret. Every failure is the same
// EUNAUTHORIZED error; the true reason goes to the log and the audit
// trail only. The message of a source that does not exist, or has no
// secret, is checked against a key of zeros all the same, so that its
// answer costs the same HMAC, and is refused whatever that check says.
func (s *Server) verifyEvent(r *http.Request, body []byte) (*hrgate.Source, string, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	var (
		src    *hrgate.Source
		key    []byte
		reason string
	)
	if hrgate.ValidID(hrgate.PrefixSource, id) {
		var err error
		src, err = s.sources.Source(ctx, id)
		switch {
		case hrgate.ErrorCode(err) == hrgate.ENOTFOUND:
			reason = "unknown source"
		case err != nil:
			return nil, "", err
		case src.Type != hrgate.SourceWebhook:
			reason = "not a webhook source"
		default:
			if key, err = s.sources.WebhookSecret(ctx, src); err != nil && hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
				return nil, "", err
			} else if err != nil {
				reason = "the source has no secret"
			}
		}
	} else {
		reason = "malformed source id"
	}
	if key == nil {
		key = make([]byte, 32)
	}
	msgID, err := stdwebhook.Verify([][]byte{key}, r.Header, body, s.gate.Now())
	if reason == "" && err != nil {
		reason = err.Error()
	}
	if reason != "" {
		credential := ""
		if src != nil {
			credential = src.ID
		}
		return nil, "", &hrgate.Error{Code: hrgate.EUNAUTHORIZED, Message: "Missing or invalid webhook signature.",
			Err: &gate.AuthFailure{Reason: "webhook: " + reason, CredentialID: credential}}
	}
	return src, msgID, nil
}

// eventBody is the payload of an inbound event.
type eventBody struct {
	Type string `json:"type"`
	// Timestamp is the sender's own time of the event, which the
	// Standard Webhooks payload convention carries; it is not used: the
	// signed webhook-timestamp header is what counts.
	Timestamp json.RawMessage            `json:"timestamp"`
	Data      map[string]json.RawMessage `json:"data"`
}

// applyEvent decodes a verified event and applies it: 200 with the
// outcome (the same answer again for a replayed message id), 400 for a
// payload that is not an event, 422 listing the problems of its values.
func (s *Server) applyEvent(w http.ResponseWriter, r *http.Request, src *hrgate.Source, msgID string, body []byte) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return hrgate.Errorf(hrgate.EINVALID, "Send the event as JSON with Content-Type: application/json.")
	}
	var eb eventBody
	if err := decodeJSON(bytes.NewReader(body), &eb); err != nil {
		return err
	}
	if eb.Type == "" || eb.Data == nil {
		return hrgate.Errorf(hrgate.EINVALID, `An event is {"type": "...", "data": {...}}; "type" and "data" are required.`)
	}
	ev := sources.Event{MessageID: msgID, Type: eb.Type, Data: make(map[string]string, len(eb.Data))}
	for name, raw := range eb.Data {
		v, err := eventValue(name, raw)
		if err != nil {
			return err
		}
		ev.Data[name] = v
	}
	// The request's own audit event (api.request, target the source)
	// records the event; its run records what it changed.
	out, run, err := s.sources.ApplyEvent(r.Context(), src, ev)
	if err != nil {
		if errors.Is(err, sources.ErrRejected) && run != nil {
			s.writeRejected(w, r, err, run)
			return nil
		}
		return err
	}
	if out.EmployeeID != "" {
		info := requestInfoFrom(r.Context())
		info.object, info.recordIDs = "employee", []string{out.EmployeeID}
	}
	if out.Replayed {
		w.Header().Set(headerReplayed, "true")
	}
	return writeValue(w, http.StatusOK, out)
}

// eventValue reads one value of an event's data: a string, a number
// (kept as written, so 85000.50 stays 85000.50) or null, which is empty.
func eventValue(name string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: data.%s is not a valid string.", hrgate.EchoQuoted(name))
		}
		return v, nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return string(raw), nil
	}
	return "", hrgate.Errorf(hrgate.EINVALID, "Invalid JSON body: data.%s must be a string, a number or null.", hrgate.EchoQuoted(name))
}

// rejectedProblem is the 422 answer: a problem document with the run
// that recorded the refusal and every problem, by row and column. No
// problem repeats an input value.
type rejectedProblem struct {
	Problem
	RunID    string              `json:"run_id"`
	Problems []hrgate.RowProblem `json:"problems"`
}

// writeRejected answers 422 for input whose values were refused.
func (s *Server) writeRejected(w http.ResponseWriter, r *http.Request, err error, run *hrgate.SyncRun) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.err = err
	}
	p := rejectedProblem{
		Problem: Problem{Type: problemRejected, Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
			Detail: hrgate.ErrorMessage(err), RequestID: requestID(r.Context())},
		RunID: run.ID, Problems: run.Problems,
	}
	if p.Problems == nil {
		p.Problems = []hrgate.RowProblem{}
	}
	body, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	_, _ = w.Write(body)
}

// withConsumerActor returns ctx naming the principal as the actor of
// what the sources service records in the audit trail.
func withConsumerActor(ctx context.Context, p *gate.Principal) context.Context {
	info := requestInfoFrom(ctx)
	return hrgate.WithActor(ctx, hrgate.Actor{Kind: hrgate.ActorConsumer, Name: p.ConsumerName,
		ClientAddr: info.client.String(), RequestID: info.id})
}

// Package sources brings HR data in. It holds the sync engine, the one
// path every source type takes into the store (validate, normalise,
// upsert by remote id, compare field group by field group, write change
// events in the same transaction), and the CSV importer built on it.
// Sources, their credentials and their runs are managed through Service.
package sources

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/hrgate/hrgate"
)

// Store is what the package needs of the data store.
type Store interface {
	hrgate.SourceStore
	hrgate.SyncStore
	FindCompanies(ctx context.Context, f hrgate.CompanyFilter) ([]*hrgate.Company, error)
}

// Service manages sources and runs their imports. It is safe for
// concurrent use.
type Service struct {
	store Store
	audit hrgate.AuditRecorder
	log   *slog.Logger
	// Now and Random are injected so that tests control time and ids.
	now    func() time.Time
	random io.Reader
}

// Option configures a Service.
type Option func(*Service)

// WithAudit records source changes and imports to the audit trail.
func WithAudit(a hrgate.AuditRecorder) Option { return func(s *Service) { s.audit = a } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock sets the clock; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRandom sets the source of randomness for ids and credentials; the
// default is crypto/rand. It must be cryptographically secure outside
// tests.
func WithRandom(r io.Reader) Option { return func(s *Service) { s.random = r } }

// New returns a Service on store.
func New(store Store, opts ...Option) *Service {
	s := &Service{store: store, log: slog.New(slog.DiscardHandler), now: time.Now, random: rand.Reader}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Credential is what a source authenticates with, shown once, at creation
// or rotation, and never again: hrgate keeps a SCIM token's hash and a
// webhook key sealed.
type Credential struct {
	Token  string `json:"token,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// Create creates a source for the company with the given id or slug, and
// returns it with its credential. A bad name or type is EINVALID, an
// unknown company ENOTFOUND, a taken name ECONFLICT.
func (s *Service) Create(ctx context.Context, name, company string, typ hrgate.SourceType) (*hrgate.Source, Credential, error) {
	if !hrgate.ValidSourceName(name) {
		return nil, Credential{}, hrgate.Errorf(hrgate.EINVALID, "Invalid source name: use 1 to 63 lower-case letters, digits, '-' or '_'.")
	}
	if !typ.Valid() {
		return nil, Credential{}, hrgate.Errorf(hrgate.EINVALID, "The source type must be scim, csv or webhook.")
	}
	cs, err := s.store.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: company, Page: hrgate.Page{Limit: 1}})
	if err != nil {
		return nil, Credential{}, err
	}
	if len(cs) == 0 {
		return nil, Credential{}, hrgate.ErrNotFound("Company")
	}
	id, err := hrgate.NewID(hrgate.PrefixSource, s.random)
	if err != nil {
		return nil, Credential{}, hrgate.Wrap(err, "create source")
	}
	src := &hrgate.Source{ID: id, CompanyID: cs[0].ID, Name: name, Type: typ, CreatedAt: s.now().UTC()}
	cred, hash, key, err := s.newCredential(typ)
	if err != nil {
		return nil, Credential{}, hrgate.Wrap(err, "create source")
	}
	src.TokenHash = hash
	if err := s.store.CreateSource(ctx, src, key); err != nil {
		return nil, Credential{}, err
	}
	s.log.Info("source created", "source_id", src.ID, "source", src.Name, "type", string(src.Type), "company_id", src.CompanyID)
	if err := s.record(ctx, hrgate.AuditSourceCreated, src.ID, nil, attrsOf(src)); err != nil {
		return nil, Credential{}, err
	}
	return src, cred, nil
}

// newCredential makes the credential of a source of type typ, with what
// the store keeps of it: a SCIM source's token and its hash, a webhook
// source's secret and its key; a CSV source has none.
func (s *Service) newCredential(typ hrgate.SourceType) (cred Credential, hash, key []byte, err error) {
	switch typ {
	case hrgate.SourceSCIM:
		if cred.Token, err = hrgate.GenerateSourceToken(s.random); err == nil {
			hash = hrgate.HashSourceToken(cred.Token)
		}
	case hrgate.SourceWebhook:
		key, cred.Secret, err = hrgate.GenerateWebhookSecret(s.random)
	}
	return cred, hash, key, err
}

// Source returns the source with the given id or name, or ENOTFOUND.
func (s *Service) Source(ctx context.Context, idOrName string) (*hrgate.Source, error) {
	return s.store.FindSource(ctx, idOrName)
}

// Sources returns the sources of a company (id or slug; "" for all),
// ordered by name.
func (s *Service) Sources(ctx context.Context, company string) ([]*hrgate.Source, error) {
	companyID := ""
	if company != "" {
		cs, err := s.store.FindCompanies(ctx, hrgate.CompanyFilter{Scope: hrgate.AllCompanies, ID: company, Page: hrgate.Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			return nil, hrgate.ErrNotFound("Company")
		}
		companyID = cs[0].ID
	}
	return s.store.ListSources(ctx, companyID)
}

// Delete deletes a source with its credential and runs; its employees
// stay. ENOTFOUND when there is no such source.
func (s *Service) Delete(ctx context.Context, idOrName string) error {
	src, err := s.store.FindSource(ctx, idOrName)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSource(ctx, src.ID); err != nil {
		return err
	}
	s.log.Info("source deleted", "source_id", src.ID, "source", src.Name)
	return s.record(ctx, hrgate.AuditSourceDeleted, src.ID, attrsOf(src), nil)
}

// RotateCredential gives a SCIM source a new token, or a webhook source a
// new signing secret, and returns the source with it, shown this once.
// The old credential stops authenticating at once: this is the remedy for
// a leaked one, and the identity provider or HR system, whose requests
// fail until then, is given the new one next (docs/sources.md). A CSV
// source has no credential (EINVALID); an unknown source is ENOTFOUND.
func (s *Service) RotateCredential(ctx context.Context, idOrName string) (*hrgate.Source, Credential, error) {
	src, err := s.store.FindSource(ctx, idOrName)
	if err != nil {
		return nil, Credential{}, err
	}
	if src.Type != hrgate.SourceSCIM && src.Type != hrgate.SourceWebhook {
		return nil, Credential{}, hrgate.Errorf(hrgate.EINVALID, "Source %s is a %s source: it has no credential to rotate.", src.Name, src.Type)
	}
	cred, hash, key, err := s.newCredential(src.Type)
	if err != nil {
		return nil, Credential{}, hrgate.Wrap(err, "rotate source credential")
	}
	if err := s.store.RotateSourceCredential(ctx, src.ID, hash, key, s.now().UTC()); err != nil {
		return nil, Credential{}, err
	}
	s.log.Info("source credential rotated", "source_id", src.ID, "source", src.Name, "type", string(src.Type))
	if err := s.record(ctx, hrgate.AuditSourceRotated, src.ID, nil, attrsOf(src)); err != nil {
		return nil, Credential{}, err
	}
	return src, cred, nil
}

// Runs returns the newest runs of a source, at most limit.
func (s *Service) Runs(ctx context.Context, idOrName string, limit int) ([]*hrgate.SyncRun, error) {
	src, err := s.store.FindSource(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return s.store.SyncRuns(ctx, src.ID, limit)
}

// sourceAttrs are the attributes of a source the audit trail keeps:
// never its credential.
type sourceAttrs struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	CompanyID string `json:"company_id"`
}

func attrsOf(src *hrgate.Source) *sourceAttrs {
	return &sourceAttrs{ID: src.ID, Name: src.Name, Type: string(src.Type), CompanyID: src.CompanyID}
}

// record appends an audit event for a change made by the actor of ctx.
// A change whose event cannot be written is reported as failed: the trail
// must not miss it.
func (s *Service) record(ctx context.Context, typ, target string, before, after any) error {
	if s.audit == nil {
		return nil
	}
	a := hrgate.ActorFrom(ctx)
	ev := &hrgate.AuditEvent{Type: typ, ActorKind: a.Kind, Actor: a.Name, ClientAddr: a.ClientAddr, RequestID: a.RequestID, Target: target}
	var err error
	if before != nil {
		if ev.Before, err = json.Marshal(before); err != nil {
			return hrgate.Wrap(err, "audit "+typ)
		}
	}
	if after != nil {
		if ev.After, err = json.Marshal(after); err != nil {
			return hrgate.Wrap(err, "audit "+typ)
		}
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		s.log.Error("a change was made but its audit event could not be written", "type", typ, "target", target, "err", err)
		return err
	}
	return nil
}

// RunPruning deletes, every interval until ctx ends, the finished runs
// that started more than retention ago. A SCIM request or an inbound
// event is a run of its own, so without it the table would grow by every
// push a source makes. A run is the operator's view of how a request or
// an import went; the change events (for their own retention) and the
// audit trail keep what changed.
func (s *Service) RunPruning(ctx context.Context, interval, retention time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.store.PruneSyncRuns(ctx, s.now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning old sync runs failed", "err", err)
		case n > 0:
			s.log.Info("pruned old sync runs", "runs", n, "retention", hrgate.FormatDuration(retention))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

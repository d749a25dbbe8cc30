package scim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sources"
)

// Store is what the SCIM server reads directly; every write goes through
// the sync engine.
type Store interface {
	FindEmployees(ctx context.Context, f hrgate.EmployeeFilter) ([]*hrgate.Employee, error)
	hrgate.SCIMUserStore
}

// Bounds of the users endpoint.
const (
	// defaultCount and maxCount bound a page of a list.
	defaultCount = 100
	maxCount     = 200
	// scanPage is how many employees a list reads at a time while it
	// filters or counts: memory stays bounded whatever the source's size.
	scanPage = 500
	// maxScan bounds the users a filter that no index answers may read;
	// beyond it the list answers tooMany.
	maxScan = 200_000
	// maxUserName bounds a userName, in bytes.
	maxUserName = 256
)

// rendered are the field groups a User document shows (render without
// internal). Reads load only these: the restricted groups (compensation,
// banking, government id) are never returned, so they are not decrypted
// to answer a read either. PUT and PATCH load every group, because their
// engines start from the whole user.
var rendered = hrgate.GroupsOf(hrgate.GroupIdentity, hrgate.GroupEmployment, hrgate.GroupContact, hrgate.GroupPersonal)

// service holds the User operations of one handler.
type service struct {
	sources *sources.Service
	store   Store
	now     func() time.Time
	random  io.Reader
}

// get returns the source's user with the given id, with the field groups
// in groups loaded, or 404: an id of another source's employee, of an
// erased employee or of a deleted user answers exactly as an unknown one.
func (s *service) get(ctx context.Context, src *hrgate.Source, id string, groups hrgate.GroupSet) (*user, error) {
	if !hrgate.ValidID(hrgate.PrefixEmployee, id) {
		return nil, notFound()
	}
	es, err := s.store.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: id, CompanyID: src.CompanyID,
		SourceID: src.ID, Groups: groups, Page: hrgate.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, notFound()
	}
	us, err := s.store.SCIMUsers(ctx, src.ID, []string{id})
	if err != nil {
		return nil, err
	}
	u := stateOf(src, es[0], us)
	if u.Deleted() {
		return nil, notFound()
	}
	return &user{e: es[0], u: u}, nil
}

// stateOf returns the SCIM state of e; an employee of the source without
// one (which only a store edited by hand holds) is a user named by its
// remote id.
func stateOf(src *hrgate.Source, e *hrgate.Employee, us map[string]*hrgate.SCIMUser) *hrgate.SCIMUser {
	if u := us[e.ID]; u != nil {
		return u
	}
	return &hrgate.SCIMUser{EmployeeID: e.ID, SourceID: src.ID, UserName: e.RemoteID}
}

// checkUserName checks a userName as the engine checks free text.
func checkUserName(name string) error {
	switch {
	case name == "":
		return invalidValue("userName is required.")
	case len(name) > maxUserName:
		return invalidValue(fmt.Sprintf("userName is longer than %d bytes.", maxUserName))
	}
	if p := sources.CheckFreeText(name); p != "" {
		return invalidValue("userName: " + p)
	}
	return nil
}

// create creates a user from a normalized document.
func (s *service) create(ctx context.Context, src *hrgate.Source, doc document) (*user, error) {
	m, err := toValues(doc, "")
	if err != nil {
		return nil, err
	}
	if err := checkUserName(m.userName); err != nil {
		return nil, err
	}
	remote := m.externalID
	if remote == "" {
		if remote, err = hrgate.NewID("scim", s.random); err != nil {
			return nil, hrgate.Wrap(err, "create user")
		}
	}
	state := &hrgate.SCIMUser{SourceID: src.ID, UserName: m.userName}
	rec := sources.Record{RemoteID: remote, Values: m.values, Groups: hrgate.AllGroups, New: true}
	out, err := s.apply(ctx, src, rec, func(ctx context.Context, tx hrgate.SyncTx, o *sources.Outcome) error {
		if o.Change != sources.Created {
			return &Error{Status: 409, Type: "uniqueness", Detail: "A user with this externalId exists."}
		}
		state.EmployeeID = o.Employee.ID
		return putState(ctx, tx, state, "", false)
	})
	if err != nil {
		return nil, err
	}
	return &user{e: out.Employee, u: state}, nil
}

// maxRewrites bounds how many times commit writes a user's state that
// concurrent renames keep overtaking, in one transaction.
const maxRewrites = 3

// putState writes a user's SCIM state in the sync transaction, replacing
// the userName was ("" for a new user); a userName another user of the
// source holds is 409 uniqueness, and a user deleted since it was read
// answers 404 as an unknown one does. A user renamed since was was read
// is 412 with guard (the request named a version in If-Match), else the
// store's error, whose *hrgate.SCIMUserRenamed names the userName stored
// now: commit decides what the write does then.
func putState(ctx context.Context, tx hrgate.SyncTx, u *hrgate.SCIMUser, was string, guard bool) error {
	st, ok := tx.(hrgate.SCIMUserTx)
	if !ok {
		return errors.New("scim: the store keeps no SCIM state")
	}
	// The store's unique index decides, also between concurrent
	// requests; no look-up first.
	if err := st.PutSCIMUser(ctx, u, was); err != nil {
		switch {
		case errors.Is(err, hrgate.ErrSCIMUserChanged) && guard:
			return errStale()
		case errors.Is(err, hrgate.ErrSCIMUserChanged):
			return err
		}
		switch hrgate.ErrorCode(err) {
		case hrgate.ECONFLICT:
			return &Error{Status: 409, Type: "uniqueness", Detail: "Another user of this source has this userName."}
		case hrgate.ENOTFOUND:
			return notFound()
		}
		return err
	}
	return nil
}

// apply writes one record through the sync engine with a hook in its
// transaction, and turns the engine's refusal into a SCIM error that
// names the attributes at fault.
func (s *service) apply(ctx context.Context, src *hrgate.Source, rec sources.Record,
	hook func(context.Context, hrgate.SyncTx, *sources.Outcome) error) (*sources.Outcome, error) {
	_, outs, err := s.sources.ApplyHook(ctx, src, "scim", []sources.Record{rec}, func(ctx context.Context, tx hrgate.SyncTx, outs []sources.Outcome) error {
		return hook(ctx, tx, &outs[0])
	})
	if errors.Is(err, sources.ErrRejected) && len(outs) == 1 {
		return nil, invalidValue(describe(outs[0].Problems))
	}
	if err != nil {
		return nil, err
	}
	return &outs[0], nil
}

// describe writes the engine's problems with the attribute each names.
// The engine's messages never repeat a value.
func describe(ps []hrgate.RowProblem) string {
	if len(ps) == 0 {
		return "The user was refused."
	}
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		switch {
		case p.Column == "first_name" && strings.Contains(p.Message, "first_name and last_name"):
			parts = append(parts, "A new user needs name.givenName and name.familyName.")
		case p.Column != "":
			a := attrOf[p.Column]
			if a == "" {
				a = p.Column
			}
			parts = append(parts, a+": "+p.Message)
		case strings.Contains(p.Message, "first_name and last_name"):
			parts = append(parts, "A new user needs name.givenName and name.familyName.")
		default:
			parts = append(parts, p.Message)
		}
	}
	return strings.Join(parts, " ")
}

// guarded reports whether If-Match names versions, which a write must
// then find unchanged inside its transaction too; "*" matches any version
// (RFC 9110 §13.1.1), so a request with it writes as one without.
func guarded(ifMatch string) bool {
	ifMatch = strings.TrimSpace(ifMatch)
	return ifMatch != "" && ifMatch != "*"
}

// checkVersion honours If-Match: "*" or a list of ETags, one of which
// must be the user's.
func checkVersion(u *user, ifMatch string) error {
	if !guarded(ifMatch) {
		return nil
	}
	v := u.version()
	for _, tag := range strings.Split(ifMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == v || "W/"+tag == v {
			return nil
		}
	}
	return errStale()
}

// errStale is the answer to a request whose If-Match names a version the
// user no longer has (RFC 7644 §3.14).
func errStale() *Error {
	return &Error{Status: 412, Detail: "The user changed since the version in If-Match was read."}
}

// replace is PUT: the core and enterprise attributes are replaced by the
// body's; the hrgate extension's attributes too when the body carries the
// extension, except its never-returned objects (compensation, bankAccount,
// nationalId), which are replaced only when the body names them, as a
// password would be.
func (s *service) replace(ctx context.Context, src *hrgate.Source, id string, body document, ifMatch string) (*user, error) {
	cur, err := s.get(ctx, src, id, hrgate.AllGroups)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(cur, ifMatch); err != nil {
		return nil, err
	}
	if ext, ok := body["externalId"].(string); ok && ext != cur.e.RemoteID {
		return nil, &Error{Status: 400, Type: "mutability", Detail: "externalId cannot change: it is the employee's remote id."}
	}
	whole := render(cur, "", true)
	doc := document{}
	for k, v := range body {
		doc[k] = v
	}
	old, _ := whole[SchemaHRGate].(map[string]any)
	if _, given := body[SchemaHRGate]; !given {
		doc[SchemaHRGate] = old
	} else if ext, ok := body[SchemaHRGate].(map[string]any); ok {
		for _, c := range hrgateComplex {
			if _, named := ext[c.attr]; !named && old[c.attr] != nil {
				ext[c.attr] = old[c.attr]
			}
		}
	}
	return s.write(ctx, src, cur, doc, guarded(ifMatch))
}

// patch is PATCH: the operations apply to the whole user, and what
// changed is written field by field.
func (s *service) patch(ctx context.Context, src *hrgate.Source, id string, ops []patchOp, ifMatch string) (*user, error) {
	cur, err := s.get(ctx, src, id, hrgate.AllGroups)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(cur, ifMatch); err != nil {
		return nil, err
	}
	doc := render(cur, "", true)
	if err := applyPatch(doc, ops, cur.e.RemoteID); err != nil {
		return nil, err
	}
	return s.write(ctx, src, cur, doc, guarded(ifMatch))
}

// write writes the fields of doc that differ from cur as a patch record,
// which the engine merges onto the employee as stored in its own
// transaction: a concurrent change of other fields is kept. With guard
// (the request named a version in If-Match), a change another request
// committed since cur was read fails the write with 412, decided inside
// the writing transaction (see commit for the userName).
func (s *service) write(ctx context.Context, src *hrgate.Source, cur *user, doc document, guard bool) (*user, error) {
	old := sources.Values(cur.e)
	m, err := toValues(doc, old["employment_status"])
	if err != nil {
		return nil, err
	}
	if err := checkUserName(m.userName); err != nil {
		return nil, err
	}
	diff := make(map[string]string)
	for f, v := range m.values {
		if v != old[f] {
			diff[f] = v
		}
	}
	state := &hrgate.SCIMUser{EmployeeID: cur.e.ID, SourceID: src.ID, UserName: m.userName}
	return s.commit(ctx, src, cur, sources.Record{RemoteID: cur.e.RemoteID, Values: diff, Patch: true}, state, guard)
}

// commit applies rec, a patch of cur's employee, and writes state, cur's
// SCIM state after the request, in the same transaction. The state is
// written even when the userName is unchanged: the store refuses to write
// a deleted user's state, so a write that read the user before a
// concurrent DELETE committed is undone (404) instead of changing a
// deleted user's employee.
//
// The store replaces the userName only if it is still the one in cur, so
// that a rename committed since cur was read is never reverted. With
// guard, such a rename fails the request with 412, as any other change
// does. Without, a request that does not rename the user writes its
// state again in the same transaction, keeping the userName the store
// found, as its fields are merged onto the employee as stored; one that
// renames it too is 409, since either name may be the one meant. The
// second write is in the same transaction, so that the request's run is
// recorded once, as it ends, not as a failure before it succeeds.
func (s *service) commit(ctx context.Context, src *hrgate.Source, cur *user, rec sources.Record, state *hrgate.SCIMUser, guard bool) (*user, error) {
	renames := state.UserName != cur.u.UserName
	out, err := s.apply(ctx, src, rec, func(ctx context.Context, tx hrgate.SyncTx, o *sources.Outcome) error {
		if err := overtaken(o, cur, guard); err != nil {
			return err
		}
		was := cur.u.UserName
		for attempt := 1; ; attempt++ {
			err := putState(ctx, tx, state, was, guard)
			if !errors.Is(err, hrgate.ErrSCIMUserChanged) {
				return err
			}
			r, ok := errors.AsType[*hrgate.SCIMUserRenamed](err)
			if renames || !ok || r.UserName == "" || attempt == maxRewrites {
				return &Error{Status: 409, Detail: "The user was renamed during the request; try again."}
			}
			state.UserName, was = r.UserName, r.UserName
		}
	})
	if err != nil {
		return nil, err
	}
	return &user{e: out.Employee, u: state}, nil
}

// remove is DELETE: the employment is terminated (termination date the
// day of the request unless one is set) and the user marked deleted, in
// one transaction. Nothing is hard-deleted; the user answers 404 after.
func (s *service) remove(ctx context.Context, src *hrgate.Source, id string, ifMatch string) error {
	// Only the employment dates are read, so only their group is loaded
	// (and nothing confidential decrypted); the engine writes the patch
	// onto the employee as stored.
	cur, err := s.get(ctx, src, id, hrgate.GroupsOf(hrgate.GroupEmployment))
	if err != nil {
		return err
	}
	if err := checkVersion(cur, ifMatch); err != nil {
		return err
	}
	now := s.now().UTC()
	values := map[string]string{"employment_status": string(hrgate.StatusTerminated)}
	if cur.e.Employment.TerminationDate == "" {
		day := now.Format(time.DateOnly)
		if cur.e.Employment.StartDate > day {
			day = cur.e.Employment.StartDate
		}
		values["termination_date"] = day
	}
	state := &hrgate.SCIMUser{EmployeeID: cur.e.ID, SourceID: src.ID, UserName: cur.u.UserName, DeletedAt: now}
	_, err = s.commit(ctx, src, cur, sources.Record{RemoteID: cur.e.RemoteID, Values: values, Patch: true}, state, guarded(ifMatch))
	return err
}

// overtaken refuses, inside the writing transaction, a write whose
// outcome is not the user read as cur: 409 when the record is another
// employee's, and, with guard, 412 when another write changed the
// employee after cur was read (its If-Match version is then stale).
func overtaken(o *sources.Outcome, cur *user, guard bool) error {
	if o.Employee == nil || o.Employee.ID != cur.e.ID {
		return &Error{Status: 409, Detail: "The user changed during the request; try again."}
	}
	if guard && !o.Read.Equal(cur.e.ModifiedAt) {
		return errStale()
	}
	return nil
}

// page is one page of a list.
type page struct {
	total int
	users []*user
}

// list returns the users that match f (nil for all) from the 1-based
// startIndex, at most count, in id order. A filter with an equality on
// id, userName or externalId is answered by one look-up; any other is
// evaluated over the source's users read scanPage at a time, loading the
// groups a filter can read (never the restricted ones) only when it reads
// more than those identifiers, and keeping only the requested page: as
// read when the scan loaded the rendered groups, read again otherwise.
func (s *service) list(ctx context.Context, src *hrgate.Source, f filter, startIndex, count int, base string) (*page, error) {
	if f != nil {
		if attrName, value, ok := indexed(f); ok {
			return s.lookup(ctx, src, f, attrName, value, startIndex, count, base)
		}
	}
	groups := hrgate.GroupSet(0)
	if f != nil && readsGroups(f) {
		groups = rendered
	}
	out := &page{users: []*user{}}
	var keep []*user
	after, scanned := "", 0
	for {
		// Each user is read once, to be matched: the scan keeps no
		// decryption state in the keyring's cache (ReadOnce).
		es, err := s.store.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, CompanyID: src.CompanyID, SourceID: src.ID,
			Groups: groups, ReadOnce: true, Page: hrgate.Page{AfterID: after, Limit: scanPage}})
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			break
		}
		scanned += len(es)
		if f != nil && scanned > maxScan {
			return nil, &Error{Status: 400, Type: "tooMany",
				Detail: fmt.Sprintf("The filter would read more than %d users; filter by id, userName or externalId with eq.", maxScan)}
		}
		after = es[len(es)-1].ID
		ids := make([]string, len(es))
		for i, e := range es {
			ids[i] = e.ID
		}
		us, err := s.store.SCIMUsers(ctx, src.ID, ids)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			u := &user{e: e, u: stateOf(src, e, us)}
			if u.u.Deleted() {
				continue
			}
			if f != nil && !f.match(render(u, base, false)) {
				continue
			}
			out.total++
			if out.total >= startIndex && len(keep) < count {
				keep = append(keep, u)
			}
		}
		if len(es) < scanPage {
			break
		}
	}
	if groups == rendered {
		out.users = append(out.users, keep...)
		return out, nil
	}
	for _, k := range keep {
		u, err := s.get(ctx, src, k.e.ID, rendered)
		if errors.As(err, new(*Error)) {
			out.total-- // gone since it was counted
			continue
		}
		if err != nil {
			return nil, err
		}
		out.users = append(out.users, u)
	}
	return out, nil
}

// lookup answers a list whose filter requires id, userName or externalId
// to equal a value: at most one user can match.
func (s *service) lookup(ctx context.Context, src *hrgate.Source, f filter, attrName, value string, startIndex, count int, base string) (*page, error) {
	out := &page{users: []*user{}}
	id := ""
	switch attrName {
	case "id":
		id = value
	case "userName":
		u, err := s.store.FindSCIMUserByName(ctx, src.ID, value)
		if hrgate.ErrorCode(err) == hrgate.ENOTFOUND {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		id = u.EmployeeID
	case "externalId":
		es, err := s.store.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, CompanyID: src.CompanyID, SourceID: src.ID,
			RemoteID: value, Page: hrgate.Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			return out, nil
		}
		id = es[0].ID
	}
	u, err := s.get(ctx, src, id, rendered)
	if errors.As(err, new(*Error)) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if !f.match(render(u, base, false)) {
		return out, nil
	}
	out.total = 1
	if startIndex <= 1 && count > 0 {
		out.users = append(out.users, u)
	}
	return out, nil
}

// readsGroups reports whether a filter reads any attribute beyond id,
// externalId, userName and meta, which need no field group.
func readsGroups(f filter) bool {
	switch f := f.(type) {
	case andFilter:
		return readsGroups(f.l) || readsGroups(f.r)
	case orFilter:
		return readsGroups(f.l) || readsGroups(f.r)
	case notFilter:
		return readsGroups(f.f)
	case presentFilter:
		return pathReadsGroups(f.p)
	case compareFilter:
		return pathReadsGroups(f.p)
	}
	return true
}

func pathReadsGroups(p path) bool {
	return p.schema != userSchema || !slices.Contains([]string{"id", "externalId", "userName", "meta"}, p.attr.Name)
}

package grant

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
)

// Access is what a scope lets a consumer do with a resource.
type Access uint8

// Accesses. The zero Access is not one of them, so a forgotten value never
// reads as a permission.
const (
	// AccessRead lets a consumer read values in clear.
	AccessRead Access = iota + 1
	// AccessReadMasked lets a consumer read employee field groups with
	// their values passed through Mask.
	AccessReadMasked
	// AccessWrite lets a consumer create and change values. It does not
	// imply read: a tool that pushes data has no need to read it back.
	AccessWrite
)

var accessNames = [...]string{AccessRead: "read", AccessReadMasked: "read_masked", AccessWrite: "write"}

// accesses lists every Access in canonical order.
var accesses = [...]Access{AccessRead, AccessReadMasked, AccessWrite}

// String returns the name of a as written in scopes.
func (a Access) String() string {
	if a >= AccessRead && a <= AccessWrite {
		return accessNames[a]
	}
	return "unknown"
}

func parseAccess(s string) (Access, bool) {
	for _, a := range accesses {
		if accessNames[a] == s {
			return a, true
		}
	}
	return 0, false
}

// accessSet is a set of accesses, bit 1<<Access per member.
type accessSet uint8

func (s accessSet) has(a Access) bool { return s&(1<<a) != 0 }

// Resource names as written in scopes.
const (
	ResourceEmployees = "employees"
	ResourceTimeOff   = "time_off"
	ResourceTeams     = "teams"
	ResourceLocations = "locations"
	ResourceAudit     = "audit"
	// ResourceSources covers the sources of the granted companies:
	// sources:write imports files into them, sources:read lists their
	// runs (docs/sources.md).
	ResourceSources = "sources"
	// ResourceCompanies is not a resource with accesses: a companies scope
	// lists the companies every other scope applies to.
	ResourceCompanies = "companies"
)

type resource uint8

const (
	resEmployees resource = iota
	resTimeOff
	resTeams
	resLocations
	resAudit
	resSources
	numResources
)

// resources holds, per resource, its name and the accesses it accepts.
// read_masked exists only where there are field values to mask, and only
// time off is written by consumers besides employees.
var resources = [numResources]struct {
	name    string
	allowed accessSet
}{
	resEmployees: {ResourceEmployees, 1<<AccessRead | 1<<AccessReadMasked | 1<<AccessWrite},
	resTimeOff:   {ResourceTimeOff, 1<<AccessRead | 1<<AccessWrite},
	resTeams:     {ResourceTeams, 1 << AccessRead},
	resLocations: {ResourceLocations, 1 << AccessRead},
	resAudit:     {ResourceAudit, 1 << AccessRead},
	resSources:   {ResourceSources, 1<<AccessRead | 1<<AccessWrite},
}

func lookupResource(name string) (resource, bool) {
	for r := range numResources {
		if resources[r].name == name {
			return r, true
		}
	}
	return 0, false
}

// Input limits. Scopes come from API requests (OAuth scope parameters, key
// creation) as well as from configuration, so the parser bounds its work
// before looking at the content.
const (
	// MaxScopeLen is the longest single scope accepted, in bytes.
	MaxScopeLen = 512
	// MaxScopesLen is the longest input accepted by Parse, in bytes summed
	// over all arguments.
	MaxScopesLen = 16 << 10
	// MaxCompanySelectors is the most distinct company selectors a grant
	// may name. Beyond a few hundred companies "companies:*" is the honest
	// scope; the bound also keeps store queries small and guarantees that
	// the canonical Scopes of any grant fit MaxScopesLen again.
	MaxCompanySelectors = 200
)

// scopeError returns the EINVALID error for tok.
func scopeError(tok, format string, args ...any) error {
	return hrgate.Errorf(hrgate.EINVALID, "invalid scope %s: "+format, append([]any{hrgate.EchoQuoted(tok)}, args...)...)
}

// scopeByte marks the bytes a scope may contain. Everything else, including
// upper case and any non-ASCII byte, is rejected: scopes are identifiers,
// and look-alike characters must not produce a scope that reads like
// another.
var scopeByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-:,*" {
		t[c] = true
	}
	return t
}()

// isSep reports whether c separates scopes. Commas do not: they separate
// field groups and company selectors within one scope.
func isSep(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Parse parses scopes into a grant. Each argument may hold several scopes
// separated by spaces, tabs or newlines. No scope at all yields the empty
// grant, which sees nothing.
//
// Any error is an *hrgate.Error with code EINVALID whose message names the
// offending token; Parse never drops a scope it does not understand.
func Parse(scopes ...string) (*Grant, error) {
	total := 0
	for _, s := range scopes {
		total += len(s)
	}
	if total > MaxScopesLen {
		return nil, hrgate.Errorf(hrgate.EINVALID, "invalid scopes: %d bytes in total, more than the limit of %d", total, MaxScopesLen)
	}
	g := new(Grant)
	for _, s := range scopes {
		for {
			i := 0
			for i < len(s) && isSep(s[i]) {
				i++
			}
			s = s[i:]
			if s == "" {
				break
			}
			j := 0
			for j < len(s) && !isSep(s[j]) {
				j++
			}
			if err := g.add(s[:j]); err != nil {
				return nil, err
			}
			s = s[j:]
		}
	}
	g.normalize()
	if len(g.companies) > MaxCompanySelectors {
		return nil, hrgate.Errorf(hrgate.EINVALID, "invalid scopes: %d company selectors, more than the limit of %d (use companies:* instead)",
			len(g.companies), MaxCompanySelectors)
	}
	return g, nil
}

// MustParse is like Parse but panics on error. It is meant for tests and
// grants fixed in code, never for input.
func MustParse(scopes ...string) *Grant {
	g, err := Parse(scopes...)
	if err != nil {
		panic(err)
	}
	return g
}

// add adds the one scope tok to g.
func (g *Grant) add(tok string) error {
	if len(tok) > MaxScopeLen {
		return scopeError(tok, "longer than %d bytes", MaxScopeLen)
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if scopeByte[c] {
			continue
		}
		switch {
		case 'A' <= c && c <= 'Z':
			return scopeError(tok, "scopes are lower case")
		case c < 0x20 || c == 0x7f:
			return scopeError(tok, "control character %s", strconv.QuoteRuneToASCII(rune(c)))
		}
		r, size := utf8.DecodeRuneInString(tok[i:])
		if r == utf8.RuneError && size == 1 {
			return scopeError(tok, "invalid UTF-8")
		}
		return scopeError(tok, "invalid character %s", strconv.QuoteRuneToASCII(r))
	}
	if tok[0] == ':' || tok[len(tok)-1] == ':' || strings.Contains(tok, "::") {
		return scopeError(tok, `empty segment between ":"`)
	}

	name, rest, hasAccess := strings.Cut(tok, ":")
	if name == ResourceCompanies {
		if !hasAccess {
			return scopeError(tok, "companies scopes must name companies (e.g. companies:acme or companies:*)")
		}
		return g.addCompanies(tok, rest)
	}
	r, ok := lookupResource(name)
	if !ok {
		return scopeError(tok, "unknown resource %s", hrgate.EchoQuoted(name))
	}
	if !hasAccess {
		return scopeError(tok, "missing access (e.g. %s:read)", name)
	}
	acc, list, hasGroups := strings.Cut(rest, ":")
	a, ok := parseAccess(acc)
	if !ok {
		return scopeError(tok, "unknown access %s", hrgate.EchoQuoted(acc))
	}
	if !resources[r].allowed.has(a) {
		return scopeError(tok, "access %s is not allowed for %s", hrgate.EchoQuoted(acc), name)
	}
	if r != resEmployees {
		if hasGroups {
			return scopeError(tok, "%s scopes do not take field groups", name)
		}
		g.access[r] |= 1 << a
		return nil
	}
	// Naming groups is mandatory so that nobody grants "everything" by
	// accident, and so that a field group added later is never granted
	// to an existing consumer without someone deciding it.
	if !hasGroups {
		return scopeError(tok, "employees scopes must name field groups (e.g. employees:read:identity)")
	}
	if strings.Contains(list, ":") {
		return scopeError(tok, `too many ":" segments`)
	}
	var set hrgate.GroupSet
	for part := range strings.SplitSeq(list, ",") {
		if part == "" {
			return scopeError(tok, "empty field group")
		}
		fg, ok := hrgate.ParseFieldGroup(part)
		if !ok {
			return scopeError(tok, "unknown field group %s", hrgate.EchoQuoted(part))
		}
		set = set.With(fg)
	}
	g.groups[a] |= set
	return nil
}

// reservedSelectors are slug-shaped words that read like an access. Someone
// writing "companies:read" most likely meant every company; taking it as the
// slug "read" would grant something else than intended, so it is refused
// and such a company must be named by id.
var reservedSelectors = []string{"read", "write"}

// addCompanies adds the selectors of the companies scope tok, whose text
// after "companies:" is list.
func (g *Grant) addCompanies(tok, list string) error {
	if strings.Contains(list, ":") {
		return scopeError(tok, `too many ":" segments`)
	}
	for sel := range strings.SplitSeq(list, ",") {
		switch {
		case sel == "":
			return scopeError(tok, "empty company selector")
		case sel == "*":
			g.allCompanies = true
		case slices.Contains(reservedSelectors, sel):
			return scopeError(tok, "company selector %s is reserved; name the company by id, or use companies:* for every company", hrgate.EchoQuoted(sel))
		case hrgate.ValidID(hrgate.PrefixCompany, sel), hrgate.ValidSlug(sel):
			g.companies = append(g.companies, sel)
		default:
			return scopeError(tok, "invalid company selector %s (want a company id, a slug or *)", hrgate.EchoQuoted(sel))
		}
	}
	return nil
}

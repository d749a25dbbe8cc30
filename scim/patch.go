package scim

import (
	"strings"

	"github.com/hrgate/hrgate"
)

// maxPatchOps bounds the operations of one PATCH request.
const maxPatchOps = 100

// patchOp is one operation of a PatchOp request (RFC 7644 §3.5.2).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// patchPath is a resolved PATCH path: attrPath, or valuePath with an
// optional sub-attribute ("emails[type eq \"work\"].value").
type patchPath struct {
	schema *schema
	attr   *attr
	filter filter // nil without [...]
	sub    *attr
}

// parsePatchPath resolves a PATCH path. Unknown attributes are
// invalidPath: an operation that names an attribute means to change it.
func parsePatchPath(p string) (patchPath, error) {
	if len(p) > maxFilterLen {
		return patchPath{}, &Error{Status: 400, Type: "invalidPath", Detail: "The path is too long."}
	}
	sch, rest, ok := splitURN(p)
	if !ok {
		return patchPath{}, invalidPath("The path names an unknown schema.")
	}
	var pp patchPath
	pp.schema = sch
	name, after := rest, ""
	var filterText string
	if i := strings.IndexByte(rest, '['); i >= 0 {
		j := closingBracket(rest, i)
		if j < 0 {
			return patchPath{}, invalidPath("The path has a [ without its ].")
		}
		name, filterText, after = rest[:i], rest[i+1:j], rest[j+1:]
		if after != "" && after[0] != '.' {
			return patchPath{}, invalidPath("Only .subAttribute may follow ] in a path.")
		}
		after = strings.TrimPrefix(after, ".")
	} else {
		name, after, _ = strings.Cut(rest, ".")
	}
	if pp.attr = sch.attr(name); pp.attr == nil {
		return patchPath{}, invalidPath("The path names an unknown attribute: " + hrgate.Echo(name) + ".")
	}
	if after != "" {
		if pp.sub = pp.attr.sub(after); pp.sub == nil {
			return patchPath{}, invalidPath("The path names an unknown sub-attribute: " + hrgate.Echo(after) + ".")
		}
	}
	if filterText != "" || strings.Contains(rest, "[") {
		if !pp.attr.Multi {
			return patchPath{}, invalidPath(pp.attr.Name + " is not multi-valued; it takes no [filter].")
		}
		toks, err := lex(filterText)
		if err != nil {
			return patchPath{}, invalidPath(err.Error())
		}
		ps := &parser{toks: toks, within: pp.attr}
		f, err := ps.or()
		if err == nil && ps.peek().kind != tokEOF {
			err = filterErr("Unexpected text in the path's filter.")
		}
		if err != nil {
			return patchPath{}, invalidPath(err.Error())
		}
		pp.filter = f
	}
	return pp, nil
}

// closingBracket returns the index of the ] that closes the [ at i,
// skipping quoted strings, or -1.
func closingBracket(s string, i int) int {
	inString := false
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case inString && c == '\\':
			j++
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return j
		}
	}
	return -1
}

// applyPatch applies ops in order to doc, a whole user (normalized,
// never-returned attributes included). externalID is the user's, which
// cannot change. What the result holds is checked afterwards, as a PUT's
// body is.
func applyPatch(doc document, ops []patchOp, externalID string) error {
	if len(ops) == 0 {
		return invalidSyntax("A PatchOp request needs at least one operation.")
	}
	if len(ops) > maxPatchOps {
		return invalidSyntax("A PatchOp request carries at most 100 operations.")
	}
	for _, op := range ops {
		kind := strings.ToLower(op.Op)
		if kind != "add" && kind != "replace" && kind != "remove" {
			return invalidSyntax(`Each operation's op must be "add", "replace" or "remove".`)
		}
		if op.Path == "" {
			if kind == "remove" {
				return &Error{Status: 400, Type: "noTarget", Detail: "A remove operation needs a path."}
			}
			obj, ok := op.Value.(map[string]any)
			if !ok {
				return invalidValue("An " + kind + " operation without a path needs an object as its value.")
			}
			if err := applyObject(doc, kind, obj, externalID); err != nil {
				return err
			}
			continue
		}
		pp, err := parsePatchPath(op.Path)
		if err != nil {
			return err
		}
		if err := applyOne(doc, kind, pp, op.Value, externalID); err != nil {
			return err
		}
	}
	return nil
}

// applyObject applies a path-less add or replace: each member of the
// value names an attribute (or, as some clients send it, a path such as
// "name.givenName"), and an extension's URN names its attributes. Members
// that name nothing hrgate keeps are ignored, as in a PUT.
func applyObject(doc document, kind string, obj map[string]any, externalID string) error {
	for k, v := range obj {
		if ext := extensionOf(k); ext != nil {
			sub, ok := v.(map[string]any)
			if !ok {
				return invalidValue(ext.ID + " must be an object.")
			}
			for sk, sv := range sub {
				pp, err := parsePatchPath(ext.ID + ":" + sk)
				if err != nil {
					continue
				}
				if err := applyOne(doc, kind, pp, sv, externalID); err != nil {
					return err
				}
			}
			continue
		}
		if strings.EqualFold(k, "schemas") {
			continue
		}
		pp, err := parsePatchPath(k)
		if err != nil {
			continue
		}
		if err := applyOne(doc, kind, pp, v, externalID); err != nil {
			return err
		}
	}
	return nil
}

// applyOne applies one operation at a resolved path.
func applyOne(doc document, kind string, pp patchPath, value any, externalID string) error {
	a := pp.attr
	switch {
	case a.Name == "id" || a.Name == "meta":
		return &Error{Status: 400, Type: "mutability", Detail: a.Name + " is read-only."}
	case a.Name == "externalId":
		if s, ok := value.(string); ok && kind != "remove" && s == externalID {
			return nil
		}
		return &Error{Status: 400, Type: "mutability", Detail: "externalId cannot change: it is the employee's remote id."}
	case a.Mutability == "readOnly" || (pp.sub != nil && pp.sub.Mutability == "readOnly"):
		// Derived attributes (displayName, name.formatted): what a
		// client writes there is ignored, as in a PUT.
		return nil
	}
	c := doc
	if pp.schema != userSchema {
		ext, _ := doc[pp.schema.ID].(map[string]any)
		if ext == nil {
			if kind == "remove" {
				return nil
			}
			ext = map[string]any{}
			doc[pp.schema.ID] = ext
		}
		c = ext
	}
	switch {
	case pp.filter != nil:
		return applyFiltered(c, kind, pp, value)
	case pp.sub != nil:
		return applySub(c, kind, pp, value)
	}
	if kind == "remove" || value == nil {
		delete(c, a.Name)
		return nil
	}
	value = normalizeValue(a, value)
	switch {
	case a.Multi:
		items, ok := value.([]any)
		if !ok {
			return invalidValue(a.Name + " takes an array.")
		}
		if kind == "add" {
			// A value already present is not added again (RFC 7644
			// §3.5.2.1).
			old, _ := c[a.Name].([]any)
			merged := append([]any{}, old...)
			for _, it := range items {
				if !containsValue(merged, it) {
					merged = append(merged, it)
				}
			}
			items = merged
		}
		c[a.Name] = items
	case a.Type == typeComplex:
		obj, ok := value.(map[string]any)
		if !ok {
			return invalidValue(a.Name + " takes an object.")
		}
		old, _ := c[a.Name].(map[string]any)
		merged := map[string]any{}
		for k, v := range old {
			merged[k] = v
		}
		for k, v := range obj {
			merged[k] = v
		}
		c[a.Name] = merged
	default:
		c[a.Name] = value
	}
	return nil
}

// applySub sets or removes a sub-attribute: of the complex attribute, or
// of every element of a multi-valued one (creating one element when an
// add or replace finds none).
func applySub(c map[string]any, kind string, pp patchPath, value any) error {
	a, sub := pp.attr, pp.sub
	if !a.Multi {
		obj, _ := c[a.Name].(map[string]any)
		if obj == nil {
			if kind == "remove" || value == nil {
				return nil
			}
			obj = map[string]any{}
			c[a.Name] = obj
		}
		if kind == "remove" || value == nil {
			delete(obj, sub.Name)
			if len(obj) == 0 {
				delete(c, a.Name)
			}
			return nil
		}
		obj[sub.Name] = value
		return nil
	}
	items, _ := c[a.Name].([]any)
	if len(items) == 0 && kind != "remove" && value != nil {
		c[a.Name] = []any{map[string]any{sub.Name: value}}
		return nil
	}
	for _, it := range items {
		if o, ok := it.(map[string]any); ok {
			if kind == "remove" || value == nil {
				delete(o, sub.Name)
			} else {
				o[sub.Name] = value
			}
		}
	}
	c[a.Name] = compact(items)
	if len(c[a.Name].([]any)) == 0 {
		delete(c, a.Name)
	}
	return nil
}

// applyFiltered applies an operation to the elements of a multi-valued
// attribute that match the path's filter. An add or replace that matches
// none adds an element made of the filter's equalities
// (emails[type eq "work"].value on a user without a work address adds
// one), as identity providers expect; a filter with anything but
// equalities joined by "and" then has no target.
func applyFiltered(c map[string]any, kind string, pp patchPath, value any) error {
	a := pp.attr
	items, _ := c[a.Name].([]any)
	var matched []map[string]any
	var kept []any
	for _, it := range items {
		o, ok := it.(map[string]any)
		if ok && pp.filter.match(o) {
			matched = append(matched, o)
			if kind == "remove" && pp.sub == nil {
				continue
			}
		}
		kept = append(kept, it)
	}
	if kind == "remove" {
		for _, o := range matched {
			if pp.sub != nil {
				delete(o, pp.sub.Name)
			}
		}
		setList(c, a.Name, compact(kept))
		return nil
	}
	if value == nil {
		return invalidValue("An " + kind + " operation needs a value.")
	}
	if len(matched) == 0 {
		seed := map[string]any{}
		if !equalities(pp.filter, seed) {
			return &Error{Status: 400, Type: "noTarget", Detail: "The path's filter matches no value of " + a.Name + "."}
		}
		kept = append(kept, seed)
		matched = []map[string]any{seed}
	}
	for _, o := range matched {
		if pp.sub != nil {
			o[pp.sub.Name] = value
			continue
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return invalidValue(a.Name + " takes objects.")
		}
		for k, v := range normalizeSub(a, obj) {
			o[k] = v
		}
	}
	setList(c, a.Name, compact(kept))
	return nil
}

// equalities fills seed with the sub-attribute values a filter of eq
// comparisons joined by "and" requires, and reports whether the filter
// is of that form.
func equalities(f filter, seed map[string]any) bool {
	switch f := f.(type) {
	case compareFilter:
		if f.op != "eq" || f.value == nil {
			return false
		}
		seed[f.p.attr.Name] = f.value
		return true
	case andFilter:
		return equalities(f.l, seed) && equalities(f.r, seed)
	}
	return false
}

// compact drops the elements left without a value.
func compact(items []any) []any {
	out := items[:0:0]
	for _, it := range items {
		if o, ok := it.(map[string]any); ok {
			if _, has := o["value"]; !has && !hasAddress(o) {
				continue
			}
		}
		out = append(out, it)
	}
	return out
}

// hasAddress reports whether an element of addresses holds any part of
// an address (addresses have no value sub-attribute).
func hasAddress(o map[string]any) bool {
	for _, k := range []string{"streetAddress", "locality", "region", "postalCode", "country"} {
		if v, ok := o[k]; ok && v != nil && v != "" {
			return true
		}
	}
	return false
}

func setList(c map[string]any, name string, items []any) {
	if len(items) == 0 {
		delete(c, name)
		return
	}
	c[name] = items
}

// containsValue reports whether items holds an element equal to v in
// every sub-attribute v gives.
func containsValue(items []any, v any) bool {
	o, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, it := range items {
		e, ok := it.(map[string]any)
		if !ok {
			continue
		}
		same := true
		for k, x := range o {
			if k == "primary" {
				continue
			}
			if y, ok := e[k]; !ok || !equalValue(x, y) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

func equalValue(x, y any) bool {
	xs, ok1 := x.(string)
	ys, ok2 := y.(string)
	if ok1 && ok2 {
		return strings.EqualFold(xs, ys)
	}
	return x == y
}

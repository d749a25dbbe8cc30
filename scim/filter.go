package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/hrgate/hrgate"
)

// Bounds of a filter: a filter is untrusted input, and parsing and
// evaluating it must take bounded time and memory.
const (
	maxFilterLen   = 2048
	maxFilterDepth = 16
	maxFilterNodes = 64
)

// A filter is a parsed SCIM filter (RFC 7644 §3.4.2.2). Operators: eq, ne,
// co, sw, ew, gt, ge, lt, le, pr; and, or, not; parentheses; value paths
// (emails[type eq "work" and value co "@x"]).
type filter interface {
	match(doc map[string]any) bool
}

// path is a resolved attribute path: the schema, the attribute and, for
// a complex attribute, a sub-attribute.
type path struct {
	schema *schema
	attr   *attr
	sub    *attr
}

// target returns the attribute a comparison reads: the sub-attribute, or
// for a multi-valued complex attribute named alone, its value.
func (p path) target() *attr {
	if p.sub != nil {
		return p.sub
	}
	if p.attr.Type == typeComplex {
		if v := p.attr.sub("value"); v != nil {
			return v
		}
	}
	return p.attr
}

// values returns the values the path reads in doc: several for a
// multi-valued attribute.
func (p path) values(doc map[string]any) []any {
	m := doc
	if p.schema != userSchema {
		ext, _ := doc[p.schema.ID].(map[string]any)
		if ext == nil {
			return nil
		}
		m = ext
	}
	v, ok := m[p.attr.Name]
	if !ok || v == nil {
		return nil
	}
	var items []any
	if list, ok := v.([]any); ok {
		items = list
	} else {
		items = []any{v}
	}
	sub := p.sub
	if sub == nil && p.attr.Type == typeComplex {
		sub = p.attr.sub("value")
		if sub == nil {
			return nil
		}
	}
	if sub == nil {
		return items
	}
	var out []any
	for _, it := range items {
		if o, ok := it.(map[string]any); ok {
			if sv, ok := o[sub.Name]; ok && sv != nil {
				out = append(out, sv)
			}
		}
	}
	return out
}

type (
	andFilter struct{ l, r filter }
	orFilter  struct{ l, r filter }
	notFilter struct{ f filter }
	// presentFilter is "attr pr".
	presentFilter struct{ p path }
	// compareFilter is "attr op value".
	compareFilter struct {
		p     path
		op    string
		value any // string, bool, json.Number or nil
	}
	// valuePathFilter is "attr[filter]": an element of a multi-valued
	// attribute that matches the inner filter.
	valuePathFilter struct {
		p     path
		inner filter
	}
)

func (f andFilter) match(d map[string]any) bool { return f.l.match(d) && f.r.match(d) }
func (f orFilter) match(d map[string]any) bool  { return f.l.match(d) || f.r.match(d) }
func (f notFilter) match(d map[string]any) bool { return !f.f.match(d) }

func (f presentFilter) match(d map[string]any) bool {
	for _, v := range f.p.values(d) {
		if s, ok := v.(string); !ok || s != "" {
			return true
		}
	}
	return false
}

func (f compareFilter) match(d map[string]any) bool {
	vs := f.p.values(d)
	if f.value == nil {
		// "eq null" is "not present"; "ne null" is "present".
		present := presentFilter{f.p}.match(d)
		return (f.op == "eq") != present
	}
	if f.op == "ne" {
		for _, v := range vs {
			if compare(f.p.target(), "eq", v, f.value) {
				return false
			}
		}
		return true
	}
	for _, v := range vs {
		if compare(f.p.target(), f.op, v, f.value) {
			return true
		}
	}
	return false
}

func (f valuePathFilter) match(d map[string]any) bool {
	m := d
	if f.p.schema != userSchema {
		m, _ = d[f.p.schema.ID].(map[string]any)
	}
	items, _ := m[f.p.attr.Name].([]any)
	for _, it := range items {
		if o, ok := it.(map[string]any); ok && f.inner.match(o) {
			return true
		}
	}
	return false
}

// compare applies op to a stored value and a filter value, as the
// attribute's type says: strings ignoring case unless caseExact, dates as
// instants, booleans with eq only.
func compare(a *attr, op string, stored, given any) bool {
	switch a.Type {
	case typeBoolean:
		b, ok1 := stored.(bool)
		g, ok2 := given.(bool)
		return ok1 && ok2 && op == "eq" && b == g
	case typeDateTime:
		s, ok1 := stored.(string)
		g, ok2 := given.(string)
		if !ok1 || !ok2 {
			return false
		}
		st, err1 := time.Parse(time.RFC3339Nano, s)
		gt, err2 := time.Parse(time.RFC3339Nano, g)
		if err1 != nil || err2 != nil {
			return false
		}
		return ordered(op, st.Compare(gt))
	}
	s, ok1 := stored.(string)
	g, ok2 := given.(string)
	if !ok1 || !ok2 {
		return false
	}
	if !a.CaseExact {
		s, g = strings.ToLower(s), strings.ToLower(g)
	}
	switch op {
	case "co":
		return strings.Contains(s, g)
	case "sw":
		return strings.HasPrefix(s, g)
	case "ew":
		return strings.HasSuffix(s, g)
	}
	return ordered(op, strings.Compare(s, g))
}

func ordered(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// FilterError is a filter that does not parse or names what cannot be
// filtered on; it becomes 400 invalidFilter.
type FilterError struct{ msg string }

func (e *FilterError) Error() string { return e.msg }

func filterErr(format string, args ...any) error {
	return &FilterError{msg: fmt.Sprintf(format, args...)}
}

// token kinds of the filter lexer.
const (
	tokWord = iota
	tokString
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokEOF
)

type token struct {
	kind int
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			out = append(out, token{tokLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tokRParen, ")", i})
			i++
		case c == '[':
			out = append(out, token{tokLBracket, "[", i})
			i++
		case c == ']':
			out = append(out, token{tokRBracket, "]", i})
			i++
		case c == '"':
			// A JSON string: escapes as JSON writes them.
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, filterErr("The filter has a string without its closing quote at position %d.", i+1)
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
				return nil, filterErr("The filter has an invalid string at position %d.", i+1)
			}
			out = append(out, token{tokString, v, i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t()[]\"", rune(s[j])) {
				j++
			}
			out = append(out, token{tokWord, s[i:j], i})
			i = j
		}
	}
	return append(out, token{kind: tokEOF, pos: len(s)}), nil
}

type parser struct {
	toks  []token
	i     int
	depth int
	nodes int
	// within is the multi-valued attribute a value path filters, whose
	// sub-attributes the inner filter names.
	within *attr
}

// parseFilter parses a filter on User resources.
func parseFilter(s string) (filter, error) {
	if len(s) > maxFilterLen {
		return nil, filterErr("The filter is longer than %d bytes.", maxFilterLen)
	}
	if strings.TrimSpace(s) == "" {
		return nil, filterErr("The filter is empty.")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' {
			return nil, filterErr("The filter holds a control character.")
		}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, filterErr("Unexpected text at position %d of the filter.", t.pos+1)
	}
	return f, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tokWord && strings.EqualFold(t.text, w)
}

func (p *parser) enter() error {
	p.depth++
	p.nodes++
	if p.depth > maxFilterDepth {
		return filterErr("The filter nests deeper than %d levels.", maxFilterDepth)
	}
	if p.nodes > maxFilterNodes {
		return filterErr("The filter has more than %d expressions.", maxFilterNodes)
	}
	return nil
}

func (p *parser) or() (filter, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orFilter{l, r}
	}
	return l, nil
}

func (p *parser) and() (filter, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andFilter{l, r}
	}
	return l, nil
}

func (p *parser) unary() (filter, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.isWord("not") {
		p.next()
		if p.peek().kind != tokLParen {
			return nil, filterErr("\"not\" must be followed by a parenthesised filter.")
		}
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notFilter{f}, nil
	}
	if p.peek().kind == tokLParen {
		p.next()
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, filterErr("A parenthesis is not closed at position %d of the filter.", t.pos+1)
		}
		return f, nil
	}
	return p.attrExp()
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true}

func (p *parser) attrExp() (filter, error) {
	t := p.next()
	if t.kind != tokWord {
		return nil, filterErr("An attribute name is expected at position %d of the filter.", t.pos+1)
	}
	if p.peek().kind == tokLBracket {
		if p.within != nil {
			return nil, filterErr("Value paths cannot nest.")
		}
		pt, err := p.resolve(t.text)
		if err != nil {
			return nil, err
		}
		if !pt.attr.Multi || pt.sub != nil {
			return nil, filterErr("%s is not a multi-valued attribute; it takes no [filter].", pt.attr.Name)
		}
		p.next()
		p.within = pt.attr
		inner, err := p.or()
		p.within = nil
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBracket {
			return nil, filterErr("A bracket is not closed at position %d of the filter.", t.pos+1)
		}
		return valuePathFilter{pt, inner}, nil
	}
	pt, err := p.resolve(t.text)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != tokWord || (op != "pr" && !compareOps[op]) {
		return nil, filterErr("An operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) is expected at position %d of the filter.", opTok.pos+1)
	}
	if op == "pr" {
		return presentFilter{pt}, nil
	}
	vt := p.next()
	var value any
	switch {
	case vt.kind == tokString:
		value = vt.text
	case vt.kind == tokWord && strings.EqualFold(vt.text, "true"):
		value = true
	case vt.kind == tokWord && strings.EqualFold(vt.text, "false"):
		value = false
	case vt.kind == tokWord && strings.EqualFold(vt.text, "null"):
		if op != "eq" && op != "ne" {
			return nil, filterErr("null compares with eq and ne only.")
		}
	case vt.kind == tokWord && json.Valid([]byte(vt.text)):
		value = vt.text // a number; no User attribute hrgate keeps is one
	default:
		return nil, filterErr("A value (a \"string\", true, false, null or a number) is expected at position %d of the filter.", vt.pos+1)
	}
	target := pt.target()
	switch target.Type {
	case typeBoolean:
		if _, ok := value.(bool); value != nil && (!ok || (op != "eq" && op != "ne")) {
			return nil, filterErr("%s is a boolean: compare it with eq or ne and true or false.", target.Name)
		}
	case typeDateTime:
		s, ok := value.(string)
		if value != nil {
			if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
				return nil, filterErr("%s is a date and time: compare it with a string such as \"2026-01-02T15:04:05Z\".", target.Name)
			}
		}
		if op == "co" || op == "sw" || op == "ew" {
			return nil, filterErr("%s is a date and time: use eq, ne, gt, ge, lt or le.", target.Name)
		}
	}
	return compareFilter{pt, op, value}, nil
}

// resolve turns an attribute path of the filter into a path of the User
// schemas. Inside a value path, names are sub-attributes of the filtered
// attribute. Attributes never returned cannot be filtered on: a filter
// would reveal them one guess at a time.
func (p *parser) resolve(name string) (path, error) {
	if p.within != nil {
		s := p.within.sub(name)
		if s == nil {
			return path{}, filterErr("%s has no sub-attribute %s.", p.within.Name, hrgate.Echo(name))
		}
		return path{schema: userSchema, attr: s}, nil
	}
	return resolvePath(name)
}

// resolvePath resolves "attr", "attr.sub" and their URN-qualified forms.
func resolvePath(name string) (path, error) {
	sch, rest, ok := splitURN(name)
	if !ok {
		return path{}, filterErr("Unknown schema in %s.", hrgate.Echo(name))
	}
	attrName, subName, hasSub := strings.Cut(rest, ".")
	a := sch.attr(attrName)
	if a == nil {
		return path{}, filterErr("Unknown attribute %s.", hrgate.Echo(name))
	}
	pt := path{schema: sch, attr: a}
	if hasSub {
		if pt.sub = a.sub(subName); pt.sub == nil {
			return path{}, filterErr("Unknown attribute %s.", hrgate.Echo(name))
		}
	}
	if a.never() {
		return path{}, filterErr("%s is never returned, so it cannot be filtered on.", a.Name)
	}
	return pt, nil
}

// indexed returns the attribute and value of an "eq" on id, userName or
// externalId that the whole filter requires (alone, or under "and"), so
// that a list can look that user up instead of scanning the source.
func indexed(f filter) (attrName, value string, ok bool) {
	switch f := f.(type) {
	case compareFilter:
		s, isStr := f.value.(string)
		if f.op == "eq" && isStr && f.p.schema == userSchema && f.p.sub == nil {
			switch f.p.attr.Name {
			case "id", "userName", "externalId":
				return f.p.attr.Name, s, true
			}
		}
	case andFilter:
		if a, v, ok := indexed(f.l); ok {
			return a, v, true
		}
		return indexed(f.r)
	}
	return "", "", false
}

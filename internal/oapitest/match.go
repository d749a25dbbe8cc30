package oapitest

import (
	"fmt"
	"strings"
)

// segment is one "/"-separated part of a path template. A literal segment
// has one part; a templated one alternates literal text and parameters,
// as in "{id}" or "{name}.json".
type segment struct {
	parts []string // literal text at even indexes, parameter names at odd ones
}

// literal reports whether the segment has no parameter.
func (s segment) literal() bool { return len(s.parts) == 1 }

// parseTemplate splits a path template such as "/v1/employees/{id}" into
// segments.
func parseTemplate(template string) ([]segment, error) {
	if !strings.HasPrefix(template, "/") {
		return nil, fmt.Errorf("oapitest: path %q does not start with /", template)
	}
	var segs []segment
	for _, raw := range strings.Split(template[1:], "/") {
		var s segment
		rest := raw
		for {
			open := strings.IndexByte(rest, '{')
			if open < 0 {
				s.parts = append(s.parts, rest)
				break
			}
			end := strings.IndexByte(rest[open:], '}')
			if end < 2 {
				return nil, fmt.Errorf("oapitest: path %q has a malformed parameter", template)
			}
			s.parts = append(s.parts, rest[:open], rest[open+1:open+end])
			rest = rest[open+end+1:]
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// match reports whether the request path segment seg fits s. Each
// parameter takes at least one character; parameters are matched
// shortest-first, which decides only between equally valid splits.
func (s segment) match(seg string) bool {
	if s.literal() {
		return s.parts[0] == seg
	}
	return matchParts(s.parts, seg)
}

// matchParts matches parts (literal, param, literal, ...) against str.
func matchParts(parts []string, str string) bool {
	if !strings.HasPrefix(str, parts[0]) {
		return false
	}
	str = str[len(parts[0]):]
	if len(parts) == 1 {
		return str == ""
	}
	// parts[1] is a parameter: try every non-empty value for it.
	for n := 1; n <= len(str); n++ {
		if matchParts(parts[2:], str[n:]) {
			return true
		}
	}
	return false
}

// find returns the path item whose template matches the request path.
// When several match, the one with more literal segments wins, so
// "/v1/employees/me" beats "/v1/employees/{id}"; among equals, the one
// whose first differing segment is literal wins.
func (d *Doc) find(path string) *pathItem {
	if !strings.HasPrefix(path, "/") {
		return nil
	}
	segs := strings.Split(path[1:], "/")
	var best *pathItem
	for _, pi := range d.paths {
		if len(pi.segments) != len(segs) {
			continue
		}
		ok := true
		for i, s := range pi.segments {
			if !s.match(segs[i]) {
				ok = false
				break
			}
		}
		if ok && (best == nil || moreLiteral(pi, best)) {
			best = pi
		}
	}
	return best
}

// moreLiteral reports whether a is a more specific template than b.
func moreLiteral(a, b *pathItem) bool {
	if a.literals != b.literals {
		return a.literals > b.literals
	}
	for i := range a.segments {
		if la, lb := a.segments[i].literal(), b.segments[i].literal(); la != lb {
			return la
		}
	}
	return false
}

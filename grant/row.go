package grant

import (
	"strings"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
)

// Flat rows for exports (CSV files over SFTP). They come from the same
// catalogue and the same masking as the JSON projection, so a file cannot
// show a field, or a clear value, that the API would not.

// EmployeeColumns returns the column names of an employee export under g:
// the leaf fields (nested ones dotted, "home_address.city") of the envelope
// and of every field group g lets out, in catalogue order.
func EmployeeColumns(g *Grant) []string {
	out := appendColumns(nil, employeeEnvelope)
	groups := g.EmployeeGroups()
	for fg := range employeeGroups {
		if groups.Has(hrgate.FieldGroup(fg)) {
			out = appendColumns(out, employeeGroups[fg])
		}
	}
	return out
}

func appendColumns[T any](out []string, specs []spec[T]) []string {
	for i := range specs {
		if specs[i].kind == kindObject {
			out = appendColumns(out, specs[i].inner)
		} else {
			out = append(out, specs[i].Name)
		}
	}
	return out
}

// AppendEmployeeRow appends one value per column of EmployeeColumns(g) to
// dst: the value AppendEmployee writes, masked alike, as text, with "" for
// null and for groups absent from e.Loaded (a flat file cannot tell absent
// from null). Numbers and times are written as in JSON; invalid UTF-8 bytes
// become U+FFFD.
//
// Values are not escaped: the CSV writer quotes them, and must neutralise
// spreadsheet formulas ("=", "+", "-", "@" first) if files are meant to be
// opened in a spreadsheet.
func AppendEmployeeRow(dst []string, e *hrgate.Employee, g *Grant) []string {
	if e == nil {
		for range EmployeeColumns(g) {
			dst = append(dst, "")
		}
		return dst
	}
	dst = appendRow(dst, e, employeeEnvelope, false, true)
	groups, masked := g.EmployeeGroups(), g.MaskedGroups()
	for fg := range employeeGroups {
		if f := hrgate.FieldGroup(fg); groups.Has(f) {
			dst = appendRow(dst, e, employeeGroups[fg], masked.Has(f), e.Loaded.Has(f))
		}
	}
	return dst
}

func appendRow[T any](dst []string, v *T, specs []spec[T], masked, present bool) []string {
	for i := range specs {
		s := &specs[i]
		if s.kind == kindObject {
			dst = appendRow(dst, v, s.inner, masked, present && !s.zero(v))
			continue
		}
		if !present {
			dst = append(dst, "")
			continue
		}
		dst = append(dst, textValue(v, s, masked && !s.KeepWhenMasked))
	}
	return dst
}

// textValue returns the value of the leaf field s of v as text.
func textValue[T any](v *T, s *spec[T], hide bool) string {
	switch s.kind {
	case kindText:
		switch x := s.text(v); {
		case x == "":
			return ""
		case hide:
			return Mask(x)
		case !utf8.ValidString(x):
			// One U+FFFD per invalid byte, as in the JSON output.
			return string([]rune(x))
		default:
			return x
		}
	case kindDecimal:
		switch x := s.text(v); {
		case x == "":
			return ""
		case hide:
			return strings.Trim(maskedDecimal, `"`)
		case validDecimal(x):
			return x
		}
	case kindTime:
		if t := s.time(v); timeOK(t) {
			return string(appendTimeText(make([]byte, 0, 24), t))
		}
	case kindBool:
		if s.flag(v) {
			return "true"
		}
		return "false"
	}
	return ""
}

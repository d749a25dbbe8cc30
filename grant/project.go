package grant

import "github.com/hrgate/hrgate"

// maskedValue replaces a masked value that no part of may show: a
// decimal (a string, not a number, so that no consumer mistakes it for an
// amount), an enum, a date, and any value too short to reveal its end.
// Being constant, it gives away neither length nor shape.
const maskedValue = `"****"`

// AppendEmployee appends e as a JSON object holding the envelope fields and
// the fields of every group g lets out, in catalogue order, and returns the
// extended buffer. A field outside the grant is absent; a granted field
// without a value is null; groups that g only grants read_masked are masked.
//
// Only groups present in e.Loaded are written: a store leaves the other
// groups zero, and writing them as null would tell the consumer that the
// values were erased. The projection checks fields, not companies; callers
// must have scoped the query with g.CompanyScope. A nil e is written as
// null, and a nil g lets out the envelope only.
func AppendEmployee(dst []byte, e *hrgate.Employee, g *Grant) []byte {
	if e == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	dst = appendFields(dst, e, employeeEnvelope, true, false)
	out := g.EmployeeGroups() & e.Loaded
	masked := g.MaskedGroups()
	for fg := range employeeGroups {
		if out.Has(hrgate.FieldGroup(fg)) {
			dst = appendFields(dst, e, employeeGroups[fg], false, masked.Has(hrgate.FieldGroup(fg)))
		}
	}
	return append(dst, '}')
}

// AppendCompany appends c as a JSON object and returns the extended buffer.
func AppendCompany(dst []byte, c *hrgate.Company) []byte {
	return appendObject(dst, c, companyFields)
}

// AppendTimeOffRequest appends t as a JSON object and returns the extended
// buffer.
func AppendTimeOffRequest(dst []byte, t *hrgate.TimeOffRequest) []byte {
	return appendObject(dst, t, timeOffRequestFields)
}

// AppendTimeOffBalance appends b as a JSON object and returns the extended
// buffer.
func AppendTimeOffBalance(dst []byte, b *hrgate.TimeOffBalance) []byte {
	return appendObject(dst, b, timeOffBalanceFields)
}

// AppendTeam appends t as a JSON object and returns the extended buffer.
func AppendTeam(dst []byte, t *hrgate.Team) []byte {
	return appendObject(dst, t, teamFields)
}

// AppendLocation appends l as a JSON object and returns the extended buffer.
func AppendLocation(dst []byte, l *hrgate.Location) []byte {
	return appendObject(dst, l, locationFields)
}

// appendObject appends v with all of specs as a JSON object, or null for a
// nil v.
func appendObject[T any](dst []byte, v *T, specs []spec[T]) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	dst = appendFields(dst, v, specs, true, false)
	return append(dst, '}')
}

// appendFields appends the members for specs read from v, starting with a
// comma unless first. With masked set, every value except KeepWhenMasked
// codes is masked; null stays null so that masking does not invent values.
func appendFields[T any](dst []byte, v *T, specs []spec[T], first, masked bool) []byte {
	for i := range specs {
		s := &specs[i]
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, s.key...)
		hide := masked && !s.KeepWhenMasked
		switch s.kind {
		case kindText:
			switch x := s.text(v); {
			case x == "":
				dst = append(dst, "null"...)
			case hide && s.opaque:
				dst = append(dst, maskedValue...)
			case hide:
				dst = appendMaskedString(dst, x)
			default:
				dst = appendString(dst, x)
			}
		case kindDecimal:
			switch x := s.text(v); {
			case x == "":
				dst = append(dst, "null"...)
			case hide:
				dst = append(dst, maskedValue...)
			default:
				dst = appendDecimal(dst, x)
			}
		case kindTime:
			dst = appendTime(dst, s.time(v))
		case kindBool:
			if s.flag(v) {
				dst = append(dst, "true"...)
			} else {
				dst = append(dst, "false"...)
			}
		case kindObject:
			if s.zero(v) {
				dst = append(dst, "null"...)
				continue
			}
			dst = append(dst, '{')
			dst = appendFields(dst, v, s.inner, true, masked)
			dst = append(dst, '}')
		default:
			// Unreachable with the catalogue's constructors; written
			// as null rather than as nothing so the JSON stays valid.
			dst = append(dst, "null"...)
		}
	}
	return dst
}

package grant

import (
	"fmt"
	"slices"
	"time"

	"github.com/hrgate/hrgate"
)

// Field describes one field hrgate outputs. The catalogue is declared once
// (in employee.go and objects.go of this package) and drives both Fields
// and the projection, so documentation, CSV headers and JSON cannot differ.
type Field struct {
	// Object is the object the field belongs to: "employee", "company",
	// "time_off_request", "time_off_balance", "team" or "location".
	Object string
	// Name is the canonical JSON path, dotted for nested fields
	// ("compensation.pay_rate", "home_address.city").
	Name string
	// Group is the field group of an employee field; it is meaningless
	// for other objects and for Always fields.
	Group hrgate.FieldGroup
	// Sensitivity is how carefully the field is handled.
	Sensitivity hrgate.Sensitivity
	// Type is one of "id", "string", "date", "date-time", "email",
	// "decimal", "enum", "boolean" or "object".
	Type string
	// Enum lists the documented values of an "enum" field. The projection
	// does not enforce it: validating input is the sources' job, and
	// output shows what is stored.
	Enum []string
	// Always marks the envelope fields (id, company_id, remote_id,
	// created_at, modified_at) that every projection of the object
	// carries, whatever the grant.
	Always bool
	// KeepWhenMasked marks a code that stays readable when its group is
	// read_masked, because it is needed to interpret the masked values and
	// reveals nothing about the person: a currency, a pay period, the kind
	// of national id.
	KeepWhenMasked bool
}

// Object names.
const (
	ObjectEmployee       = "employee"
	ObjectCompany        = "company"
	ObjectTimeOffRequest = "time_off_request"
	ObjectTimeOffBalance = "time_off_balance"
	ObjectTeam           = "team"
	ObjectLocation       = "location"
)

// kind tells the projection how to render a value.
type kind uint8

const (
	kindText kind = iota + 1
	kindDecimal
	kindTime
	kindBool
	kindObject
)

// spec is a catalogue entry together with how to read and render its value
// from a *T.
type spec[T any] struct {
	Field
	key  string // `"leaf":`, rendered once so the projection only copies it
	kind kind
	// opaque values are masked whole: an enum has few values and a date's
	// month and day narrow down a person, so their ends reveal too much.
	opaque bool
	text   func(*T) string // kindText and kindDecimal
	time   func(*T) time.Time
	flag   func(*T) bool
	zero   func(*T) bool // kindObject: the object is written as null
	inner  []spec[T]     // kindObject: its fields, in output order
}

func text[T any](name, typ string, get func(*T) string) spec[T] {
	return spec[T]{Field: Field{Name: name, Type: typ}, kind: kindText, text: get, opaque: typ == "date"}
}

func enum[T any](name string, values []string, get func(*T) string) spec[T] {
	return spec[T]{Field: Field{Name: name, Type: "enum", Enum: values}, kind: kindText, text: get, opaque: true}
}

func decimal[T any](name string, get func(*T) string) spec[T] {
	return spec[T]{Field: Field{Name: name, Type: "decimal"}, kind: kindDecimal, text: get}
}

func timestamp[T any](name string, get func(*T) time.Time) spec[T] {
	return spec[T]{Field: Field{Name: name, Type: "date-time"}, kind: kindTime, time: get}
}

func boolean[T any](name string, get func(*T) bool) spec[T] {
	return spec[T]{Field: Field{Name: name, Type: "boolean"}, kind: kindBool, flag: get}
}

func object[T any](name string, zero func(*T) bool, inner ...spec[T]) spec[T] {
	return spec[T]{Field: Field{Name: name, Type: "object"}, kind: kindObject, zero: zero, inner: inner}
}

// keep marks s as KeepWhenMasked.
func keep[T any](s spec[T]) spec[T] {
	s.KeepWhenMasked = true
	return s
}

// always marks s as an envelope field.
func always[T any](s spec[T]) spec[T] {
	s.Always = true
	return s
}

// address returns the fields of a postal address read through get.
func address[T any](name string, get func(*T) *hrgate.Address) spec[T] {
	str := func(f func(*hrgate.Address) string) func(*T) string {
		return func(v *T) string { return f(get(v)) }
	}
	return object(name, func(v *T) bool { return get(v).IsZero() },
		text("line1", "string", str(func(a *hrgate.Address) string { return a.Line1 })),
		text("line2", "string", str(func(a *hrgate.Address) string { return a.Line2 })),
		text("city", "string", str(func(a *hrgate.Address) string { return a.City })),
		text("region", "string", str(func(a *hrgate.Address) string { return a.Region })),
		text("postal_code", "string", str(func(a *hrgate.Address) string { return a.PostalCode })),
		text("country", "string", str(func(a *hrgate.Address) string { return a.Country })),
	)
}

// finish fills in what the declarations leave implicit (object, group,
// sensitivity, dotted names, rendered keys) and appends the flattened
// fields to list.
func finish[T any](specs []spec[T], obj, prefix string, group hrgate.FieldGroup, sens hrgate.Sensitivity, list []Field) []Field {
	for i := range specs {
		s := &specs[i]
		s.key = `"` + s.Name + `":`
		s.Object, s.Group, s.Sensitivity = obj, group, sens
		s.Name = prefix + s.Name
		list = append(list, s.Field)
		if s.kind == kindObject {
			list = finish(s.inner, obj, s.Name+".", group, sens, list)
		}
	}
	return list
}

// catalogue holds the flattened fields of every object, in Objects order.
var catalogue = func() []struct {
	object string
	fields []Field
} {
	type entry = struct {
		object string
		fields []Field
	}
	groups := hrgate.FieldGroups()
	if len(groups) != len(employeeGroups) {
		// A field group added to the domain must be given its fields
		// here before anything can be projected; fail at start-up
		// rather than at the first request.
		panic(fmt.Sprintf("grant: %d field groups in package hrgate, %d in the catalogue", len(groups), len(employeeGroups)))
	}
	emp := finish(employeeEnvelope, ObjectEmployee, "", 0, hrgate.Internal, nil)
	for _, fg := range groups {
		emp = finish(employeeGroups[fg], ObjectEmployee, "", fg, fg.Sensitivity(), emp)
	}
	// Time off reveals health (sick leave) and family matters (parental
	// leave), so it is confidential; the organisation is internal.
	return []entry{
		{ObjectEmployee, emp},
		{ObjectCompany, finish(companyFields, ObjectCompany, "", 0, hrgate.Internal, nil)},
		{ObjectTimeOffRequest, finish(timeOffRequestFields, ObjectTimeOffRequest, "", 0, hrgate.Confidential, nil)},
		{ObjectTimeOffBalance, finish(timeOffBalanceFields, ObjectTimeOffBalance, "", 0, hrgate.Confidential, nil)},
		{ObjectTeam, finish(teamFields, ObjectTeam, "", 0, hrgate.Internal, nil)},
		{ObjectLocation, finish(locationFields, ObjectLocation, "", 0, hrgate.Internal, nil)},
	}
}()

// Objects returns the names of the objects in the catalogue.
func Objects() []string {
	out := make([]string, len(catalogue))
	for i, c := range catalogue {
		out[i] = c.object
	}
	return out
}

// Fields returns the fields of object in output order, nested fields right
// after their object, or nil for an unknown object. For employees the
// envelope comes first, then each field group in canonical order. The
// result is a copy the caller may change.
func Fields(object string) []Field {
	for _, c := range catalogue {
		if c.object == object {
			out := slices.Clone(c.fields)
			for i := range out {
				out[i].Enum = slices.Clone(out[i].Enum)
			}
			return out
		}
	}
	return nil
}

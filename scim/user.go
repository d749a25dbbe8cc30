package scim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sources"
)

// A document is a User as JSON decodes it, with every attribute name in
// the case the schemas write it (normalize), so that the filter and PATCH
// engines can look names up directly. Extensions are objects keyed by
// their URN.
type document = map[string]any

// normalize returns raw with the names of known attributes in their
// schema's case and every other attribute dropped: attributes hrgate
// keeps no field for are ignored (docs/scim.md). id and meta are dropped
// too: they are the server's. A manager given as a bare id (as some
// clients send it) becomes {"value": id}.
func normalize(raw map[string]any) document {
	doc := document{}
	for k, v := range raw {
		if ext := extensionOf(k); ext != nil {
			if m, ok := v.(map[string]any); ok {
				doc[ext.ID] = normalizeObject(ext, m)
			} else if v == nil {
				doc[ext.ID] = nil
			} else {
				doc[ext.ID] = v // refused by the mapping as a wrong type
			}
			continue
		}
		a := userSchema.attr(k)
		if a == nil || a.Name == "id" || a.Name == "meta" {
			continue
		}
		doc[a.Name] = normalizeValue(a, v)
	}
	return doc
}

func normalizeObject(s *schema, raw map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range raw {
		if a := s.attr(k); a != nil {
			out[a.Name] = normalizeValue(a, v)
		}
	}
	return out
}

// normalizeValue puts the sub-attribute names of a complex value (or of
// each element of a multi-valued one) in their schema's case.
func normalizeValue(a *attr, v any) any {
	if a.Type != typeComplex {
		return v
	}
	if a.Multi {
		list, ok := v.([]any)
		if !ok {
			if o, isObj := v.(map[string]any); isObj {
				return []any{normalizeSub(a, o)}
			}
			return v
		}
		out := make([]any, len(list))
		for i, it := range list {
			if o, ok := it.(map[string]any); ok {
				out[i] = normalizeSub(a, o)
			} else {
				out[i] = it
			}
		}
		return out
	}
	if s, ok := v.(string); ok && a.Name == "manager" {
		return map[string]any{"value": s}
	}
	if o, ok := v.(map[string]any); ok {
		return normalizeSub(a, o)
	}
	return v
}

func normalizeSub(a *attr, o map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		if s := a.sub(k); s != nil {
			out[s.Name] = v
		}
	}
	return out
}

// user is one SCIM user: the employee, with the groups the operation
// needs loaded (every group for PUT and PATCH, the rendered ones for a
// read), and its SCIM state.
type user struct {
	e *hrgate.Employee
	u *hrgate.SCIMUser
}

// version is the user's weak ETag. The modification time changes with
// every change of a field group; the userName, kept apart, is hashed in.
func (u *user) version() string {
	h := sha256.New()
	h.Write(strconv.AppendInt(nil, u.e.ModifiedAt.UnixMicro(), 10))
	h.Write([]byte{0})
	h.Write([]byte(u.u.UserName))
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
}

const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

// render returns the User document of u. Attributes that are never
// returned (the restricted groups) are included only when internal is
// set: the PATCH and PUT engines start from the whole user. base is the
// URL of the Users endpoint, for meta.location and manager.$ref.
func render(u *user, base string, internal bool) document {
	v := sources.Values(u.e)
	doc := document{
		"schemas": []any{SchemaUser, SchemaEnterprise, SchemaHRGate},
		"id":      u.e.ID,
		"active":  v["employment_status"] != string(hrgate.StatusTerminated),
	}
	put(doc, "externalId", u.e.RemoteID)
	put(doc, "userName", u.u.UserName)
	name := map[string]any{}
	put(name, "givenName", v["first_name"])
	put(name, "familyName", v["last_name"])
	full := strings.TrimSpace(v["first_name"] + " " + v["last_name"])
	put(name, "formatted", full)
	if len(name) > 0 {
		doc["name"] = name
	}
	display := v["preferred_name"]
	if display == "" {
		display = full
	}
	put(doc, "displayName", display)
	put(doc, "nickName", v["preferred_name"])
	put(doc, "title", v["job_title"])
	var emails []any
	if w := v["work_email"]; w != "" {
		emails = append(emails, map[string]any{"value": w, "type": "work", "primary": true})
	}
	if p := v["personal_email"]; p != "" {
		emails = append(emails, map[string]any{"value": p, "type": "home"})
	}
	if emails != nil {
		doc["emails"] = emails
	}
	if p := v["phone"]; p != "" {
		doc["phoneNumbers"] = []any{map[string]any{"value": p, "type": "mobile", "primary": true}}
	}
	addr := map[string]any{}
	street := v["home_address_line1"]
	if l2 := v["home_address_line2"]; l2 != "" {
		street += "\n" + l2
	}
	put(addr, "streetAddress", street)
	put(addr, "locality", v["home_address_city"])
	put(addr, "region", v["home_address_region"])
	put(addr, "postalCode", v["home_address_postal_code"])
	put(addr, "country", v["home_address_country"])
	if len(addr) > 0 {
		addr["type"], addr["primary"] = "home", true
		doc["addresses"] = []any{addr}
	}

	ent := map[string]any{}
	put(ent, "employeeNumber", v["employee_number"])
	put(ent, "department", v["department"])
	if m := v["manager_id"]; m != "" {
		ent["manager"] = map[string]any{"value": m, "$ref": base + "/" + m}
	}
	if len(ent) > 0 {
		doc[SchemaEnterprise] = ent
	}

	ext := map[string]any{}
	for _, f := range hrgateFields {
		put(ext, f.attr, v[f.field])
	}
	if internal {
		for _, c := range hrgateComplex {
			obj := map[string]any{}
			for _, f := range c.fields {
				put(obj, f.attr, v[f.field])
			}
			if len(obj) > 0 {
				ext[c.attr] = obj
			}
		}
	}
	if len(ext) > 0 {
		doc[SchemaHRGate] = ext
	}
	doc["meta"] = map[string]any{
		"resourceType": "User",
		"created":      u.e.CreatedAt.UTC().Format(timeFormat),
		"lastModified": u.e.ModifiedAt.UTC().Format(timeFormat),
		"location":     base + "/" + u.e.ID,
		"version":      u.version(),
	}
	return doc
}

func put(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// fieldAttr pairs a canonical field with its attribute in the hrgate
// extension.
type fieldAttr struct{ field, attr string }

var (
	hrgateFields = []fieldAttr{
		{"employment_status", "employmentStatus"}, {"employment_type", "employmentType"},
		{"start_date", "startDate"}, {"termination_date", "terminationDate"},
		{"date_of_birth", "dateOfBirth"}, {"gender", "gender"}, {"marital_status", "maritalStatus"},
	}
	hrgateComplex = []struct {
		attr   string
		fields []fieldAttr
	}{
		{"compensation", []fieldAttr{{"pay_rate", "payRate"}, {"pay_period", "payPeriod"}, {"pay_currency", "payCurrency"}, {"pay_frequency", "payFrequency"}}},
		{"bankAccount", []fieldAttr{{"bank_name", "bankName"}, {"account_holder", "accountHolder"}, {"iban", "iban"},
			{"account_number", "accountNumber"}, {"routing_number", "routingNumber"}}},
		{"nationalId", []fieldAttr{{"national_id_type", "type"}, {"national_id", "value"}}},
	}
)

// attrOf names the SCIM attribute of each canonical field, for messages:
// a problem the sync engine finds in a field is reported on the attribute
// the client sent.
var attrOf = func() map[string]string {
	m := map[string]string{
		"remote_id": "externalId", "first_name": "name.givenName", "last_name": "name.familyName",
		"preferred_name": "nickName", "work_email": `emails[type eq "work"].value`, "job_title": "title",
		"personal_email": `emails[type eq "home"].value`, "phone": "phoneNumbers.value",
		"home_address_line1": "addresses.streetAddress", "home_address_line2": "addresses.streetAddress",
		"home_address_city": "addresses.locality", "home_address_region": "addresses.region",
		"home_address_postal_code": "addresses.postalCode", "home_address_country": "addresses.country",
		"employee_number": SchemaEnterprise + ":employeeNumber", "department": SchemaEnterprise + ":department",
		"manager_id": SchemaEnterprise + ":manager.value",
	}
	for _, f := range hrgateFields {
		m[f.field] = SchemaHRGate + ":" + f.attr
	}
	for _, c := range hrgateComplex {
		for _, f := range c.fields {
			m[f.field] = SchemaHRGate + ":" + c.attr + "." + f.attr
		}
	}
	return m
}()

// mapped is what a User document says in hrgate's terms.
type mapped struct {
	values     map[string]string
	userName   string
	externalID string
}

// toValues maps a normalized User document onto canonical field values,
// every field present (empty when the document has no value), with the
// userName and externalId. It checks the shape of the document (types,
// which e-mail types, how many addresses); the values themselves are
// checked by the sync engine. current is the stored status, "" for a new
// user: it decides what active=true means for an employee on leave, and
// which of active and employmentStatus changed when they disagree.
func toValues(doc document, current string) (*mapped, error) {
	m := &mapped{values: make(map[string]string, len(attrOf))}
	for f := range attrOf {
		if f != "remote_id" {
			m.values[f] = ""
		}
	}
	var err error
	if m.userName, err = stringAt(doc, "userName"); err != nil {
		return nil, err
	}
	if m.externalID, err = stringAt(doc, "externalId"); err != nil {
		return nil, err
	}
	name, err := objectAt(doc, "name")
	if err != nil {
		return nil, err
	}
	for _, f := range []fieldAttr{{"first_name", "givenName"}, {"last_name", "familyName"}} {
		if m.values[f.field], err = stringAt(name, f.attr, "name"); err != nil {
			return nil, err
		}
	}
	for _, f := range []fieldAttr{{"preferred_name", "nickName"}, {"job_title", "title"}} {
		if m.values[f.field], err = stringAt(doc, f.attr); err != nil {
			return nil, err
		}
	}
	if err := mapEmails(doc, m.values); err != nil {
		return nil, err
	}
	phones, err := listAt(doc, "phoneNumbers")
	if err != nil {
		return nil, err
	}
	switch {
	case len(phones) > 1:
		return nil, invalidValue("phoneNumbers: hrgate keeps one phone number; send at most one.")
	case len(phones) == 1:
		if m.values["phone"], err = stringAt(phones[0], "value", "phoneNumbers"); err != nil {
			return nil, err
		}
	}
	if err := mapAddress(doc, m.values); err != nil {
		return nil, err
	}
	ent, err := objectAt(doc, SchemaEnterprise)
	if err != nil {
		return nil, err
	}
	for _, f := range []fieldAttr{{"employee_number", "employeeNumber"}, {"department", "department"}} {
		if m.values[f.field], err = stringAt(ent, f.attr, SchemaEnterprise); err != nil {
			return nil, err
		}
	}
	mgr, err := objectAt(ent, "manager", SchemaEnterprise)
	if err != nil {
		return nil, err
	}
	if m.values["manager_id"], err = stringAt(mgr, "value", SchemaEnterprise+":manager"); err != nil {
		return nil, err
	}
	ext, err := objectAt(doc, SchemaHRGate)
	if err != nil {
		return nil, err
	}
	for _, f := range hrgateFields {
		if m.values[f.field], err = stringAt(ext, f.attr, SchemaHRGate); err != nil {
			return nil, err
		}
	}
	for _, c := range hrgateComplex {
		obj, err := objectAt(ext, c.attr, SchemaHRGate)
		if err != nil {
			return nil, err
		}
		for _, f := range c.fields {
			if m.values[f.field], err = stringAt(obj, f.attr, SchemaHRGate+":"+c.attr); err != nil {
				return nil, err
			}
		}
	}
	if err := mapActive(doc, m.values, current); err != nil {
		return nil, err
	}
	return m, nil
}

// mapActive reconciles active with employmentStatus. When both are given
// and disagree, the one that differs from the stored status is the
// client's change; when both differ, the request contradicts itself.
func mapActive(doc document, values map[string]string, current string) error {
	raw, given := doc["active"]
	if !given || raw == nil {
		return nil
	}
	var active bool
	switch v := raw.(type) {
	case bool:
		active = v
	case string: // "True"/"False", as some clients send it
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return invalidValue("active must be true or false.")
		}
		active = b
	default:
		return invalidValue("active must be true or false.")
	}
	status := strings.ToLower(values["employment_status"])
	terminated := string(hrgate.StatusTerminated)
	if status == "" || (status == terminated) != !active {
		switch {
		case status != "" && status != current && (current == terminated) != !active:
			return invalidValue("active and " + SchemaHRGate + ":employmentStatus contradict each other.")
		case status != "" && status != current:
			// employmentStatus changed and active did not: it wins.
			return nil
		}
		switch {
		case !active:
			values["employment_status"] = terminated
		case current == string(hrgate.StatusLeave):
			values["employment_status"] = current
		default:
			values["employment_status"] = string(hrgate.StatusActive)
		}
	}
	return nil
}

// mapEmails maps emails: type work (or no type) is work_email, home is
// personal_email. Other types are refused rather than dropped: hrgate has
// nowhere to keep them, and a silently lost address is worse.
func mapEmails(doc document, values map[string]string) error {
	emails, err := listAt(doc, "emails")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range emails {
		typ, err := stringAt(e, "type", "emails")
		if err != nil {
			return err
		}
		field := ""
		switch strings.ToLower(typ) {
		case "work", "":
			field = "work_email"
		case "home":
			field = "personal_email"
		default:
			return invalidValue("emails: hrgate keeps addresses of type work and home only.")
		}
		if seen[field] {
			return invalidValue("emails: send at most one address of each type.")
		}
		seen[field] = true
		if values[field], err = stringAt(e, "value", "emails"); err != nil {
			return err
		}
	}
	return nil
}

// mapAddress maps the one home address; streetAddress holds line1 and,
// after a line break, line2.
func mapAddress(doc document, values map[string]string) error {
	addrs, err := listAt(doc, "addresses")
	if err != nil {
		return err
	}
	if len(addrs) > 1 {
		return invalidValue("addresses: hrgate keeps one home address; send at most one.")
	}
	if len(addrs) == 0 {
		return nil
	}
	a := addrs[0]
	if typ, err := stringAt(a, "type", "addresses"); err != nil {
		return err
	} else if typ != "" && !strings.EqualFold(typ, "home") {
		return invalidValue("addresses: hrgate keeps the home address only (type home).")
	}
	street, err := stringAt(a, "streetAddress", "addresses")
	if err != nil {
		return err
	}
	street = strings.ReplaceAll(street, "\r\n", "\n")
	line1, line2, _ := strings.Cut(street, "\n")
	if strings.Contains(line2, "\n") {
		return invalidValue("addresses.streetAddress: at most two lines.")
	}
	values["home_address_line1"], values["home_address_line2"] = line1, line2
	for _, f := range []fieldAttr{{"home_address_city", "locality"}, {"home_address_region", "region"},
		{"home_address_postal_code", "postalCode"}, {"home_address_country", "country"}} {
		if values[f.field], err = stringAt(a, f.attr, "addresses"); err != nil {
			return err
		}
	}
	return nil
}

// stringAt reads a string attribute of m; absent and null are "". A JSON
// number is taken as its text (payRate). within names the enclosing
// attribute for messages.
func stringAt(m map[string]any, name string, within ...string) (string, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return "", nil
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", invalidValue(qualified(name, within) + " must be a string.")
}

func objectAt(m map[string]any, name string, within ...string) (map[string]any, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return map[string]any{}, nil
	}
	if o, ok := v.(map[string]any); ok {
		return o, nil
	}
	return nil, invalidValue(qualified(name, within) + " must be an object.")
}

func listAt(m map[string]any, name string) ([]map[string]any, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, invalidValue(name + " must be an array.")
	}
	out := make([]map[string]any, 0, len(list))
	for _, it := range list {
		o, ok := it.(map[string]any)
		if !ok {
			return nil, invalidValue(name + " must be an array of objects.")
		}
		out = append(out, o)
	}
	return out, nil
}

func qualified(name string, within []string) string {
	if len(within) == 0 {
		return name
	}
	sep := "."
	if extensionOf(within[0]) != nil {
		sep = ":"
	}
	return within[0] + sep + name
}

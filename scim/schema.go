// Package scim is hrgate's SCIM 2.0 service provider (RFC 7643, RFC 7644)
// for sources that push people in: the User resource with the enterprise
// extension and an hrgate extension for the other field groups, the
// filter language, PatchOp, Bulk, and the discovery documents. It maps
// every write onto the sync engine (package sources), so that SCIM takes
// the same validated, transactional, change-event-writing path as CSV
// imports and webhooks. Package http authenticates the source and mounts
// Handler under /scim/v2; the mapping is documented in docs/scim.md.
package scim

import "strings"

// Schema and message URNs.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaHRGate     = "urn:hrgate:params:scim:schemas:extension:hrgate:2.0:User"

	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaBulkRequest  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	schemaBulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	schemaSearch       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	schemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaSPConfig     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Attribute types (RFC 7643 §2.3).
const (
	typeString    = "string"
	typeBoolean   = "boolean"
	typeDateTime  = "dateTime"
	typeComplex   = "complex"
	typeReference = "reference"
)

// attr describes one attribute of a schema: what /Schemas publishes, and
// what the filter and PATCH path resolvers and the mapping need.
type attr struct {
	Name        string
	Type        string
	Multi       bool
	Required    bool
	CaseExact   bool
	Mutability  string // readWrite, readOnly, immutable
	Returned    string // default, always, never
	Uniqueness  string // none, server
	Canonical   []string
	Description string
	Sub         []*attr
}

// sub returns the sub-attribute named name, ignoring case.
func (a *attr) sub(name string) *attr {
	for _, s := range a.Sub {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// never reports whether the attribute is never returned: hrgate keeps
// the restricted field groups write-only for a source (docs/scim.md).
func (a *attr) never() bool { return a.Returned == "never" }

// schema is one schema of the User resource.
type schema struct {
	ID          string
	Name        string
	Description string
	Attrs       []*attr
}

func (s *schema) attr(name string) *attr {
	for _, a := range s.Attrs {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

func str(name, desc string) *attr {
	return &attr{Name: name, Type: typeString, Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: desc}
}

func secret(a *attr) *attr {
	a.Returned = "never"
	for _, s := range a.Sub {
		s.Returned = "never"
	}
	return a
}

func complexAttr(name, desc string, subs ...*attr) *attr {
	return &attr{Name: name, Type: typeComplex, Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: desc, Sub: subs}
}

func multi(a *attr) *attr { a.Multi = true; return a }

func canon(a *attr, values ...string) *attr { a.Canonical = values; return a }

func readOnly(a *attr) *attr { a.Mutability = "readOnly"; return a }

// userSchema, enterpriseSchema and hrgateSchema describe what hrgate keeps
// of a User. Attributes of RFC 7643 that hrgate has no field for are not
// listed: a request may carry them, and they are ignored (docs/scim.md).
var (
	userSchema = &schema{ID: SchemaUser, Name: "User", Description: "User Account", Attrs: []*attr{
		{Name: "id", Type: typeString, CaseExact: true, Mutability: "readOnly", Returned: "always", Uniqueness: "server",
			Description: "The hrgate employee id (emp_…)."},
		{Name: "externalId", Type: typeString, CaseExact: true, Mutability: "immutable", Returned: "default", Uniqueness: "server",
			Description: "The source's own id of the person: the employee's remote_id. Generated when the first request leaves it out; it cannot change."},
		{Name: "userName", Type: typeString, Required: true, Mutability: "readWrite", Returned: "default", Uniqueness: "server",
			Description: "The source's login name of the person, unique among the source's users, ignoring case."},
		complexAttr("name", "The person's name.",
			str("givenName", "first_name"), str("familyName", "last_name"), readOnly(str("formatted", "givenName and familyName, derived."))),
		readOnly(str("displayName", "The preferred name, else givenName and familyName; derived.")),
		str("nickName", "preferred_name"),
		str("title", "job_title"),
		{Name: "active", Type: typeBoolean, Mutability: "readWrite", Returned: "default", Uniqueness: "none",
			Description: "false when employment_status is terminated; setting it false terminates the employment."},
		multi(complexAttr("emails", "type work is work_email, type home is personal_email.",
			str("value", "The address."), canon(str("type", "work or home."), "work", "home"),
			&attr{Name: "primary", Type: typeBoolean, Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: "Whether this is the work address."})),
		multi(complexAttr("phoneNumbers", "At most one: phone.",
			str("value", "The number."), str("type", "Any; answered as mobile."),
			&attr{Name: "primary", Type: typeBoolean, Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: "Always true."})),
		multi(complexAttr("addresses", "At most one, type home: home_address.",
			str("streetAddress", "line1, a line break, line2."), str("locality", "city"), str("region", "region"),
			str("postalCode", "postal_code"), str("country", "ISO 3166-1 alpha-2"), canon(str("type", "home."), "home"),
			readOnly(str("formatted", "Derived.")),
			&attr{Name: "primary", Type: typeBoolean, Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: "Always true."})),
		readOnly(complexAttr("meta", "Resource metadata.",
			str("resourceType", "User"), &attr{Name: "created", Type: typeDateTime, Mutability: "readOnly", Returned: "default"},
			&attr{Name: "lastModified", Type: typeDateTime, Mutability: "readOnly", Returned: "default"},
			str("location", "The URI of the resource."), str("version", "The weak ETag."))),
	}}

	enterpriseSchema = &schema{ID: SchemaEnterprise, Name: "EnterpriseUser", Description: "Enterprise User", Attrs: []*attr{
		str("employeeNumber", "employee_number"),
		str("department", "department"),
		complexAttr("manager", "manager_id: value is the SCIM id of another user of the same source.",
			&attr{Name: "value", Type: typeString, CaseExact: true, Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: "The manager's id."},
			readOnly(&attr{Name: "$ref", Type: typeReference, Mutability: "readOnly", Returned: "default", Description: "The manager's URI."}),
			readOnly(str("displayName", "The manager's display name; not returned."))),
	}}

	hrgateSchema = &schema{ID: SchemaHRGate, Name: "HrgateUser", Description: "hrgate's employee field groups that RFC 7643 has no attribute for", Attrs: []*attr{
		canon(str("employmentStatus", "employment_status"), "active", "leave", "terminated"),
		canon(str("employmentType", "employment_type"), "full_time", "part_time", "contractor", "intern", "temporary"),
		str("startDate", "start_date, YYYY-MM-DD"),
		str("terminationDate", "termination_date, YYYY-MM-DD"),
		str("dateOfBirth", "date_of_birth, YYYY-MM-DD"),
		str("gender", "gender"),
		str("maritalStatus", "marital_status"),
		secret(complexAttr("compensation", "Restricted: written, never returned.",
			str("payRate", "pay_rate"), str("payPeriod", "pay_period"), str("payCurrency", "pay_currency"), str("payFrequency", "pay_frequency"))),
		secret(complexAttr("bankAccount", "Restricted: written, never returned.",
			str("bankName", "bank_name"), str("accountHolder", "account_holder"), str("iban", "iban"),
			str("accountNumber", "account_number"), str("routingNumber", "routing_number"))),
		secret(complexAttr("nationalId", "Restricted: written, never returned.",
			str("type", "national_id_type"), str("value", "national_id"))),
	}}

	schemas = []*schema{userSchema, enterpriseSchema, hrgateSchema}
)

// extensions are the schema extensions of User, keyed in a document by URN.
var extensions = []*schema{enterpriseSchema, hrgateSchema}

// extensionOf returns the extension schema whose URN is urn, ignoring
// case.
func extensionOf(urn string) *schema {
	for _, s := range extensions {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

// splitURN splits a path that starts with a schema URN into the schema
// and the rest ("urn:…:User:manager.value" gives the enterprise schema and
// "manager.value"). A path without a URN belongs to the core schema.
func splitURN(path string) (*schema, string, bool) {
	if len(path) < 4 || !strings.EqualFold(path[:4], "urn:") {
		return userSchema, path, true
	}
	for _, s := range schemas {
		if len(path) > len(s.ID) && strings.EqualFold(path[:len(s.ID)], s.ID) && path[len(s.ID)] == ':' {
			return s, path[len(s.ID)+1:], true
		}
	}
	return nil, "", false
}

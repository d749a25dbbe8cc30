package sources

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hrgate/hrgate"
)

// A field is one importable field of the unified model: its canonical
// column name, its group, and how a value is checked and normalised.
// Every value is untrusted input (OWASP API10): it is length-limited,
// refused when it holds control characters or is not UTF-8, and, for
// free text, refused when it starts like a spreadsheet formula.
type field struct {
	name  string
	group hrgate.FieldGroup
	// max is the longest value accepted, in bytes.
	max int
	// check returns the normalised value, or a problem message that never
	// repeats the value.
	check func(v string) (string, string)
	set   func(e *hrgate.Employee, v string)
	get   func(e *hrgate.Employee) string
}

// remoteIDField is the column that names the employee in the source; it
// belongs to no group and is always required.
const remoteIDField = "remote_id"

// maxRemoteID is the longest remote id accepted.
const maxRemoteID = 128

// fields lists the importable fields by canonical name. manager_id is the
// hrgate id of another employee of the same source, which the engine
// checks inside the writing transaction (syncer.checkManagers);
// work_location_id is not importable yet (docs/sources.md).
var fields = func() map[string]*field {
	id, em, co, pe, cp, bk, gv := hrgate.GroupIdentity, hrgate.GroupEmployment, hrgate.GroupContact,
		hrgate.GroupPersonal, hrgate.GroupCompensation, hrgate.GroupBanking, hrgate.GroupGovernmentID
	list := []*field{
		{"employee_number", id, 64, freeText, func(e *hrgate.Employee, v string) { e.Identity.EmployeeNumber = v },
			func(e *hrgate.Employee) string { return e.Identity.EmployeeNumber }},
		{"first_name", id, 100, freeText, func(e *hrgate.Employee, v string) { e.Identity.FirstName = v },
			func(e *hrgate.Employee) string { return e.Identity.FirstName }},
		{"last_name", id, 100, freeText, func(e *hrgate.Employee, v string) { e.Identity.LastName = v },
			func(e *hrgate.Employee) string { return e.Identity.LastName }},
		{"preferred_name", id, 100, freeText, func(e *hrgate.Employee, v string) { e.Identity.PreferredName = v },
			func(e *hrgate.Employee) string { return e.Identity.PreferredName }},
		{"work_email", id, 254, email, func(e *hrgate.Employee, v string) { e.Identity.WorkEmail = v },
			func(e *hrgate.Employee) string { return e.Identity.WorkEmail }},

		{"job_title", em, 200, freeText, func(e *hrgate.Employee, v string) { e.Employment.JobTitle = v },
			func(e *hrgate.Employee) string { return e.Employment.JobTitle }},
		{"department", em, 200, freeText, func(e *hrgate.Employee, v string) { e.Employment.Department = v },
			func(e *hrgate.Employee) string { return e.Employment.Department }},
		{"manager_id", em, 64, employeeID, func(e *hrgate.Employee, v string) { e.Employment.ManagerID = v },
			func(e *hrgate.Employee) string { return e.Employment.ManagerID }},
		{"start_date", em, 10, date, func(e *hrgate.Employee, v string) { e.Employment.StartDate = v },
			func(e *hrgate.Employee) string { return e.Employment.StartDate }},
		{"termination_date", em, 10, date, func(e *hrgate.Employee, v string) { e.Employment.TerminationDate = v },
			func(e *hrgate.Employee) string { return e.Employment.TerminationDate }},
		{"employment_status", em, 16, status, func(e *hrgate.Employee, v string) { e.Employment.Status = hrgate.EmploymentStatus(v) },
			func(e *hrgate.Employee) string { return string(e.Employment.Status) }},
		{"employment_type", em, 16, employmentType, func(e *hrgate.Employee, v string) { e.Employment.Type = hrgate.EmploymentType(v) },
			func(e *hrgate.Employee) string { return string(e.Employment.Type) }},

		{"personal_email", co, 254, email, func(e *hrgate.Employee, v string) { e.Contact.PersonalEmail = v },
			func(e *hrgate.Employee) string { return e.Contact.PersonalEmail }},
		{"phone", co, 32, phone, func(e *hrgate.Employee, v string) { e.Contact.Phone = v },
			func(e *hrgate.Employee) string { return e.Contact.Phone }},
		{"home_address_line1", co, 200, freeText, func(e *hrgate.Employee, v string) { e.Contact.HomeAddress.Line1 = v },
			func(e *hrgate.Employee) string { return e.Contact.HomeAddress.Line1 }},
		{"home_address_line2", co, 200, freeText, func(e *hrgate.Employee, v string) { e.Contact.HomeAddress.Line2 = v },
			func(e *hrgate.Employee) string { return e.Contact.HomeAddress.Line2 }},
		{"home_address_city", co, 100, freeText, func(e *hrgate.Employee, v string) { e.Contact.HomeAddress.City = v },
			func(e *hrgate.Employee) string { return e.Contact.HomeAddress.City }},
		{"home_address_region", co, 100, freeText, func(e *hrgate.Employee, v string) { e.Contact.HomeAddress.Region = v },
			func(e *hrgate.Employee) string { return e.Contact.HomeAddress.Region }},
		{"home_address_postal_code", co, 16, postalCode, func(e *hrgate.Employee, v string) { e.Contact.HomeAddress.PostalCode = v },
			func(e *hrgate.Employee) string { return e.Contact.HomeAddress.PostalCode }},
		{"home_address_country", co, 2, country, func(e *hrgate.Employee, v string) { e.Contact.HomeAddress.Country = v },
			func(e *hrgate.Employee) string { return e.Contact.HomeAddress.Country }},

		{"date_of_birth", pe, 10, date, func(e *hrgate.Employee, v string) { e.Personal.DateOfBirth = v },
			func(e *hrgate.Employee) string { return e.Personal.DateOfBirth }},
		{"gender", pe, 32, freeText, func(e *hrgate.Employee, v string) { e.Personal.Gender = v },
			func(e *hrgate.Employee) string { return e.Personal.Gender }},
		{"marital_status", pe, 32, freeText, func(e *hrgate.Employee, v string) { e.Personal.MaritalStatus = v },
			func(e *hrgate.Employee) string { return e.Personal.MaritalStatus }},

		{"pay_rate", cp, 20, decimal, func(e *hrgate.Employee, v string) { e.Compensation.PayRate = v },
			func(e *hrgate.Employee) string { return e.Compensation.PayRate }},
		{"pay_period", cp, 8, oneOf("hour", "day", "week", "month", "year"), func(e *hrgate.Employee, v string) { e.Compensation.PayPeriod = v },
			func(e *hrgate.Employee) string { return e.Compensation.PayPeriod }},
		{"pay_currency", cp, 3, currency, func(e *hrgate.Employee, v string) { e.Compensation.PayCurrency = v },
			func(e *hrgate.Employee) string { return e.Compensation.PayCurrency }},
		{"pay_frequency", cp, 16, oneOf("weekly", "biweekly", "semimonthly", "monthly"), func(e *hrgate.Employee, v string) { e.Compensation.PayFrequency = v },
			func(e *hrgate.Employee) string { return e.Compensation.PayFrequency }},

		{"bank_name", bk, 200, freeText, func(e *hrgate.Employee, v string) { e.Banking.BankName = v },
			func(e *hrgate.Employee) string { return e.Banking.BankName }},
		{"account_holder", bk, 200, freeText, func(e *hrgate.Employee, v string) { e.Banking.AccountHolder = v },
			func(e *hrgate.Employee) string { return e.Banking.AccountHolder }},
		{"iban", bk, 42, iban, func(e *hrgate.Employee, v string) { e.Banking.IBAN = v },
			func(e *hrgate.Employee) string { return e.Banking.IBAN }},
		{"account_number", bk, 34, accountNumber, func(e *hrgate.Employee, v string) { e.Banking.AccountNumber = v },
			func(e *hrgate.Employee) string { return e.Banking.AccountNumber }},
		{"routing_number", bk, 9, routing, func(e *hrgate.Employee, v string) { e.Banking.RoutingNumber = v },
			func(e *hrgate.Employee) string { return e.Banking.RoutingNumber }},

		{"national_id_type", gv, 20, idType, func(e *hrgate.Employee, v string) { e.GovernmentID.Type = v },
			func(e *hrgate.Employee) string { return e.GovernmentID.Type }},
		{"national_id", gv, 64, nationalID, func(e *hrgate.Employee, v string) { e.GovernmentID.Value = v },
			func(e *hrgate.Employee) string { return e.GovernmentID.Value }},
	}
	m := make(map[string]*field, len(list))
	for _, f := range list {
		m[f.name] = f
	}
	return m
}()

// checkText applies the rules every value obeys: valid UTF-8, no control
// characters (C0, DEL, C1; this includes tab, CR and LF, so a quoted
// field cannot smuggle a line break into a name), and no Unicode format
// characters that reorder or hide text (bidirectional overrides, zero-
// width characters).
func checkText(v string) string {
	// Most values of an import are ASCII: check them byte by byte, and
	// leave the Unicode tables to the rest.
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= utf8.RuneSelf {
			return checkUnicode(v[i:])
		}
		if c < 0x20 || c == 0x7f {
			return "The value holds a control character."
		}
	}
	return ""
}

func checkUnicode(v string) string {
	if !utf8.ValidString(v) {
		return "The value is not valid UTF-8."
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "The value holds a control character."
		}
		if unicode.Is(unicode.Cf, r) {
			return "The value holds an invisible formatting character."
		}
	}
	return ""
}

// CheckFreeText returns why v cannot be stored as free text, or "": the
// rules every value of a source obeys (UTF-8, no control or invisible
// formatting characters, no spreadsheet formula), for values a source
// sends beside the canonical fields (a SCIM userName).
func CheckFreeText(v string) string {
	if p := checkText(v); p != "" {
		return p
	}
	_, p := freeText(v)
	return p
}

// checkRemoteID returns why v cannot be a remote id, or "": it is
// required, at most maxRemoteID bytes, and free text.
func checkRemoteID(v string) string {
	switch {
	case v == "":
		return "The remote id is required."
	case len(v) > maxRemoteID:
		return fmt.Sprintf("The remote id is longer than %d bytes.", maxRemoteID)
	}
	return CheckFreeText(v)
}

// parse returns the normalised form of a value of f that is not empty, or
// why it is refused: it is longer than f.max, breaks the rules every
// value obeys (checkText), or f.check refuses it.
func (f *field) parse(v string) (string, string) {
	if len(v) > f.max {
		return "", fmt.Sprintf("The value is longer than %d bytes.", f.max)
	}
	if p := checkText(v); p != "" {
		return "", p
	}
	return f.check(v)
}

// freeText accepts any text but a formula: a value that starts with =,
// +, -, @ (tab and CR are control characters, refused anyway) would run
// as a formula in the spreadsheet that opens a later CSV export
// (CWE-1236). Refusing it at the edge keeps it out of the store; values
// whose own format allows a leading + or - (phone numbers, decimals) are
// checked by a stricter rule that lets no formula through.
func freeText(v string) (string, string) {
	if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
		return "", "The value starts with =, +, - or @, which a spreadsheet would run as a formula."
	}
	return v, ""
}

func email(v string) (string, string) {
	if v == "" {
		return v, ""
	}
	if _, p := freeText(v); p != "" {
		return "", p
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
		return "", "Not an e-mail address such as ada@example.com."
	}
	return v, ""
}

// employeeID accepts the shape of an hrgate employee id; whether it names
// an employee of the source is checked when the record is written.
func employeeID(v string) (string, string) {
	if v != "" && !hrgate.ValidID(hrgate.PrefixEmployee, v) {
		return "", "Not an hrgate employee id such as emp_…."
	}
	return v, ""
}

func date(v string) (string, string) {
	if v == "" {
		return v, ""
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil || t.Year() < 1900 || t.Year() > 2200 {
		return "", "Not a date written YYYY-MM-DD between 1900 and 2200."
	}
	return v, ""
}

// status normalises an empty status to active: a source that sends the
// employment group without a status sends a current employee.
func status(v string) (string, string) {
	v = strings.ToLower(v)
	if v == "" {
		return string(hrgate.StatusActive), ""
	}
	if !hrgate.EmploymentStatus(v).Valid() {
		return "", "Not an employment status: active, leave or terminated."
	}
	return v, ""
}

func employmentType(v string) (string, string) {
	v = strings.ToLower(v)
	if v != "" && !hrgate.EmploymentType(v).Valid() {
		return "", "Not an employment type: full_time, part_time, contractor, intern or temporary."
	}
	return v, ""
}

func oneOf(allowed ...string) func(string) (string, string) {
	msg := "Not one of " + strings.Join(allowed, ", ") + "."
	return func(v string) (string, string) {
		v = strings.ToLower(v)
		if v == "" {
			return v, ""
		}
		for _, a := range allowed {
			if v == a {
				return v, ""
			}
		}
		return "", msg
	}
}

var (
	phoneRE         = regexp.MustCompile(`^\+?[0-9][0-9 ()./-]{3,30}$`)
	decimalRE       = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,4})?$`)
	postalCodeRE    = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z -]{0,15}$`)
	accountNumberRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z -]{0,33}$`)
	idTypeRE        = regexp.MustCompile(`^[a-z][a-z0-9_]{1,19}$`)
	nationalIDRE    = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z ./-]{0,63}$`)
)

// pattern returns a check by regular expression. The expressions above
// start with a digit or letter (or + before a digit), so no value they
// accept is a formula.
func pattern(re *regexp.Regexp, msg string) func(string) (string, string) {
	return func(v string) (string, string) {
		if v != "" && !re.MatchString(v) {
			return "", msg
		}
		return v, ""
	}
}

var (
	phone         = pattern(phoneRE, "Not a phone number: digits, spaces and ( ) . / -, with an optional leading +.")
	postalCode    = pattern(postalCodeRE, "Not a postal code: letters, digits, spaces and -.")
	accountNumber = pattern(accountNumberRE, "Not an account number: letters, digits, spaces and -.")
	idType        = pattern(idTypeRE, "Not a national id type: a lower-case token such as ssn, nino, steuer_id or nir.")
	nationalID    = pattern(nationalIDRE, "Not a national id: letters, digits, spaces and . / -.")
)

// decimal stores an amount without leading zeros ("085000" as
// "85000"): the API writes pay_rate as a JSON number, and a number with a
// leading zero is not JSON, so the API would answer null for it.
func decimal(v string) (string, string) {
	if v != "" && !decimalRE.MatchString(v) {
		return "", "Not an amount such as 85000 or 42.50 (a dot before at most four decimals, no sign, no thousands separator)."
	}
	if len(v) > 1 && v[0] == '0' {
		v = strings.TrimLeft(v, "0")
		if v == "" || v[0] == '.' {
			v = "0" + v
		}
	}
	return v, ""
}

func country(v string) (string, string) {
	v = strings.ToUpper(v)
	if v != "" && !hrgate.ValidCountry(v) {
		return "", "Not an ISO 3166-1 alpha-2 country code such as DE."
	}
	return v, ""
}

func currency(v string) (string, string) {
	v = strings.ToUpper(v)
	if v != "" && !hrgate.ValidCurrency(v) {
		return "", "Not an ISO 4217 currency code such as EUR."
	}
	return v, ""
}

// iban stores the electronic format: spaces of the paper format removed,
// upper case.
func iban(v string) (string, string) {
	v = strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	if v != "" && !hrgate.ValidIBAN(v) {
		return "", "Not a valid IBAN: unknown country, wrong length or wrong check digits."
	}
	return v, ""
}

func routing(v string) (string, string) {
	if v != "" && !hrgate.ValidABARouting(v) {
		return "", "Not a valid ABA routing number: nine digits with a correct check digit."
	}
	return v, ""
}

// checkRow checks the rules between fields of one employee, for the
// groups the input carries, and returns problems by column.
func checkRow(e *hrgate.Employee, loaded hrgate.GroupSet, today string) []hrgate.RowProblem {
	var ps []hrgate.RowProblem
	if loaded.Has(hrgate.GroupEmployment) {
		m := e.Employment
		if m.StartDate != "" && m.TerminationDate != "" && m.TerminationDate < m.StartDate {
			ps = append(ps, hrgate.RowProblem{Column: "termination_date", Message: "The termination date is before the start date."})
		}
	}
	if loaded.Has(hrgate.GroupPersonal) && e.Personal.DateOfBirth > today {
		ps = append(ps, hrgate.RowProblem{Column: "date_of_birth", Message: "The date of birth is in the future."})
	}
	if loaded.Has(hrgate.GroupGovernmentID) && (e.GovernmentID.Type == "") != (e.GovernmentID.Value == "") {
		ps = append(ps, hrgate.RowProblem{Column: "national_id_type", Message: "A national id needs both national_id_type and national_id."})
	}
	return ps
}

package gate

import (
	"strings"

	"github.com/hrgate/hrgate"
)

// checkSearch authorizes and validates a search by national id or
// personal e-mail. Searching by a field is a way to read it: whether an
// employee with this national id exists is itself government_id data. So a
// search needs the field's group granted in the clear (not masked), and a
// caller without it gets the same refusal whatever the value, before any
// query runs: it learns nothing about the data.
func (r *Reader) checkSearch(f hrgate.EmployeeFilter) error {
	clear := r.p.Grant.EmployeeGroups() &^ r.p.Grant.MaskedGroups()
	if f.NationalID != "" {
		if !clear.Has(hrgate.GroupGovernmentID) {
			return hrgate.Errorf(hrgate.EFORBIDDEN, "Searching by national_id needs the government_id field group (employees:read:government_id).")
		}
		if !validNationalID(f.NationalID) {
			return hrgate.Errorf(hrgate.EINVALID, "national_id must be 1 to %d letters, digits, spaces, '-', '.' or '/', with at least one letter or digit.", maxNationalID)
		}
	}
	if f.PersonalEmail != "" {
		if !clear.Has(hrgate.GroupContact) {
			return hrgate.Errorf(hrgate.EFORBIDDEN, "Searching by personal_email needs the contact field group (employees:read:contact).")
		}
		if !validEmail(f.PersonalEmail) {
			return hrgate.Errorf(hrgate.EINVALID, "personal_email must be an e-mail address (local@domain, at most %d characters, no spaces).", maxEmail)
		}
	}
	return nil
}

// Input limits of the searches: the longest national id format hrgate
// knows is well under 32 characters, and RFC 5321 bounds an address to 254.
const (
	maxNationalID = 64
	maxEmail      = 254
)

func validNationalID(s string) bool {
	if len(s) > maxNationalID {
		return false
	}
	alnum := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			alnum = true
		case c == ' ' || c == '-' || c == '.' || c == '/':
		default:
			return false
		}
	}
	return alnum
}

func validEmail(s string) bool {
	if len(s) < 3 || len(s) > maxEmail {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == ';' {
			return false
		}
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.Contains(s[:at], "@") && !strings.HasPrefix(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

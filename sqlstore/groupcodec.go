package sqlstore

import (
	"encoding/binary"
	"errors"

	"github.com/hrgate/hrgate"
)

// Field groups are stored as opaque byte strings, one column per group.
// The encoding is versioned and compact: a version byte, then every field of
// the group, in a fixed order, as a uvarint length and its bytes. It is
// decoded with one allocation per group (fields are substrings of one
// string), which keeps the hot read path free of a general-purpose JSON
// decoder, and it gives the [encryption] work a plain byte string to seal.
// An empty group still encodes to its version byte and zero lengths, so a
// missing value can always be told from an empty one.
const groupCodecV1 = 1

// maxGroupFields is the largest number of fields a group has (contact:
// two fields and a six-field address).
const maxGroupFields = 8

// groupFields returns pointers to the fields of group g of e, in storage
// order. The order is part of the format: append, never reorder.
func groupFields(e *hrgate.Employee, g hrgate.FieldGroup) ([maxGroupFields]*string, int) {
	var f [maxGroupFields]*string
	switch g {
	case hrgate.GroupIdentity:
		i := &e.Identity
		f = [maxGroupFields]*string{&i.EmployeeNumber, &i.FirstName, &i.LastName, &i.PreferredName, &i.WorkEmail}
		return f, 5
	case hrgate.GroupEmployment:
		m := &e.Employment
		f = [maxGroupFields]*string{&m.JobTitle, &m.Department, &m.ManagerID, &m.WorkLocationID,
			&m.StartDate, &m.TerminationDate, (*string)(&m.Status), (*string)(&m.Type)}
		return f, 8
	case hrgate.GroupContact:
		c, a := &e.Contact, &e.Contact.HomeAddress
		f = [maxGroupFields]*string{&c.PersonalEmail, &c.Phone, &a.Line1, &a.Line2, &a.City, &a.Region, &a.PostalCode, &a.Country}
		return f, 8
	case hrgate.GroupPersonal:
		p := &e.Personal
		f = [maxGroupFields]*string{&p.DateOfBirth, &p.Gender, &p.MaritalStatus}
		return f, 3
	case hrgate.GroupCompensation:
		c := &e.Compensation
		f = [maxGroupFields]*string{&c.PayRate, &c.PayPeriod, &c.PayCurrency, &c.PayFrequency}
		return f, 4
	case hrgate.GroupBanking:
		b := &e.Banking
		f = [maxGroupFields]*string{&b.BankName, &b.AccountHolder, &b.IBAN, &b.AccountNumber, &b.RoutingNumber}
		return f, 5
	case hrgate.GroupGovernmentID:
		n := &e.GovernmentID
		f = [maxGroupFields]*string{&n.Type, &n.Value}
		return f, 2
	}
	return f, 0
}

// encodeGroup returns the stored form of group g of e.
func encodeGroup(e *hrgate.Employee, g hrgate.FieldGroup) []byte {
	fields, n := groupFields(e, g)
	size := 1
	for _, p := range fields[:n] {
		size += binary.MaxVarintLen64 + len(*p)
	}
	out := make([]byte, 1, size)
	out[0] = groupCodecV1
	for _, p := range fields[:n] {
		out = binary.AppendUvarint(out, uint64(len(*p)))
		out = append(out, *p...)
	}
	return out
}

var errCorruptGroup = errors.New("stored field group is corrupt")

// decodeGroup fills group g of e from its stored form. Anything but an
// exact, complete encoding is an error: stored data that does not parse is
// reported, never half-applied.
func decodeGroup(raw []byte, e *hrgate.Employee, g hrgate.FieldGroup) error {
	if len(raw) == 0 || raw[0] != groupCodecV1 {
		return errCorruptGroup
	}
	return decodeGroupFields(string(raw[1:]), e, g) // the fields are substrings of one string
}

// decodeGroupFields fills group g of e from the fields of its stored form,
// the bytes after the version byte. The fields are substrings of s.
func decodeGroupFields(s string, e *hrgate.Employee, g hrgate.FieldGroup) error {
	fields, n := groupFields(e, g)
	for _, p := range fields[:n] {
		l, k := uvarint(s)
		if k <= 0 || l > uint64(len(s)-k) {
			return errCorruptGroup
		}
		*p = s[k : k+int(l)]
		s = s[k+int(l):]
	}
	if s != "" {
		return errCorruptGroup
	}
	return nil
}

// uvarint decodes a uvarint at the start of s, as binary.Uvarint does for
// a byte slice: k is the number of bytes read, 0 when s ends early and
// negative on overflow.
func uvarint(s string) (v uint64, k int) {
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			// Refuse overflow and non-minimal encodings (a zero final
			// byte), so each value has exactly one stored form.
			if (i == binary.MaxVarintLen64-1 && b > 1) || (i > 0 && b == 0) {
				return 0, -(i + 1)
			}
			return v | uint64(b)<<shift, i + 1
		}
		v |= uint64(b&0x7f) << shift
		shift += 7
	}
	if len(s) >= binary.MaxVarintLen64 {
		return 0, -binary.MaxVarintLen64
	}
	return 0, 0
}

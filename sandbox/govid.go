package sandbox

import (
	"strconv"
	"time"

	"github.com/hrgate/hrgate"
)

// nationalID returns the government id of a person of country c with the
// given gender, born on birth, in that country's format.
func (r *rng) nationalID(c country, gender string, birth time.Time) hrgate.NationalID {
	switch c {
	case us:
		return r.ssn()
	case gb:
		return r.nino()
	case de:
		return r.steuerID()
	}
	// The NIR starts with the sex: 1 male, 2 female; other genders get
	// either, as the registry records one of the two.
	sex := 1
	if gender == "female" || gender != "male" && r.IntN(2) == 0 {
		sex = 2
	}
	return r.nir(sex, birth.Year(), int(birth.Month()))
}

// ssnSafeGroups are the group numbers (digits 4–5) that no taxpayer number
// with an area of 900–999 uses today: the IRS issues ITINs with groups
// 50–65, 70–88, 90–92 and 94–99, ATINs with 93 and internal IRSNs with
// 01–10, 17–19, 28–29 and 37–39.
var ssnSafeGroups = []int{
	11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 32, 33, 34, 35, 36,
	40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 66, 67, 68, 69, 89,
}

// ssn returns a US Social Security number that cannot belong to anyone. The
// SSA never issues area numbers 000, 666 or 900–999, so half of the numbers
// use area 666 (which no agency issues at all) and half an area of 900–999
// with a group outside every IRS range, so that they cannot be mistaken for
// a real ITIN either. Groups and serials are never zero, as in real SSNs.
func (r *rng) ssn() hrgate.NationalID {
	area, group := 666, r.between(1, 99)
	if r.IntN(2) == 0 {
		area, group = r.between(900, 999), pick(r, ssnSafeGroups)
	}
	return hrgate.NationalID{
		Type:  "ssn",
		Value: strconv.Itoa(area) + "-" + pad(group, 2) + "-" + pad(r.between(1, 9999), 4),
	}
}

// nino returns a UK National Insurance number with the prefix QQ. HMRC never
// allocates a prefix whose first letter is D, F, I, Q, U or V, and uses
// "QQ 12 34 56 C" in its own examples, so a QQ number is well-formed but
// belongs to nobody.
func (r *rng) nino() hrgate.NationalID {
	return hrgate.NationalID{
		Type: "nino",
		Value: "QQ " + pad(r.IntN(100), 2) + " " + pad(r.IntN(100), 2) + " " + pad(r.IntN(100), 2) +
			" " + string(rune('A'+r.IntN(4))),
	}
}

// steuerID returns a German tax identification number (Steuerliche
// Identifikationsnummer) of 11 digits: the first is not zero and the last is
// the ISO 7064 MOD 11,10 check digit, so format and checksum validators
// accept it.
//
// Real numbers are dense in that space, so a random one would quite likely
// be somebody's. The Bundeszentralamt für Steuern, however, only issues
// numbers whose first ten digits repeat exactly one digit (twice or three
// times); the sandbox's first ten digits are a permutation of 0–9, a pattern
// that is never issued. Validators that also check the digit pattern reject
// these numbers; ELSTER's own test numbers, which start with 0, would be the
// alternative for them.
func (r *rng) steuerID() hrgate.NationalID {
	var d [11]byte
	for i := range 10 {
		d[i] = byte('0' + i)
	}
	r.Shuffle(10, func(i, j int) { d[i], d[j] = d[j], d[i] })
	if d[0] == '0' {
		j := r.between(1, 9)
		d[0], d[j] = d[j], d[0]
	}
	d[10] = steuerIDCheckDigit(d[:10])
	return hrgate.NationalID{Type: "steuer_id", Value: string(d[:])}
}

// steuerIDCheckDigit returns the ISO 7064 MOD 11,10 check digit of ten ASCII
// digits, as an ASCII digit.
func steuerIDCheckDigit(digits []byte) byte {
	product := 10
	for _, c := range digits {
		sum := (int(c-'0') + product) % 10
		if sum == 0 {
			sum = 10
		}
		product = sum * 2 % 11
	}
	check := 11 - product
	if check == 10 {
		check = 0
	}
	return byte('0' + check)
}

// nirDepartments are metropolitan département codes of birth, leaving out
// the Corsican ones whose letters (2A, 2B) need special handling in the key.
var nirDepartments = []int{1, 6, 13, 14, 21, 29, 31, 33, 34, 35, 38, 44, 57, 59, 62, 67, 69, 75, 76, 77, 78, 91, 92, 93, 94, 95}

// nir returns a French social security number (NIR) for a person of the
// given sex (1 male, 2 female) born in year and month: sex, two-digit year,
// month, département and commune of birth, order number and the key 97 −
// (first 13 digits mod 97), written "1 85 05 75 000 123 45".
//
// The numbers are well-formed (digits, plausible date and département, valid
// key) yet can never be real: INSEE numbers the communes of each
// département from 001, so the commune code 000 used here does not exist.
// Département 99 would have been the obvious choice but is real: it is the
// code of everybody born abroad.
func (r *rng) nir(sex, year, month int) hrgate.NationalID {
	dep := pick(r, nirDepartments)
	order := r.between(1, 999)
	n13 := int64(sex)*1e12 + int64(year%100)*1e10 + int64(month)*1e8 + int64(dep)*1e6 + int64(order)
	key := 97 - n13%97
	return hrgate.NationalID{
		Type: "nir",
		Value: strconv.Itoa(sex) + " " + pad(year%100, 2) + " " + pad(month, 2) + " " + pad(dep, 2) +
			" 000 " + pad(order, 3) + " " + pad(int(key), 2),
	}
}

package hrgate

// This file holds the check-digit algorithms of the bank identifiers in the
// unified model. They let sources reject mistyped IBANs and routing numbers
// at the edge, and let the sandbox generate fake numbers that still pass the
// validators integrations run against real data.

// ibanLengths is the length of a complete IBAN per country, from the SWIFT
// IBAN registry (ISO 13616). A country missing here has no IBAN, so an IBAN
// that claims it is rejected.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16,
	"BG": 22, "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28,
	"CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
	"FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
	"GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21,
	"LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
	"PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24,
	"SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24,
	"XK": 20,
}

// ValidIBAN reports whether s is an IBAN of a known country with that
// country's length and correct ISO 7064 MOD 97-10 check digits. Spaces, as
// in the paper format "GB82 WEST 1234 5698 7654 32", are ignored; any other
// character must be a digit or an upper-case ASCII letter, because the
// electronic format of ISO 13616 is upper case and accepting lower case
// would let two spellings of one account disagree in a blind index.
func ValidIBAN(s string) bool {
	var buf [34]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		if !isDigitByte(c) && !isUpperByte(c) {
			return false
		}
		if n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	iban := buf[:n]
	if n < 4 || !isUpperByte(iban[0]) || !isUpperByte(iban[1]) || !isDigitByte(iban[2]) || !isDigitByte(iban[3]) {
		return false
	}
	if want, ok := ibanLengths[string(iban[:2])]; !ok || n != want {
		return false
	}
	// Check digits 00, 01 and 99 never result from the algorithm; 99 would
	// otherwise pass as an alias of 02.
	if cd := int(iban[2]-'0')*10 + int(iban[3]-'0'); cd < 2 || cd > 98 {
		return false
	}
	return ibanMod97(iban[4:], iban[:4]) == 1
}

// IBANCheckDigits returns the two check digits of the IBAN made of the
// country code and the BBAN, so that country + digits + bban is valid. The
// country must have IBANs and the BBAN must be upper-case letters and digits
// of the country's length; anything else is an EINVALID error.
func IBANCheckDigits(country, bban string) (string, error) {
	want, ok := ibanLengths[country]
	if !ok {
		return "", Errorf(EINVALID, "IBAN country %q is unknown.", country)
	}
	if len(bban)+4 != want {
		return "", Errorf(EINVALID, "A %s BBAN has %d characters, not %d.", country, want-4, len(bban))
	}
	for i := 0; i < len(bban); i++ {
		if !isDigitByte(bban[i]) && !isUpperByte(bban[i]) {
			return "", Errorf(EINVALID, "A BBAN holds only digits and upper-case letters.")
		}
	}
	cd := 98 - ibanMod97([]byte(bban), []byte(country+"00"))
	return string([]byte{byte('0' + cd/10), byte('0' + cd%10)}), nil
}

// ibanMod97 returns the remainder modulo 97 of the number spelt by rest
// followed by head, letters counting as two digits (A=10 ... Z=35), which is
// ISO 13616's rearranged form. It works digit by digit so that IBANs of any
// length fit in an int.
func ibanMod97(rest, head []byte) int {
	r := 0
	for _, part := range [2][]byte{rest, head} {
		for _, c := range part {
			if isDigitByte(c) {
				r = (r*10 + int(c-'0')) % 97
			} else {
				r = (r*100 + int(c-'A') + 10) % 97
			}
		}
	}
	return r
}

// ValidABARouting reports whether s is nine ASCII digits whose ABA checksum,
// 3×(d1+d4+d7) + 7×(d2+d5+d8) + (d3+d6+d9), is a multiple of ten. It does not
// tell whether a bank uses the number.
func ValidABARouting(s string) bool {
	if len(s) != 9 {
		return false
	}
	for i := 0; i < 9; i++ {
		if !isDigitByte(s[i]) {
			return false
		}
	}
	return (abaSum(s[:8])+int(s[8]-'0'))%10 == 0
}

// ABACheckDigit returns the ninth digit, as an ASCII character, that makes
// first8 followed by it a valid ABA routing number. first8 must be eight
// ASCII digits; anything else is an EINVALID error.
func ABACheckDigit(first8 string) (byte, error) {
	if len(first8) != 8 {
		return 0, Errorf(EINVALID, "A routing number prefix has 8 digits, not %d.", len(first8))
	}
	for i := 0; i < 8; i++ {
		if !isDigitByte(first8[i]) {
			return 0, Errorf(EINVALID, "A routing number holds only digits.")
		}
	}
	return byte('0' + (10-abaSum(first8)%10)%10), nil
}

// abaWeights are the ABA weights of the first eight digits; the ninth has
// weight 1.
var abaWeights = [8]int{3, 7, 1, 3, 7, 1, 3, 7}

// abaSum returns the weighted sum of eight ASCII digits.
func abaSum(first8 string) int {
	sum := 0
	for i, w := range abaWeights {
		sum += w * int(first8[i]-'0')
	}
	return sum
}

// isDigitByte and isUpperByte classify ASCII bytes; identifiers are ASCII by
// definition, so no Unicode digit or letter may pass.
func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
func isUpperByte(c byte) bool { return c >= 'A' && c <= 'Z' }

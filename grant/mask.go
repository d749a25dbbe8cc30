package grant

import (
	"unicode"
	"unicode/utf8"
)

// maskReveal is how many trailing letters and digits Mask leaves readable,
// and maskMinimum the fewest a value must have for any to be revealed: in a
// shorter value, four characters are too large a share of the secret.
const (
	maskReveal  = 4
	maskMinimum = 8
)

// Mask hides every letter and digit of s with '*' except the last four, and
// keeps punctuation and spaces so that the shape stays recognisable:
// "123-45-6789" becomes "***-**-6789". A value with fewer than eight letters
// and digits becomes "****", whatever its length and punctuation. Mask works on runes; combining marks and
// bytes that are not valid UTF-8 (most likely letters in a legacy encoding)
// are hidden like letters, and the result is always valid UTF-8.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return string(appendMask(make([]byte, 0, len(s)), s, false))
}

// asciiSecret marks the ASCII letters and digits, the characters Mask
// hides; a table keeps the common all-ASCII value off the unicode tables.
var asciiSecret = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return t
}()

// secret reports whether Mask hides the non-ASCII rune r decoded with the
// given size.
func secret(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return true
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// appendMask appends s masked, as raw UTF-8 or, when inJSON, as the inside
// of a JSON string.
func appendMask(dst []byte, s string, inJSON bool) []byte {
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiSecret[c] {
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if secret(r, size) {
			n++
		}
		i += size
	}
	if n < maskMinimum {
		// Nothing would be revealed, so reveal nothing: not the length,
		// not the punctuation ("****" for "male" and "female" alike).
		return append(dst, "****"...)
	}
	hide := n - maskReveal
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch {
			case asciiSecret[c] && hide > 0:
				hide--
				dst = append(dst, '*')
			case !inJSON || jsonSafe[c]:
				dst = append(dst, c)
			default:
				dst = appendEscapedASCII(dst, c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if hide > 0 && secret(r, size) {
			hide--
			r = '*'
		}
		if inJSON {
			dst = appendRune(dst, r)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// appendMaskedString appends Mask(s) as a JSON string.
func appendMaskedString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendMask(dst, s, true)
	return append(dst, '"')
}

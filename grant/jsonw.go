package grant

import (
	"time"
	"unicode/utf8"
)

// A hand-written JSON writer: the projection runs for every employee of
// every page, webhook and export, and encoding/json's reflection costs
// several times more. Everything it writes must still decode with any JSON
// parser, whatever bytes a source stored.

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes copied verbatim into a JSON string. '<',
// '>' and '&' are escaped as encoding/json does, so that a value a consumer
// pastes into HTML or a script cannot close the element around it.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendEscapedASCII appends the escape sequence of an ASCII byte that is not
// jsonSafe.
func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendString appends s as a JSON string. Invalid UTF-8 bytes become
// U+FFFD, one per byte, and U+2028 and U+2029 are escaped because
// JavaScript before ES2019 reads them as line ends inside string literals.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendRune appends r, as it would appear inside a JSON string; r ==
// utf8.RuneError stands for an invalid byte as well as for U+FFFD, which are
// written alike.
func appendRune(dst []byte, r rune) []byte {
	switch {
	case r < utf8.RuneSelf:
		if jsonSafe[r] {
			return append(dst, byte(r))
		}
		return appendEscapedASCII(dst, byte(r))
	case r == utf8.RuneError:
		return append(dst, `\ufffd`...)
	case r == '\u2028' || r == '\u2029':
		return append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
	}
	return utf8.AppendRune(dst, r)
}

// maxDecimalLen bounds the decimals written as numbers. Longer digit strings
// are valid JSON but overflow the float64 most decoders use, which would
// make the whole document fail to decode for the consumer.
const maxDecimalLen = 40

// appendDecimal appends the decimal string s as a JSON number, or null when
// s is empty or not a plain decimal (^-?(0|[1-9][0-9]*)(\.[0-9]+)?$). A bad
// value in the store must never make the output invalid JSON.
func appendDecimal(dst []byte, s string) []byte {
	if !validDecimal(s) {
		return append(dst, "null"...)
	}
	return append(dst, s...)
}

func validDecimal(s string) bool {
	if len(s) == 0 || len(s) > maxDecimalLen {
		return false
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	switch {
	case i == len(s):
		return false
	case s[i] == '0':
		i++
	default:
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' {
		return false
	}
	i++
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendTime appends t as a JSON string (see appendTimeText), or null when
// appendTimeText cannot write it.
func appendTime(dst []byte, t time.Time) []byte {
	if !timeOK(t) {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = appendTimeText(dst, t)
	return append(dst, '"')
}

// timeOK reports whether appendTimeText can write t: it is set and its UTC
// year has RFC 3339's four digits.
func timeOK(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	year := t.UTC().Year()
	return year >= 0 && year <= 9999
}

// appendTimeText appends t, which must satisfy timeOK, in UTC as RFC 3339
// with milliseconds ("2006-01-02T15:04:05.000Z"). It writes the digits
// itself because time.AppendFormat is otherwise the slowest part of a
// projection.
func appendTimeText(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

package grant_test

import (
	"testing"
	"unicode/utf8"

	"github.com/hrgate/hrgate/grant"
)

func TestMask(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"Empty", "", ""},
		{"SSN", "123-45-6789", "***-**-6789"},
		{"IBAN", "DE89370400440532013000", "******************3000"},
		{"IBANSpaced", "DE89 3704 0044 0532 0130 00", "**** **** **** **** **30 00"},
		{"ExactlyEight", "12345678", "****5678"},
		{"SevenHidesAll", "1234567", "****"},
		{"ShortHidesAll", "ab-1", "****"},
		{"ShortHidesLength", "female", "****"},
		{"OnlyPunctuation", "--/--", "****"},
		{"Email", "jane.doe@acme.example", "****.***@****.***mple"},
		{"Unicode", "Jürgen Müller", "****** **ller"},
		{"CJK", "山田太郎山田太郎", "****山田太郎"},
		{"CombiningMarks", "Jose\u0301 Garcia", "***** **rcia"},
		{"InvalidUTF8Hidden", "M\xfcller Schmidt", "****** ***midt"},
		{"InvalidUTF8Revealed", "12345678\xff", "*****678\ufffd"},
		{"ArabicDigits", "١٢٣٤٥٦٧٨٩", "*****٦٧٨٩"},
		{"SymbolsKept", "€ 1.234.567,89", "€ *.***.*67,89"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := grant.Mask(tt.in)
			if got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Mask(%q) = %q is not valid UTF-8", tt.in, got)
			}
		})
	}
}

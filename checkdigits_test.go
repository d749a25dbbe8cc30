package hrgate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
)

// publicIBANs are the example IBANs that banks and the SWIFT IBAN registry
// publish; they belong to no customer.
var publicIBANs = []struct {
	name string
	iban string
}{
	{"GB", "GB82WEST12345698765432"},
	{"DE", "DE89370400440532013000"},
	{"FR", "FR1420041010050500013M02606"},
	{"NL", "NL91ABNA0417164300"},
	{"ES", "ES9121000418450200051332"},
	{"IT", "IT60X0542811101000000123456"},
	{"CH", "CH9300762011623852957"},
	{"IE", "IE29AIBK93115212345678"},
	{"BE", "BE68539007547034"},
	{"AT", "AT611904300234573201"},
	{"NO", "NO9386011117947"},
	{"MT", "MT84MALT011000012345MTLCAST001S"},
}

func TestValidIBAN(t *testing.T) {
	for _, tc := range publicIBANs {
		t.Run("OK/"+tc.name, func(t *testing.T) {
			if !hrgate.ValidIBAN(tc.iban) {
				t.Errorf("ValidIBAN(%q) = false, want true", tc.iban)
			}
		})
	}

	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"OKPaperFormat", "GB82 WEST 1234 5698 7654 32", true},
		{"OKOddSpacing", " DE89 3704 0044 0532 0130 00 ", true},
		{"ErrEmpty", "", false},
		{"ErrOnlySpaces", "    ", false},
		{"ErrCountryOnly", "GB", false},
		{"ErrDigitChanged", "GB82WEST12345698765433", false},
		{"ErrCheckDigitsChanged", "GB83WEST12345698765432", false},
		{"ErrAdjacentSwap", "GB82WEST12345698765423", false},
		{"ErrLetterChanged", "GB82WESU12345698765432", false},
		{"ErrLowerCase", "gb82west12345698765432", false},
		{"ErrLowerCaseBBAN", "FR1420041010050500013m02606", false},
		{"ErrTooShort", "GB82WEST1234569876543", false},
		{"ErrTooLong", "DE893704004405320130000", false},
		{"ErrUnknownCountry", "XX82WEST12345698765432", false},
		{"ErrDigitsForCountry", "1282WEST12345698765432", false},
		{"ErrLettersForCheckDigits", "GBXXWEST12345698765432", false},
		{"ErrTab", "GB82\tWEST12345698765432", false},
		{"ErrDash", "GB82-WEST-1234-5698-7654-32", false},
		{"ErrNonASCIIDigit", "GB82WEST1234569876543٢", false},
		{"ErrWayTooLong", strings.Repeat("GB82WEST12345698765432", 3), false},
		{"ErrOtherCountryLength", "NL82WEST12345698765432", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hrgate.ValidIBAN(tc.in); got != tc.want {
				t.Errorf("ValidIBAN(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidIBAN_EverySingleDigitMutationFails(t *testing.T) {
	// MOD 97-10 catches every single-character substitution; the test proves
	// the implementation keeps that guarantee for the public examples.
	for _, tc := range publicIBANs {
		for i := 2; i < len(tc.iban); i++ {
			for _, c := range "0123456789" {
				if byte(c) == tc.iban[i] || tc.iban[i] < '0' || tc.iban[i] > '9' {
					continue
				}
				mutated := tc.iban[:i] + string(c) + tc.iban[i+1:]
				if hrgate.ValidIBAN(mutated) {
					t.Errorf("ValidIBAN(%q) = true for a mutation of %q", mutated, tc.iban)
				}
			}
		}
	}
}

func TestValidIBAN_RejectsCheckDigitAliases(t *testing.T) {
	// Check digits 99 leave the same remainder as 02, and 00/01 as 97/98;
	// ISO 7064 only ever produces 02..98, so the aliases must fail.
	for account := 0; account < 100000; account++ {
		bban := fmt.Sprintf("WEST123456%08d", account)
		cd, err := hrgate.IBANCheckDigits("GB", bban)
		if err != nil {
			t.Fatal(err)
		}
		var alias string
		switch cd {
		case "02":
			alias = "99"
		case "97":
			alias = "00"
		case "98":
			alias = "01"
		default:
			continue
		}
		if !hrgate.ValidIBAN("GB" + cd + bban) {
			t.Fatalf("ValidIBAN(GB%s%s) = false", cd, bban)
		}
		if hrgate.ValidIBAN("GB" + alias + bban) {
			t.Errorf("ValidIBAN(GB%s%s) = true, want false for alias of %s", alias, bban, cd)
		}
	}
}

func TestIBANCheckDigits(t *testing.T) {
	for _, tc := range publicIBANs {
		t.Run("OK/"+tc.name, func(t *testing.T) {
			got, err := hrgate.IBANCheckDigits(tc.iban[:2], tc.iban[4:])
			if err != nil {
				t.Fatalf("IBANCheckDigits: %v", err)
			}
			if got != tc.iban[2:4] {
				t.Errorf("IBANCheckDigits(%q, %q) = %q, want %q", tc.iban[:2], tc.iban[4:], got, tc.iban[2:4])
			}
		})
	}

	errs := []struct {
		name, country, bban string
	}{
		{"ErrUnknownCountry", "XX", "WEST12345698765432"},
		{"ErrLowerCountry", "gb", "WEST12345698765432"},
		{"ErrShortBBAN", "GB", "WEST1234569876543"},
		{"ErrLongBBAN", "DE", "3704004405320130001"},
		{"ErrLowerBBAN", "GB", "west12345698765432"},
		{"ErrSpaceInBBAN", "GB", "WEST 1234569876543"},
		{"ErrEmpty", "", ""},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hrgate.IBANCheckDigits(tc.country, tc.bban)
			if code := hrgate.ErrorCode(err); code != hrgate.EINVALID {
				t.Errorf("IBANCheckDigits(%q, %q) error code = %q, want %q (err %v)", tc.country, tc.bban, code, hrgate.EINVALID, err)
			}
		})
	}
}

func TestValidABARouting(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		// Routing numbers of Federal Reserve banks and large banks, printed
		// on public deposit instructions.
		{"OKFedBoston", "011000015", true},
		{"OKChaseNY", "021000021", true},
		{"OKBofACA", "121000358", true},
		{"OKBofANY", "026009593", true},
		{"ErrLastDigit", "021000022", false},
		{"ErrFirstDigit", "121000021", false},
		{"ErrSwap", "012000021", false},
		{"ErrShort", "02100002", false},
		{"ErrLong", "0210000210", false},
		{"ErrLetter", "02100002A", false},
		{"ErrDash", "0210-00021", false},
		{"ErrEmpty", "", false},
		{"ErrNonASCIIDigit", "02100002١", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hrgate.ValidABARouting(tc.in); got != tc.want {
				t.Errorf("ValidABARouting(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestABACheckDigit(t *testing.T) {
	tests := []struct {
		name   string
		first8 string
		want   byte
	}{
		{"OKFedBoston", "01100001", '5'},
		{"OKChaseNY", "02100002", '1'},
		{"OKBofACA", "12100035", '8'},
		{"OKZeroSum", "00000000", '0'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hrgate.ABACheckDigit(tc.first8)
			if err != nil {
				t.Fatalf("ABACheckDigit(%q): %v", tc.first8, err)
			}
			if got != tc.want {
				t.Errorf("ABACheckDigit(%q) = %q, want %q", tc.first8, got, tc.want)
			}
			if !hrgate.ValidABARouting(tc.first8 + string(got)) {
				t.Errorf("ValidABARouting(%q) = false", tc.first8+string(got))
			}
		})
	}

	for _, in := range []string{"", "0110000", "011000015", "0110000A", "0110 001"} {
		t.Run("Err/"+in, func(t *testing.T) {
			if _, err := hrgate.ABACheckDigit(in); hrgate.ErrorCode(err) != hrgate.EINVALID {
				t.Errorf("ABACheckDigit(%q) error = %v, want EINVALID", in, err)
			}
		})
	}
}

func FuzzValidIBAN(f *testing.F) {
	for _, tc := range publicIBANs {
		f.Add(tc.iban)
	}
	f.Add("GB82 WEST 1234 5698 7654 32")
	f.Add("")
	f.Add("GB99")
	f.Add(strings.Repeat(" ", 40))
	f.Fuzz(func(t *testing.T, s string) {
		if !hrgate.ValidIBAN(s) {
			return
		}
		// Whatever passes must be a self-consistent IBAN: its check digits
		// are the ones IBANCheckDigits computes for its country and BBAN.
		compact := strings.ReplaceAll(s, " ", "")
		cd, err := hrgate.IBANCheckDigits(compact[:2], compact[4:])
		if err != nil {
			t.Fatalf("ValidIBAN(%q) = true but IBANCheckDigits fails: %v", s, err)
		}
		if cd != compact[2:4] {
			t.Fatalf("ValidIBAN(%q) = true but check digits should be %s", s, cd)
		}
	})
}

package sandbox

import (
	"strconv"

	"github.com/hrgate/hrgate"
)

// Bank names are invented. Routing numbers, sort codes, BLZ and French bank
// codes identify banks, not people, and are public; account numbers are
// random and never come with a real holder's name, so no generated account
// can be used or traced.

var usBanks = []string{
	"First National Bank of Springfield", "Lakeshore Community Bank", "Summit Savings Bank",
	"Heartland Trust Bank", "Riverbend National Bank", "Pioneer Federal Credit Union",
	"Granite Peak Bank", "Bayside Federal Savings",
}

// usRoutingPrefixes are the first two digits of routing numbers of
// commercial banks (01–12, the Federal Reserve district) and thrifts
// (21–32), so generated numbers look like those of ordinary banks.
var usRoutingPrefixes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

type gbBank struct{ name, code string }

// gbBanks carry the four-letter bank code that a GB IBAN takes from the
// bank's BIC.
var gbBanks = []gbBank{
	{"Albion Bank", "ALBN"}, {"Thameside Building Society", "THBS"}, {"Northgate Bank", "NGTB"},
	{"Pennine Savings Bank", "PNSB"}, {"Highland & Borders Bank", "HBBK"},
}

var deBanks = []string{
	"Sparkasse Musterstadt", "Volksbank Musterhausen eG", "Musterbank AG",
	"Raiffeisenbank Beispielheim eG", "Stadtsparkasse Neustadt",
}

var frBanks = []string{
	"Banque de l'Estuaire", "Crédit Provincial du Centre", "Banque Populaire des Collines",
	"Caisse Régionale des Vignes", "Banque Exemple",
}

// bankAccount returns an account for holder in country c: an ABA routing
// number with a valid check digit and a 10–12 digit account number in the
// US, an IBAN with valid check digits and the national BBAN layout in GB,
// DE and FR.
func (r *rng) bankAccount(c country, holder string) hrgate.BankAccount {
	b := hrgate.BankAccount{AccountHolder: holder}
	switch c {
	case us:
		b.BankName = pick(r, usBanks)
		first8 := pad(pick(r, usRoutingPrefixes), 2) + r.digits(6)
		check, err := hrgate.ABACheckDigit(first8)
		if err != nil {
			panic("sandbox: " + err.Error()) // first8 is eight digits by construction
		}
		b.RoutingNumber = first8 + string(check)
		b.AccountNumber = strconv.Itoa(r.between(1, 9)) + r.digits(r.between(9, 11))
	case gb:
		bank := pick(r, gbBanks)
		b.BankName = bank.name
		// Bank code, six-digit sort code, eight-digit account number.
		b.IBAN = iban("GB", bank.code+r.digits(6)+r.digits(8))
	case de:
		b.BankName = pick(r, deBanks)
		// Eight-digit Bankleitzahl, whose first digit (1–8) is the clearing
		// area, then a ten-digit account number.
		b.IBAN = iban("DE", strconv.Itoa(r.between(1, 8))+r.digits(7)+r.digits(10))
	case fr:
		b.BankName = pick(r, frBanks)
		b.IBAN = iban("FR", r.frRIB())
	}
	return b
}

// frRIB returns a French BBAN: five-digit code banque, five-digit code
// guichet, eleven-digit account number and the two-digit clé RIB, which is
// 97 − ((89 × banque + 15 × guichet + 3 × compte) mod 97) so that French
// validators that check the RIB accept it too.
func (r *rng) frRIB() string {
	bank, branch, account := r.between(10000, 99999), r.IntN(100000), r.Int64N(100_000_000_000)
	key := 97 - (89*int64(bank)+15*int64(branch)+3*account)%97
	return pad(bank, 5) + pad(branch, 5) + pad64(account, 11) + pad(int(key), 2)
}

// iban returns the IBAN of country and bban. The BBANs built here always
// have the country's length, so an error is a bug.
func iban(country, bban string) string {
	cd, err := hrgate.IBANCheckDigits(country, bban)
	if err != nil {
		panic("sandbox: " + err.Error())
	}
	return country + cd + bban
}

// digits returns n random decimal digits.
func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// pad64 is pad for int64.
func pad64(n int64, width int) string {
	s := strconv.FormatInt(n, 10)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

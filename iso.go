package hrgate

import "strings"

// This file holds the code lists sources validate against: ISO 3166-1
// alpha-2 country codes and ISO 4217 currency codes. They are data, kept
// here rather than in a dependency, because they change rarely and a
// source must refuse an unknown code before it is stored.

// isoCountries are the officially assigned ISO 3166-1 alpha-2 codes, plus
// XK (Kosovo), a user-assigned code that the European Commission, SWIFT
// and the IBAN registry use.
var isoCountries = codeSet(`
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
XK
YE YT
ZA ZM ZW`)

// isoCurrencies are the ISO 4217 codes of currencies people are paid in:
// the active codes as of 2026, without the fund codes (BOV, CHE, CHW, CLF,
// COU, MXV, USN, UYI, UYW), precious metals, SDR and the test and
// "no currency" codes, and without currencies their country has replaced
// (HRK, BGN, SLL, ZWL, ANG).
var isoCurrencies = codeSet(`
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL
BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP
DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP
SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND
VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG`)

func codeSet(s string) map[string]bool {
	out := make(map[string]bool)
	for _, c := range strings.Fields(s) {
		out[c] = true
	}
	return out
}

// ValidCountry reports whether s is an ISO 3166-1 alpha-2 country code,
// in upper case.
func ValidCountry(s string) bool { return len(s) == 2 && isoCountries[s] }

// ValidCurrency reports whether s is the upper-case ISO 4217 code of a
// currency people are paid in.
func ValidCurrency(s string) bool { return len(s) == 3 && isoCurrencies[s] }

package sandbox

import (
	"strconv"

	"github.com/hrgate/hrgate"
)

// level is an employee's place in the hierarchy; it drives title and pay.
type level int

const (
	levelCEO level = iota
	levelHead
	levelManager
	levelIC
)

// Seniorities of individual contributors, the second axis of title and pay.
const (
	junior = iota
	mid
	senior
	staff
	numSeniorities
)

// band is a pay range, in whole currency units per year for salaries and in
// cents for hourly and daily rates.
type band struct{ lo, hi int }

// salaryBands are yearly base salaries by country, in the country's
// currency. They follow the usual ratios between the four markets (US
// highest, France lowest) without claiming to be survey data.
var salaryBands = [numCountries]struct {
	ic                 [numSeniorities]band
	manager, head, ceo band
}{
	us: {ic: [4]band{{60000, 90000}, {80000, 125000}, {110000, 160000}, {140000, 180000}},
		manager: band{130000, 210000}, head: band{190000, 320000}, ceo: band{280000, 400000}},
	gb: {ic: [4]band{{28000, 42000}, {38000, 60000}, {55000, 85000}, {75000, 105000}},
		manager: band{70000, 110000}, head: band{100000, 170000}, ceo: band{160000, 260000}},
	de: {ic: [4]band{{42000, 55000}, {52000, 70000}, {65000, 90000}, {85000, 110000}},
		manager: band{80000, 120000}, head: band{110000, 170000}, ceo: band{170000, 280000}},
	fr: {ic: [4]band{{32000, 42000}, {40000, 55000}, {52000, 72000}, {68000, 90000}},
		manager: band{65000, 95000}, head: band{90000, 150000}, ceo: band{150000, 240000}},
}

// salaryFloors are the lowest yearly salaries paid full time, rounded up
// from each country's statutory minimum wage (federal US minimum aside,
// which few employers of this kind pay), so that the department factor
// cannot push a salary below what the law allows.
var salaryFloors = [numCountries]int{us: 32000, gb: 24500, de: 27000, fr: 22000}

// hourlyBands are hourly rates in cents. The lower bounds sit above each
// country's statutory minimum wage, except for French interns, whose
// "gratification de stage" has its own, lower legal floor.
var hourlyBands = [numCountries]struct{ partTime, temporary, intern band }{
	us: {band{1800, 5500}, band{1700, 4000}, band{1800, 3200}},
	gb: {band{1250, 3500}, band{1250, 2500}, band{1250, 1800}},
	de: {band{1400, 4000}, band{1350, 2800}, band{1300, 1800}},
	fr: {band{1250, 3200}, band{1200, 2400}, band{450, 700}},
}

// contractorRates are what contractors bill, in cents: by the hour in the
// US, by the day in Europe, where day rates are the norm.
var contractorRates = [numCountries]struct {
	period string
	rate   band
}{
	us: {"hour", band{5500, 15000}},
	gb: {"day", band{35000, 75000}},
	de: {"day", band{45000, 90000}},
	fr: {"day", band{40000, 80000}},
}

var (
	currencies     = [numCountries]string{us: "USD", gb: "GBP", de: "EUR", fr: "EUR"}
	payFrequencies = [numCountries]string{us: "biweekly", gb: "monthly", de: "monthly", fr: "monthly"}
)

// compensation returns the pay of an employee of country c at level lvl
// (seniority for individual contributors) with employment type t in a
// department whose market pays factor percent of the band.
func (r *rng) compensation(c country, lvl level, seniority int, t hrgate.EmploymentType, factor int) hrgate.Compensation {
	comp := hrgate.Compensation{PayCurrency: currencies[c], PayFrequency: payFrequencies[c]}
	switch t {
	case hrgate.TypePartTime, hrgate.TypeTemporary, hrgate.TypeIntern:
		hb := hourlyBands[c]
		b := hb.partTime
		if t == hrgate.TypeTemporary {
			b = hb.temporary
		} else if t == hrgate.TypeIntern {
			b = hb.intern
		}
		comp.PayPeriod = "hour"
		// The department factor never takes a rate below the band, whose
		// floor is the legal minimum.
		comp.PayRate = cents(max(b.lo, roundTo(r.between(b.lo, b.hi)*factor/100, 25)))
	case hrgate.TypeContractor:
		cr := contractorRates[c]
		comp.PayPeriod = cr.period
		step := 500 // hourly rates end in .00 or .50 ...
		if cr.period == "day" {
			step = 2500 // ... day rates in whole 25s.
		}
		comp.PayRate = cents(roundTo(r.between(cr.rate.lo, cr.rate.hi)*factor/100, step))
	default:
		sb := &salaryBands[c]
		var b band
		switch lvl {
		case levelCEO:
			b, factor = sb.ceo, 100
		case levelHead:
			b, factor = sb.head, 100
		case levelManager:
			b = sb.manager
		default:
			b = sb.ic[seniority]
		}
		comp.PayPeriod = "year"
		pay := max(salaryFloors[c], roundTo(r.between(b.lo, b.hi)*factor/100, 500))
		comp.PayRate = strconv.Itoa(pay) + ".00"
	}
	return comp
}

// roundTo rounds n to the nearest multiple of step, as pay is set in round
// figures.
func roundTo(n, step int) int { return (n + step/2) / step * step }

// cents formats an amount in cents as a decimal with two places.
func cents(n int) string { return strconv.Itoa(n/100) + "." + pad(n%100, 2) }

package sandbox

import (
	"strconv"

	"github.com/hrgate/hrgate"
)

// city is a real city with what a local address in it needs. Real cities
// and street names make addresses look right; the house numbers are random,
// and none of the other personal fields tie a person to them.
type city struct {
	name   string
	region string // US state code, German Land, French région; empty in GB

	zip3 string // US: the first three ZIP digits of the city
	npa  string // US: a telephone area code of the city

	areas     []string // GB: postcode areas of the city
	districts int      // GB: postcode districts numbered 1..districts

	plzLo, plzHi int // DE: the city's range of Postleitzahlen

	codes []string // FR: the city's codes postaux
}

var cities = [numCountries][]city{
	us: {
		{name: "New York", region: "NY", zip3: "100", npa: "212"},
		{name: "Chicago", region: "IL", zip3: "606", npa: "312"},
		{name: "Austin", region: "TX", zip3: "787", npa: "512"},
		{name: "San Francisco", region: "CA", zip3: "941", npa: "415"},
		{name: "Seattle", region: "WA", zip3: "981", npa: "206"},
		{name: "Boston", region: "MA", zip3: "021", npa: "617"},
		{name: "Denver", region: "CO", zip3: "802", npa: "303"},
		{name: "Atlanta", region: "GA", zip3: "303", npa: "404"},
		{name: "Nashville", region: "TN", zip3: "372", npa: "615"},
		{name: "Minneapolis", region: "MN", zip3: "554", npa: "612"},
		{name: "Salt Lake City", region: "UT", zip3: "841", npa: "801"},
		{name: "Raleigh", region: "NC", zip3: "276", npa: "919"},
		{name: "Phoenix", region: "AZ", zip3: "850", npa: "602"},
		{name: "Pittsburgh", region: "PA", zip3: "152", npa: "412"},
		{name: "Columbus", region: "OH", zip3: "432", npa: "614"},
		{name: "Portland", region: "OR", zip3: "972", npa: "503"},
		{name: "Washington", region: "DC", zip3: "200", npa: "202"},
	},
	gb: {
		{name: "London", areas: []string{"SW", "SE", "N", "E", "NW", "W"}, districts: 20},
		{name: "Manchester", areas: []string{"M"}, districts: 40},
		{name: "Birmingham", areas: []string{"B"}, districts: 45},
		{name: "Leeds", areas: []string{"LS"}, districts: 29},
		{name: "Bristol", areas: []string{"BS"}, districts: 16},
		{name: "Edinburgh", areas: []string{"EH"}, districts: 17},
		{name: "Glasgow", areas: []string{"G"}, districts: 46},
		{name: "Cardiff", areas: []string{"CF"}, districts: 24},
		{name: "Liverpool", areas: []string{"L"}, districts: 36},
		{name: "Sheffield", areas: []string{"S"}, districts: 36},
		{name: "Nottingham", areas: []string{"NG"}, districts: 16},
		{name: "Cambridge", areas: []string{"CB"}, districts: 5},
		{name: "Oxford", areas: []string{"OX"}, districts: 4},
		{name: "Belfast", areas: []string{"BT"}, districts: 17},
	},
	de: {
		{name: "Berlin", region: "Berlin", plzLo: 10115, plzHi: 14199},
		{name: "Hamburg", region: "Hamburg", plzLo: 20095, plzHi: 22769},
		{name: "München", region: "Bayern", plzLo: 80331, plzHi: 81929},
		{name: "Köln", region: "Nordrhein-Westfalen", plzLo: 50667, plzHi: 51149},
		{name: "Frankfurt am Main", region: "Hessen", plzLo: 60306, plzHi: 60599},
		{name: "Stuttgart", region: "Baden-Württemberg", plzLo: 70173, plzHi: 70629},
		{name: "Düsseldorf", region: "Nordrhein-Westfalen", plzLo: 40210, plzHi: 40629},
		{name: "Leipzig", region: "Sachsen", plzLo: 4103, plzHi: 4357},
		{name: "Dresden", region: "Sachsen", plzLo: 1067, plzHi: 1328},
		{name: "Hannover", region: "Niedersachsen", plzLo: 30159, plzHi: 30669},
		{name: "Nürnberg", region: "Bayern", plzLo: 90402, plzHi: 90491},
		{name: "Bremen", region: "Bremen", plzLo: 28195, plzHi: 28779},
	},
	fr: {
		{name: "Paris", region: "Île-de-France", codes: codeRange(75001, 75020)},
		{name: "Lyon", region: "Auvergne-Rhône-Alpes", codes: codeRange(69001, 69009)},
		{name: "Marseille", region: "Provence-Alpes-Côte d'Azur", codes: codeRange(13001, 13016)},
		{name: "Toulouse", region: "Occitanie", codes: []string{"31000", "31100", "31200", "31300", "31400", "31500"}},
		{name: "Nice", region: "Provence-Alpes-Côte d'Azur", codes: []string{"06000", "06100", "06200", "06300"}},
		{name: "Nantes", region: "Pays de la Loire", codes: []string{"44000", "44100", "44200", "44300"}},
		{name: "Strasbourg", region: "Grand Est", codes: []string{"67000", "67100", "67200"}},
		{name: "Montpellier", region: "Occitanie", codes: []string{"34000", "34070", "34080", "34090"}},
		{name: "Bordeaux", region: "Nouvelle-Aquitaine", codes: []string{"33000", "33100", "33200", "33300", "33800"}},
		{name: "Lille", region: "Hauts-de-France", codes: []string{"59000", "59160", "59260", "59777", "59800"}},
		{name: "Rennes", region: "Bretagne", codes: []string{"35000", "35200", "35700"}},
	},
}

// codeRange returns the five-digit codes lo..hi.
func codeRange(lo, hi int) []string {
	out := make([]string, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		out = append(out, pad(n, 5))
	}
	return out
}

// pad returns n in decimal, left-padded with zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

var streets = [numCountries][]string{
	us: {"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Pine St", "Washington Ave",
		"Park Ave", "Lake St", "Hillcrest Rd", "Sunset Blvd", "Highland Ave", "Walnut St",
		"Church St", "Mill Rd", "River Rd", "Franklin St", "Jefferson Ave", "Lincoln Way", "2nd St",
		"3rd Ave", "Madison Ave", "Chestnut St", "Willow Ct"},
	gb: {"High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Manor Road",
		"Park Road", "Queen Street", "King Street", "Mill Lane", "The Crescent", "Albert Road",
		"York Road", "London Road", "Grange Road", "Springfield Road", "Kings Road",
		"Church Street", "Highfield Road", "North Street"},
	de: {"Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße", "Bergstraße",
		"Lindenstraße", "Goethestraße", "Schillerstraße", "Friedrichstraße", "Kirchstraße",
		"Waldweg", "Rosenweg", "Mozartstraße", "Ringstraße", "Am Markt", "Birkenweg",
		"Feldstraße", "Blumenstraße", "Wiesenweg"},
	fr: {"rue de la Paix", "rue Victor Hugo", "avenue Jean Jaurès", "boulevard Voltaire",
		"rue de la République", "rue du Moulin", "place de l'Église", "rue des Lilas",
		"allée des Tilleuls", "chemin des Vignes", "rue Pasteur", "rue Nationale",
		"avenue de la Gare", "rue des Écoles", "impasse des Roses", "rue Émile Zola",
		"boulevard Gambetta", "rue du Général Leclerc"},
}

// gbInwardLetters are the letters the inward code of a UK postcode may end
// with; Royal Mail leaves out C, I, K, M, O and V there.
const gbInwardLetters = "ABDEFGHJLNPQRSTUWXYZ"

// address returns an address in city ct of country c. An office address
// carries a suite or floor, a home address sometimes a flat.
func (r *rng) address(c country, ct *city, office bool) hrgate.Address {
	a := hrgate.Address{City: ct.name, Region: ct.region, Country: c.code()}
	street := pick(r, streets[c])
	switch c {
	case us:
		a.Line1 = strconv.Itoa(r.between(1, 9899)) + " " + street
		a.PostalCode = ct.zip3 + pad(r.between(1, 99), 2)
		switch {
		case office:
			a.Line2 = "Suite " + strconv.Itoa(r.between(1, 20)*100)
		case r.chance(300):
			a.Line2 = "Apt " + strconv.Itoa(r.between(1, 30)) + string(rune('A'+r.IntN(6)))
		}
	case gb:
		a.Line1 = strconv.Itoa(r.between(1, 240)) + " " + street
		a.PostalCode = pick(r, ct.areas) + strconv.Itoa(r.between(1, ct.districts)) + " " +
			strconv.Itoa(r.IntN(10)) + string(gbInwardLetters[r.IntN(len(gbInwardLetters))]) +
			string(gbInwardLetters[r.IntN(len(gbInwardLetters))])
		switch {
		case office:
			a.Line2 = "Floor " + strconv.Itoa(r.between(1, 12))
		case r.chance(250):
			a.Line2 = "Flat " + strconv.Itoa(r.between(1, 40))
		}
	case de:
		a.Line1 = street + " " + strconv.Itoa(r.between(1, 180))
		if r.chance(80) {
			a.Line1 += string(rune('a' + r.IntN(3)))
		}
		a.PostalCode = pad(r.between(ct.plzLo, ct.plzHi), 5)
		if office {
			a.Line2 = strconv.Itoa(r.between(1, 8)) + ". OG"
		}
	case fr:
		a.Line1 = strconv.Itoa(r.between(1, 150))
		if r.chance(60) {
			a.Line1 += " bis"
		}
		a.Line1 += " " + street
		a.PostalCode = pick(r, ct.codes)
		switch {
		case office:
			if n := r.between(1, 8); n == 1 {
				a.Line2 = "1er étage"
			} else {
				a.Line2 = strconv.Itoa(n) + "e étage"
			}
		case r.chance(200):
			a.Line2 = "Appartement " + strconv.Itoa(r.between(1, 60))
		}
	}
	return a
}

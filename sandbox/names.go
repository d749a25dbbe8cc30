package sandbox

import (
	"strconv"
	"strings"
)

// country is one of the four locales of the sandbox. Its order is the order
// in which company headquarters cycle.
type country int

const (
	us country = iota
	gb
	de
	fr
	numCountries
)

// code returns the ISO 3166-1 alpha-2 code of c.
func (c country) code() string { return [numCountries]string{"US", "GB", "DE", "FR"}[c] }

// nameList holds the names of one locale: common given names by sex and
// common surnames, so that a generated person reads like someone from that
// country. Common names are shared by so many people that none of them, or
// their combination, points at anyone.
type nameList struct {
	female, male, last []string
}

var names = [numCountries]nameList{
	us: {
		female: []string{"Emily", "Olivia", "Emma", "Ava", "Sophia", "Madison", "Abigail", "Isabella",
			"Elizabeth", "Hannah", "Ashley", "Samantha", "Sarah", "Jessica", "Megan", "Lauren",
			"Rachel", "Katherine", "Brianna", "Natalie", "Grace", "Chloe", "Victoria", "Alexis"},
		male: []string{"James", "Michael", "Robert", "John", "David", "William", "Richard", "Joseph",
			"Thomas", "Christopher", "Daniel", "Matthew", "Anthony", "Joshua", "Andrew", "Ryan",
			"Tyler", "Brandon", "Justin", "Kevin", "Jason", "Eric", "Nathan", "Zachary"},
		last: []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
			"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
			"Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
			"Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
			"Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
			"Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts"},
	},
	gb: {
		female: []string{"Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Poppy",
			"Charlotte", "Jessica", "Lily", "Freya", "Ella", "Evie", "Chloe", "Holly", "Lucy",
			"Eleanor", "Harriet", "Imogen", "Niamh", "Siobhan", "Megan", "Rhiannon"},
		male: []string{"Oliver", "George", "Harry", "Jack", "Jacob", "Charlie", "Thomas", "Oscar",
			"William", "James", "Alfie", "Henry", "Archie", "Joshua", "Samuel", "Edward", "Callum",
			"Rhys", "Liam", "Connor", "Hamish", "Angus", "Owen", "Dylan"},
		last: []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
			"Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
			"Hall", "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin",
			"Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis",
			"Baker", "Lee", "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker",
			"Bennett", "Young", "Phillips", "Richardson", "Mitchell", "O'Brien", "Murphy",
			"MacDonald"},
	},
	de: {
		female: []string{"Anna", "Hannah", "Lea", "Leonie", "Lena", "Marie", "Sophie", "Emma", "Mia",
			"Laura", "Julia", "Sarah", "Lisa", "Katharina", "Johanna", "Charlotte", "Clara", "Greta",
			"Jana", "Annika", "Franziska", "Bärbel", "Käthe", "Ursula"},
		male: []string{"Lukas", "Leon", "Felix", "Jonas", "Maximilian", "Paul", "Finn", "Elias",
			"Noah", "Ben", "Tobias", "Florian", "Sebastian", "Alexander", "Stefan", "Thomas",
			"Michael", "Andreas", "Jürgen", "Jörg", "Björn", "Günter", "Sören", "Matthias"},
		last: []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
			"Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
			"Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
			"Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann",
			"Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
			"Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn",
			"Vogel"},
	},
	fr: {
		female: []string{"Léa", "Chloé", "Manon", "Camille", "Inès", "Sarah", "Emma", "Jade",
			"Louise", "Zoé", "Lucie", "Juliette", "Anaïs", "Clémence", "Océane", "Mathilde",
			"Margaux", "Éloïse", "Héloïse", "Amélie", "Céline", "Nathalie", "Anne-Sophie",
			"Marie-Claire"},
		male: []string{"Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Raphaël", "Théo",
			"Nathan", "Mathis", "Enzo", "Clément", "Maxime", "Antoine", "Thomas", "Julien",
			"Nicolas", "Sébastien", "Jérôme", "François", "Benoît", "Grégoire", "Étienne",
			"Jean-Baptiste"},
		last: []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
			"Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
			"Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre",
			"Mercier", "Dupont", "Lambert", "Bonnet", "François", "Legrand", "Garnier", "Faure",
			"Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Perrin", "Morin",
			"Mathieu", "Clément", "Gauthier", "Dumont", "Fontaine", "Chevalier", "Robin",
			"Le Gall", "Da Silva", "Bénard"},
	},
}

// nicknames maps given names to the short form people often prefer, the
// source of PreferredName.
var nicknames = map[string]string{
	"Elizabeth": "Liz", "Katherine": "Kate", "Samantha": "Sam", "Victoria": "Tori",
	"Michael": "Mike", "Robert": "Bob", "William": "Will", "Richard": "Rick",
	"Joseph": "Joe", "Thomas": "Tom", "Christopher": "Chris", "Daniel": "Dan",
	"Matthew": "Matt", "Anthony": "Tony", "Joshua": "Josh", "Andrew": "Andy",
	"Zachary": "Zach", "Nathan": "Nate", "Samuel": "Sam", "Edward": "Ed",
	"Alexander": "Alex", "Maximilian": "Max", "Sebastian": "Basti", "Katharina": "Kathi",
	"Franziska": "Franzi", "Johanna": "Jo", "Charlotte": "Lotte", "Jean-Baptiste": "JB",
	"Nicolas": "Nico", "Maxime": "Max",
}

// person is the name and sex-linked data of one generated employee.
type person struct {
	first, last, preferred string
	gender                 string
}

// Genders of the unified model, with their weights.
var (
	genders       = []string{"female", "male", "non_binary", "undisclosed"}
	genderWeights = newWeighted(485, 485, 15, 15)
)

// newPerson draws a name in country c. The given name follows the gender
// when it is female or male and is drawn from both lists otherwise.
func (r *rng) newPerson(c country) person {
	n := &names[c]
	p := person{gender: genders[genderWeights.pick(r)], last: pick(r, n.last)}
	switch {
	case p.gender == "female", p.gender != "male" && r.IntN(2) == 0:
		p.first = pick(r, n.female)
	default:
		p.first = pick(r, n.male)
	}
	if nick, ok := nicknames[p.first]; ok && r.chance(200) {
		p.preferred = nick
	}
	return p
}

// asciiFold maps the accented letters of the sandbox's names to the ASCII
// spelling people use in e-mail addresses.
var asciiFold = map[rune]string{
	'à': "a", 'â': "a", 'ä': "ae", 'ç': "c", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'î': "i", 'ï': "i", 'ô': "o", 'ö': "oe", 'ù': "u", 'û': "u", 'ü': "ue", 'ÿ': "y",
	'ß': "ss", 'œ': "oe", 'æ': "ae", 'ñ': "n",
}

// emailParts caches emailPart for every name of the lists, which are all
// the names there are; it saves a string build per address.
var emailParts = func() map[string]string {
	m := make(map[string]string)
	for _, n := range names {
		for _, list := range [][]string{n.female, n.male, n.last} {
			for _, name := range list {
				m[name] = foldEmailPart(name)
			}
		}
	}
	return m
}()

// emailPart returns name as the lower-case ASCII token of an e-mail address
// ("Müller" → "mueller", "Le Gall" → "legall", "O'Brien" → "obrien",
// "Jean-Baptiste" → "jean-baptiste").
func emailPart(name string) string {
	if p, ok := emailParts[name]; ok {
		return p
	}
	return foldEmailPart(name)
}

// foldEmailPart computes emailPart.
func foldEmailPart(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c == '-':
			b.WriteRune(c)
		case asciiFold[c] != "":
			b.WriteString(asciiFold[c])
		}
	}
	return b.String()
}

// personalDomains are the second-level domains RFC 2606 reserves for
// documentation; mail to them is never delivered to anyone.
var personalDomains = []string{"example.com", "example.org", "example.net"}

// personalEmail returns a private address in one of the styles people pick
// for themselves, at a reserved domain.
func (r *rng) personalEmail(first, last string, birthYear int) string {
	f, l := emailPart(first), emailPart(last)
	var local string
	switch r.IntN(6) {
	case 0:
		local = f + "." + l
	case 1:
		local = f + l + itoa2(birthYear%100)
	case 2:
		local = f + "_" + l
	case 3:
		local = f[:1] + "." + l
	case 4:
		local = f + "." + l[:1] + itoa2(r.IntN(100))
	default:
		local = l + "." + f
	}
	return local + "@" + pick(r, personalDomains)
}

// itoa2 returns n (0..99) as two digits.
func itoa2(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// workEmails hands out first.last@<slug>.example addresses, numbering the
// second and later holders of a name. ".example" is a top-level domain
// reserved by RFC 2606, so no work address can reach a real mailbox. It
// remembers one counter per distinct name, not one entry per employee, so
// its size is bounded by the name lists whatever the head count.
type workEmails struct {
	domain string
	seen   map[string]int
}

func newWorkEmails(slug string) *workEmails {
	return &workEmails{domain: "@" + slug + ".example", seen: make(map[string]int)}
}

// next returns the address for a person with the given names. Names never
// contain digits, so "anna.schmidt2" cannot collide with another name.
func (w *workEmails) next(first, last string) string {
	local := emailPart(first) + "." + emailPart(last)
	n := w.seen[local] + 1
	w.seen[local] = n
	if n > 1 {
		local += strconv.Itoa(n)
	}
	return local + w.domain
}

package sandbox

// Every phone number of the sandbox lies in a range that the numbering
// authority of its country keeps out of service for films, books and
// examples, so a developer who dials one reaches nobody:
//
//   - US: 555-0100 to 555-0199 in every area code are reserved by the North
//     American Numbering Plan Administrator for fictional use.
//   - GB: Ofcom's drama numbers include the mobile range 07700 900000 to
//     07700 900999.
//   - DE: the Bundesnetzagentur's "Drama Numbers" (Mitteilung 148/2021,
//     Amtsblatt 7/2021) are 1000 numbers in each of five local networks:
//     Berlin (0)30 23125 xxx, Frankfurt (0)69 90009 xxx, Hamburg
//     (0)40 66969 xxx, Köln (0)221 4710 xxx and München (0)89 99998 xxx.
//   - FR: ARCEP reserves 06 39 98 00 00 to 06 39 98 99 99 among the numbers
//     for audiovisual works.
//
// The ranges are small (1,000 to 10,000 numbers), so in a large company
// several employees share a number; phone numbers are not unique keys.

// deDramaNumbers are the German drama ranges in international format, keyed
// by the city whose local network they belong to.
var deDramaNumbers = map[string]string{
	"Berlin":            "+49 30 23125 ",
	"Frankfurt am Main": "+49 69 90009 ",
	"Hamburg":           "+49 40 66969 ",
	"Köln":              "+49 221 4710 ",
	"München":           "+49 89 99998 ",
}

// deDramaCities lists the keys of deDramaNumbers in a fixed order, for the
// cities that have no range of their own.
var deDramaCities = []string{"Berlin", "Frankfurt am Main", "Hamburg", "Köln", "München"}

// phone returns a fictional number for a person living in city ct of
// country c, in international format.
func (r *rng) phone(c country, ct *city) string {
	switch c {
	case us:
		return "+1 " + ct.npa + "-555-01" + pad(r.IntN(100), 2)
	case gb:
		return "+44 7700 900" + pad(r.IntN(1000), 3)
	case de:
		prefix, ok := deDramaNumbers[ct.name]
		if !ok {
			prefix = deDramaNumbers[pick(r, deDramaCities)]
		}
		return prefix + pad(r.IntN(1000), 3)
	default:
		return "+33 6 39 98 " + pad(r.IntN(100), 2) + " " + pad(r.IntN(100), 2)
	}
}

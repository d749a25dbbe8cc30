package sandbox_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sandbox"
)

// sample is a sandbox of every locale, shared by the field tests.
func sample(tb testing.TB) []*hrgate.Batch {
	tb.Helper()
	return MustGenerate(tb, sandbox.Options{Companies: 4, Employees: 600, Seed: 2026, Now: testNow, BatchSize: 250})
}

// fictionalPhones are the ranges reserved for fiction by NANPA, Ofcom, the
// Bundesnetzagentur and ARCEP.
var fictionalPhones = map[string]*regexp.Regexp{
	"US": regexp.MustCompile(`^\+1 [2-9]\d\d-555-01\d\d$`),
	"GB": regexp.MustCompile(`^\+44 7700 900\d{3}$`),
	"DE": regexp.MustCompile(`^\+49 (30 23125|69 90009|40 66969|221 4710|89 99998) \d{3}$`),
	"FR": regexp.MustCompile(`^\+33 6 39 98 \d\d \d\d$`),
}

var postalCodes = map[string]*regexp.Regexp{
	"US": regexp.MustCompile(`^\d{5}$`),
	"GB": regexp.MustCompile(`^[A-Z]{1,2}\d{1,2} \d[ABD-HJLNP-UW-Z]{2}$`),
	"DE": regexp.MustCompile(`^\d{5}$`),
	"FR": regexp.MustCompile(`^\d{5}$`),
}

var ibanLengths = map[string]int{"GB": 22, "DE": 22, "FR": 27}

var (
	ssnRE   = regexp.MustCompile(`^(\d{3})-(\d{2})-(\d{4})$`)
	ninoRE  = regexp.MustCompile(`^QQ \d{2} \d{2} \d{2} [A-D]$`)
	nirRE   = regexp.MustCompile(`^[12] \d{2} (0[1-9]|1[0-2]) \d{2} 000 \d{3} \d{2}$`)
	localRE = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)
	decimal = regexp.MustCompile(`^\d+\.\d+$`)
	money   = regexp.MustCompile(`^\d+\.\d{2}$`)
)

// bbanLayouts are the national account layouts inside the IBAN: GB bank
// code, sort code and account; DE Bankleitzahl and account; FR code banque,
// code guichet, account and clé RIB.
var bbanLayouts = map[string]*regexp.Regexp{
	"GB": regexp.MustCompile(`^GB\d\d[A-Z]{4}\d{6}\d{8}$`),
	"DE": regexp.MustCompile(`^DE\d\d[1-8]\d{7}\d{10}$`),
	"FR": regexp.MustCompile(`^FR\d\d\d{5}\d{5}\d{11}\d{2}$`),
}

// ribKeyValid checks the clé RIB of an all-digit French BBAN.
func ribKeyValid(bban string) bool {
	bank, _ := strconv.ParseInt(bban[:5], 10, 64)
	branch, _ := strconv.ParseInt(bban[5:10], 10, 64)
	account, _ := strconv.ParseInt(bban[10:21], 10, 64)
	key, _ := strconv.ParseInt(bban[21:], 10, 64)
	return key == 97-(89*bank+15*branch+3*account)%97
}

// irsGroup reports whether g is a group number the IRS uses under areas
// 900–999: the ITIN, ATIN and IRSN ranges.
func irsGroup(g int) bool {
	return g >= 50 && g <= 65 || g >= 70 && g <= 88 || g >= 90 && g <= 99 ||
		g >= 1 && g <= 10 || g >= 17 && g <= 19 || g == 28 || g == 29 || g >= 37 && g <= 39
}

// steuerIDValid checks the ISO 7064 MOD 11,10 check digit, written out
// independently of the generator.
func steuerIDValid(s string) bool {
	if len(s) != 11 || s[0] == '0' {
		return false
	}
	p := 10
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		sum := (int(s[i]-'0') + p) % 10
		if sum == 0 {
			sum = 10
		}
		p = 2 * sum % 11
	}
	check := (11 - p) % 10
	return int(s[10]-'0') == check
}

// nirKeyValid checks the NIR key, 97 − (first 13 digits mod 97).
func nirKeyValid(s string) bool {
	d := strings.ReplaceAll(s, " ", "")
	if len(d) != 15 {
		return false
	}
	n, err1 := strconv.ParseInt(d[:13], 10, 64)
	key, err2 := strconv.Atoi(d[13:])
	return err1 == nil && err2 == nil && key == int(97-n%97)
}

// index of the objects of a sandbox, for cross-references.
type index struct {
	companies map[string]*hrgate.Company
	locations map[string]*hrgate.Location
	teams     map[string]*hrgate.Team
}

func indexOf(batches []*hrgate.Batch) index {
	x := index{map[string]*hrgate.Company{}, map[string]*hrgate.Location{}, map[string]*hrgate.Team{}}
	for _, b := range batches {
		for _, c := range b.Companies {
			x.companies[c.ID] = c
		}
		for _, l := range b.Locations {
			x.locations[l.ID] = l
		}
		for _, t := range b.Teams {
			x.teams[t.ID] = t
		}
	}
	return x
}

func TestGenerate_FictionalIdentifiers(t *testing.T) {
	batches := sample(t)
	x := indexOf(batches)
	perCountry := map[string]int{}
	for _, e := range employeesOf(batches) {
		loc := x.locations[e.Employment.WorkLocationID]
		if loc == nil {
			t.Fatalf("employee %s: unknown work location %q", e.RemoteID, e.Employment.WorkLocationID)
		}
		c := loc.Address.Country
		perCountry[c]++
		name := fmt.Sprintf("%s (%s)", e.RemoteID, c)

		if e.Contact.HomeAddress.Country != c {
			t.Errorf("%s: lives in %s but works in %s", name, e.Contact.HomeAddress.Country, c)
		}
		if !fictionalPhones[c].MatchString(e.Contact.Phone) {
			t.Errorf("%s: phone %q is outside the fictional range", name, e.Contact.Phone)
		}
		if a := e.Contact.HomeAddress; a.Line1 == "" || a.City == "" || !postalCodes[c].MatchString(a.PostalCode) {
			t.Errorf("%s: home address %+v is not a %s address", name, a, c)
		}

		local, domain, _ := strings.Cut(e.Contact.PersonalEmail, "@")
		if domain != "example.com" && domain != "example.org" && domain != "example.net" || !localRE.MatchString(local) {
			t.Errorf("%s: personal e-mail %q is not at an RFC 2606 domain", name, e.Contact.PersonalEmail)
		}
		local, domain, _ = strings.Cut(e.Identity.WorkEmail, "@")
		if !strings.HasSuffix(domain, ".example") || !localRE.MatchString(local) {
			t.Errorf("%s: work e-mail %q is not at a .example domain", name, e.Identity.WorkEmail)
		}

		bank := e.Banking
		if bank.BankName == "" || bank.AccountHolder != e.Identity.FirstName+" "+e.Identity.LastName {
			t.Errorf("%s: bank account %+v lacks its bank or holder", name, bank)
		}
		if c == "US" {
			if !hrgate.ValidABARouting(bank.RoutingNumber) || bank.IBAN != "" {
				t.Errorf("%s: routing number %q is invalid (IBAN %q)", name, bank.RoutingNumber, bank.IBAN)
			}
			if n := len(bank.AccountNumber); n < 10 || n > 12 || strings.Trim(bank.AccountNumber, "0123456789") != "" {
				t.Errorf("%s: account number %q is not 10–12 digits", name, bank.AccountNumber)
			}
		} else {
			if !hrgate.ValidIBAN(bank.IBAN) || len(bank.IBAN) != ibanLengths[c] || bank.IBAN[:2] != c {
				t.Errorf("%s: IBAN %q is not a valid %s IBAN", name, bank.IBAN, c)
			}
			if bank.RoutingNumber != "" || bank.AccountNumber != "" {
				t.Errorf("%s: European account carries US numbers %+v", name, bank)
			}
		}
		if re := bbanLayouts[c]; re != nil && !re.MatchString(bank.IBAN) {
			t.Errorf("%s: IBAN %q does not have the %s BBAN layout", name, bank.IBAN, c)
		}
		if c == "FR" && !ribKeyValid(bank.IBAN[4:]) {
			t.Errorf("%s: IBAN %q has a wrong clé RIB", name, bank.IBAN)
		}

		id := e.GovernmentID
		switch c {
		case "US":
			m := ssnRE.FindStringSubmatch(id.Value)
			if id.Type != "ssn" || m == nil {
				t.Errorf("%s: %+v is not an SSN", name, id)
				break
			}
			area, _ := strconv.Atoi(m[1])
			group, _ := strconv.Atoi(m[2])
			if area != 666 && (area < 900 || area > 999) {
				t.Errorf("%s: SSN %s has an area the SSA issues", name, id.Value)
			}
			if area >= 900 && irsGroup(group) {
				t.Errorf("%s: SSN %s looks like an IRS-issued ITIN, ATIN or IRSN", name, id.Value)
			}
			if m[2] == "00" || m[3] == "0000" {
				t.Errorf("%s: SSN %s has a zero group or serial", name, id.Value)
			}
		case "GB":
			if id.Type != "nino" || !ninoRE.MatchString(id.Value) {
				t.Errorf("%s: %+v is not a QQ National Insurance number", name, id)
			}
		case "DE":
			if id.Type != "steuer_id" || !steuerIDValid(id.Value) {
				t.Errorf("%s: %+v is not a Steuer-ID with a valid check digit", name, id)
			}
			// Never issued: the first ten digits repeat no digit.
			seen := map[byte]bool{}
			for i := 0; i < 10; i++ {
				seen[id.Value[i]] = true
			}
			if len(seen) != 10 {
				t.Errorf("%s: Steuer-ID %s has the digit pattern of issued numbers", name, id.Value)
			}
		case "FR":
			if id.Type != "nir" || !nirRE.MatchString(id.Value) || !nirKeyValid(id.Value) {
				t.Errorf("%s: %+v is not a well-formed NIR with commune 000", name, id)
			}
			dob := e.Personal.DateOfBirth
			if v := id.Value; v[2:4] != dob[2:4] || v[5:7] != dob[5:7] {
				t.Errorf("%s: NIR %s does not match date of birth %s", name, v, dob)
			}
		}
	}
	for _, c := range []string{"US", "GB", "DE", "FR"} {
		if perCountry[c] < 20 {
			t.Errorf("only %d employees in %s, want every locale represented", perCountry[c], c)
		}
	}
}

func TestGenerate_WorkEmailsUniquePerCompany(t *testing.T) {
	batches := MustGenerate(t, sandbox.Options{Companies: 2, Employees: 5000, Seed: 3, Now: testNow})
	x := indexOf(batches)
	seen := map[string]bool{}
	numbered := 0
	for _, e := range employeesOf(batches) {
		if seen[e.Identity.WorkEmail] {
			t.Fatalf("work e-mail %q is used twice", e.Identity.WorkEmail)
		}
		seen[e.Identity.WorkEmail] = true
		if want := "@" + x.companies[e.CompanyID].Slug + ".example"; !strings.HasSuffix(e.Identity.WorkEmail, want) {
			t.Errorf("work e-mail %q is not at %s", e.Identity.WorkEmail, want)
		}
		if strings.ContainsAny(e.Identity.WorkEmail, "0123456789") {
			numbered++
		}
	}
	if numbered == 0 {
		t.Error("no work e-mail was numbered; the name clash case is untested")
	}
}

func TestGenerate_ASCIIWorkEmails(t *testing.T) {
	// Names with accents, apostrophes and spaces become plain ASCII.
	for _, e := range employeesOf(sample(t)) {
		local, _, _ := strings.Cut(e.Identity.WorkEmail, "@")
		want := strings.NewReplacer("ü", "ue", "ö", "oe", "ä", "ae", "ß", "ss", "é", "e", "è", "e",
			"ë", "e", "ê", "e", "ï", "i", "î", "i", "ô", "o", "â", "a", "à", "a", "û", "u", "ù", "u",
			"ç", "c", "'", "", " ", "").Replace(strings.ToLower(e.Identity.FirstName + "." + e.Identity.LastName))
		if strings.TrimRight(local, "0123456789") != want {
			t.Errorf("work e-mail %q for %s %s, want local part %q", e.Identity.WorkEmail, e.Identity.FirstName, e.Identity.LastName, want)
		}
	}
}

func TestGenerate_Hierarchy(t *testing.T) {
	batches := MustGenerate(t, sandbox.Options{Companies: 3, Employees: 3000, Seed: 11, Now: testNow, BatchSize: 500})
	seen := map[string]*hrgate.Employee{} // employees emitted so far
	ceos := map[string]int{}
	reports := map[string]int{}
	for _, b := range batches {
		for _, e := range b.Employees {
			if !hrgate.ValidID(hrgate.PrefixEmployee, e.ID) || seen[e.ID] != nil {
				t.Fatalf("employee id %q is malformed or repeated", e.ID)
			}
			if m := e.Employment.ManagerID; m == "" {
				ceos[e.CompanyID]++
			} else {
				// Managers come earlier, so the graph has no cycle and a
				// batch never points at a later one.
				mgr := seen[m]
				if mgr == nil {
					t.Fatalf("%s: manager %s was not emitted before", e.RemoteID, m)
				}
				if mgr.CompanyID != e.CompanyID {
					t.Fatalf("%s: manager %s works for another company", e.RemoteID, m)
				}
				reports[m]++
			}
			seen[e.ID] = e
		}
	}
	for c, n := range ceos {
		if n != 1 {
			t.Errorf("company %s has %d employees without a manager, want 1", c, n)
		}
	}
	if len(ceos) != 3 {
		t.Errorf("%d companies have a CEO, want 3", len(ceos))
	}
	// Every chain of managers ends at the CEO within three steps.
	for _, e := range seen {
		depth := 0
		for m := e.Employment.ManagerID; m != ""; m = seen[m].Employment.ManagerID {
			if depth++; depth > 3 {
				t.Fatalf("%s: management chain longer than CEO, head, manager", e.RemoteID)
			}
		}
	}
	for id, n := range reports {
		if seen[id].Employment.Status == hrgate.StatusTerminated {
			t.Errorf("%s has %d reports but has left", seen[id].RemoteID, n)
		}
	}
}

func TestGenerate_DatesAndTimestamps(t *testing.T) {
	batches := sample(t)
	today := testNow.Format(time.DateOnly)
	fifteenYearsAgo := testNow.AddDate(-15, 0, -1).Format(time.DateOnly)
	checkStamp := func(what string, created, modified time.Time) {
		t.Helper()
		if created.After(testNow) || modified.After(testNow) || modified.Before(created) || created.IsZero() {
			t.Errorf("%s: created %v, modified %v, want created ≤ modified ≤ now", what, created, modified)
		}
		if created.Nanosecond()%1000 != 0 || modified.Nanosecond()%1000 != 0 {
			t.Errorf("%s: timestamps %v, %v are not truncated to microseconds", what, created, modified)
		}
	}
	employees := map[string]*hrgate.Employee{}
	for _, b := range batches {
		for _, c := range b.Companies {
			checkStamp(c.RemoteID, c.CreatedAt, c.ModifiedAt)
		}
		for _, l := range b.Locations {
			checkStamp(l.RemoteID, l.CreatedAt, l.ModifiedAt)
		}
		for _, tm := range b.Teams {
			checkStamp(tm.RemoteID, tm.CreatedAt, tm.ModifiedAt)
		}
		for _, e := range b.Employees {
			employees[e.ID] = e
			checkStamp(e.RemoteID, e.CreatedAt, e.ModifiedAt)
			emp, dob := e.Employment, e.Personal.DateOfBirth
			if dob < "1960-01-01" || dob > "2005-12-31" {
				t.Errorf("%s: born %s, want 1960–2005", e.RemoteID, dob)
			}
			birth, _ := time.Parse(time.DateOnly, dob)
			if adult := birth.AddDate(18, 0, 0).Format(time.DateOnly); emp.StartDate < adult {
				t.Errorf("%s: started %s before turning 18 on %s", e.RemoteID, emp.StartDate, adult)
			}
			if emp.StartDate < fifteenYearsAgo || emp.StartDate > today {
				t.Errorf("%s: started %s, want within the last 15 years", e.RemoteID, emp.StartDate)
			}
			switch emp.Status {
			case hrgate.StatusTerminated:
				if emp.TerminationDate <= emp.StartDate || emp.TerminationDate > today {
					t.Errorf("%s: terminated %s after starting %s, want after the start and by today", e.RemoteID, emp.TerminationDate, emp.StartDate)
				}
			case hrgate.StatusActive, hrgate.StatusLeave:
				if emp.TerminationDate != "" {
					t.Errorf("%s: %s with termination date %s", e.RemoteID, emp.Status, emp.TerminationDate)
				}
			default:
				t.Errorf("%s: status %q", e.RemoteID, emp.Status)
			}
		}
		for _, r := range b.TimeOffRequests {
			checkStamp(r.RemoteID, r.CreatedAt, r.ModifiedAt)
			e := employees[r.EmployeeID]
			if e == nil || e.CompanyID != r.CompanyID || !hrgate.ValidID(hrgate.PrefixTimeOff, r.ID) {
				t.Fatalf("%s: request of unknown employee %s or bad id %s", r.RemoteID, r.EmployeeID, r.ID)
			}
			lo, hi := testNow.AddDate(-1, 0, -1).Format(time.DateOnly), testNow.AddDate(1, 0, 1).Format(time.DateOnly)
			if r.StartDate < lo || r.EndDate > hi || r.EndDate < r.StartDate || r.StartDate < e.Employment.StartDate {
				t.Errorf("%s: %s to %s outside the year around today or the employment", r.RemoteID, r.StartDate, r.EndDate)
			}
			if e.Employment.TerminationDate != "" && r.EndDate > e.Employment.TerminationDate {
				t.Errorf("%s: leave until %s after leaving on %s", r.RemoteID, r.EndDate, e.Employment.TerminationDate)
			}
			if !decimal.MatchString(r.Amount) || r.Units != "days" || r.Amount == "0.0" {
				t.Errorf("%s: amount %q %q", r.RemoteID, r.Amount, r.Units)
			}
			if !strings.Contains("vacation sick personal parental unpaid", r.Type) ||
				!strings.Contains("requested approved declined cancelled", r.Status) {
				t.Errorf("%s: type %q status %q", r.RemoteID, r.Type, r.Status)
			}
		}
		for _, bal := range b.TimeOffBalances {
			checkStamp(bal.RemoteID, bal.CreatedAt, bal.ModifiedAt)
			if employees[bal.EmployeeID] == nil || !hrgate.ValidID(hrgate.PrefixBalance, bal.ID) {
				t.Fatalf("%s: balance of unknown employee or bad id", bal.RemoteID)
			}
			if !decimal.MatchString(bal.Balance) || !decimal.MatchString(bal.Used) || bal.Units != "days" {
				t.Errorf("%s: balance %q used %q %q", bal.RemoteID, bal.Balance, bal.Used, bal.Units)
			}
		}
	}
}

func TestGenerate_LeaveHasCurrentTimeOff(t *testing.T) {
	batches := sample(t)
	today := testNow.Format(time.DateOnly)
	covered := map[string]bool{}
	for _, b := range batches {
		for _, r := range b.TimeOffRequests {
			if r.Status == "approved" && r.StartDate <= today && r.EndDate >= today {
				covered[r.EmployeeID] = true
			}
		}
	}
	onLeave := 0
	for _, e := range employeesOf(batches) {
		if e.Employment.Status == hrgate.StatusLeave {
			onLeave++
			if !covered[e.ID] {
				t.Errorf("%s is on leave without approved time off covering today", e.RemoteID)
			}
		}
	}
	if onLeave == 0 {
		t.Fatal("nobody is on leave; the case is untested")
	}
}

func TestGenerate_VacationByCountry(t *testing.T) {
	batches := sample(t)
	x := indexOf(batches)
	country := map[string]string{}
	sum, n := map[string]float64{}, map[string]int{}
	for _, b := range batches {
		for _, e := range b.Employees {
			country[e.ID] = x.locations[e.Employment.WorkLocationID].Address.Country
			if e.Employment.Type == hrgate.TypePartTime {
				country[e.ID] = "" // pro-rated
			}
		}
		for _, bal := range b.TimeOffBalances {
			c := country[bal.EmployeeID]
			if bal.PolicyType != "vacation" || c == "" {
				continue
			}
			left, _ := strconv.ParseFloat(bal.Balance, 64)
			used, _ := strconv.ParseFloat(bal.Used, 64)
			sum[c] += left + used
			n[c]++
		}
	}
	want := map[string][2]float64{"US": {15, 20}, "GB": {24, 26}, "DE": {29, 31}, "FR": {29, 31}}
	for c, w := range want {
		if avg := sum[c] / float64(n[c]); avg < w[0] || avg > w[1] {
			t.Errorf("%s: average vacation entitlement %.1f days, want %v", c, avg, w)
		}
	}
}

func TestGenerate_ObjectsBelongToTheirCompany(t *testing.T) {
	batches := sample(t)
	x := indexOf(batches)
	remoteIDs := map[string]bool{}
	unique := func(id string) {
		if remoteIDs[id] {
			t.Errorf("remote id %q is used twice", id)
		}
		remoteIDs[id] = true
	}
	locs := map[string]int{}
	for _, l := range x.locations {
		unique(l.RemoteID)
		c := x.companies[l.CompanyID]
		if c == nil || !hrgate.ValidID(hrgate.PrefixLocation, l.ID) {
			t.Fatalf("location %s: bad company or id", l.RemoteID)
		}
		locs[c.ID]++
		if strings.HasSuffix(l.Name, " HQ") && l.Address.Country != c.Country {
			t.Errorf("%s: headquarters %s in %s, company in %s", c.Slug, l.Name, l.Address.Country, c.Country)
		}
		if l.Type != "office" && l.Type != "remote" {
			t.Errorf("location %s has type %q", l.RemoteID, l.Type)
		}
	}
	for id, n := range locs {
		if n < 2 || n > 4 {
			t.Errorf("company %s has %d locations, want 2–4", x.companies[id].Slug, n)
		}
	}
	for _, tm := range x.teams {
		unique(tm.RemoteID)
		if x.companies[tm.CompanyID] == nil || !hrgate.ValidID(hrgate.PrefixTeam, tm.ID) {
			t.Fatalf("team %s: bad company or id", tm.RemoteID)
		}
		switch tm.Type {
		case "department":
			if tm.ParentID != "" {
				t.Errorf("department %s has a parent", tm.Name)
			}
		case "team":
			if p := x.teams[tm.ParentID]; p == nil || p.Type != "department" || p.CompanyID != tm.CompanyID {
				t.Errorf("team %s has no department of its company as parent", tm.Name)
			}
		default:
			t.Errorf("team %s has type %q", tm.Name, tm.Type)
		}
	}
	for _, b := range batches {
		for _, e := range b.Employees {
			unique(e.RemoteID)
			if !regexp.MustCompile(`^sandbox-emp-\d{6,}$`).MatchString(e.RemoteID) {
				t.Errorf("employee remote id %q", e.RemoteID)
			}
			if l := x.locations[e.Employment.WorkLocationID]; l == nil || l.CompanyID != e.CompanyID {
				t.Errorf("%s works at a location of another company", e.RemoteID)
			}
			if e.Loaded != hrgate.AllGroups {
				t.Errorf("%s: loaded groups %v, want all", e.RemoteID, e.Loaded)
			}
			if e.Employment.JobTitle == "" || e.Employment.Department == "" || e.Identity.EmployeeNumber == "" {
				t.Errorf("%s: missing title, department or number: %+v", e.RemoteID, e.Employment)
			}
		}
		for _, r := range b.TimeOffRequests {
			unique(r.RemoteID)
		}
		for _, bal := range b.TimeOffBalances {
			unique(bal.RemoteID)
		}
	}
}

func TestGenerate_Compensation(t *testing.T) {
	batches := sample(t)
	x := indexOf(batches)
	currency := map[string]string{"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR"}
	frequency := map[string]string{"US": "biweekly", "GB": "monthly", "DE": "monthly", "FR": "monthly"}
	for _, e := range employeesOf(batches) {
		c := x.locations[e.Employment.WorkLocationID].Address.Country
		comp := e.Compensation
		if comp.PayCurrency != currency[c] || comp.PayFrequency != frequency[c] || !money.MatchString(comp.PayRate) {
			t.Errorf("%s (%s): compensation %+v", e.RemoteID, c, comp)
			continue
		}
		rate, _ := strconv.ParseFloat(comp.PayRate, 64)
		var lo, hi float64
		switch e.Employment.Type {
		case hrgate.TypeFullTime:
			if comp.PayPeriod != "year" {
				t.Errorf("%s: full-time pay period %q", e.RemoteID, comp.PayPeriod)
			}
			lo, hi = 20000, 400000
			if c == "US" && e.Employment.ManagerID != "" && !strings.HasPrefix(e.Employment.JobTitle, "VP") &&
				!strings.HasPrefix(e.Employment.JobTitle, "Chief") && e.Employment.JobTitle != "General Counsel" &&
				!strings.Contains(e.Employment.JobTitle, "Manager") && !strings.Contains(e.Employment.JobTitle, "Controller") &&
				!strings.Contains(e.Employment.JobTitle, "Lead") && !strings.Contains(e.Employment.JobTitle, "Counsel") {
				hi = 200000 // a US individual contributor
			}
		case hrgate.TypePartTime, hrgate.TypeTemporary, hrgate.TypeIntern:
			if comp.PayPeriod != "hour" {
				t.Errorf("%s: %s pay period %q", e.RemoteID, e.Employment.Type, comp.PayPeriod)
			}
			lo, hi = 4, 70
		case hrgate.TypeContractor:
			lo, hi = 50, 1000
		}
		if rate < lo || rate > hi {
			t.Errorf("%s (%s %s): pay rate %s outside %v–%v", e.RemoteID, c, e.Employment.Type, comp.PayRate, lo, hi)
		}
	}
}

func TestGenerate_Distribution(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("Seed", seed), func(t *testing.T) {
			employees := employeesOf(MustGenerate(t, sandbox.Options{Companies: 1, Employees: 2000, Seed: seed, Now: testNow}))
			count := map[string]int{}
			for _, e := range employees {
				count[string(e.Employment.Type)]++
				count[string(e.Employment.Status)]++
				count[e.Personal.Gender]++
				count[e.Personal.MaritalStatus]++
			}
			tests := []struct {
				name   string
				key    string
				lo, hi float64 // per cent
			}{
				{"FullTime", "full_time", 76, 84},
				{"PartTime", "part_time", 7.5, 12.5},
				{"Contractor", "contractor", 4, 8},
				{"Intern", "intern", 1, 3.5},
				{"Temporary", "temporary", 1, 3.5},
				{"Terminated", "terminated", 3, 7},
				{"Leave", "leave", 1.5, 4.5},
				{"Active", "active", 88, 96},
				{"Female", "female", 40, 57},
				{"Male", "male", 40, 57},
				{"NonBinary", "non_binary", 0.3, 3.5},
				{"Undisclosed", "undisclosed", 1, 10},
				{"Married", "married", 35, 55},
				{"DomesticPartnership", "domestic_partnership", 2, 10},
			}
			for _, tc := range tests {
				pct := 100 * float64(count[tc.key]) / float64(len(employees))
				if pct < tc.lo || pct > tc.hi {
					t.Errorf("%s: %.1f%%, want %v–%v%%", tc.name, pct, tc.lo, tc.hi)
				}
			}
		})
	}
}

func TestGenerate_LocalesWithFourCompanies(t *testing.T) {
	batches := MustGenerate(t, sandbox.Options{Companies: 4, Employees: 40, Seed: 77, Now: testNow})
	x := indexOf(batches)
	hq := map[string]bool{}
	for _, c := range x.companies {
		hq[c.Country] = true
	}
	homes := map[string]bool{}
	for _, e := range employeesOf(batches) {
		homes[e.Contact.HomeAddress.Country] = true
	}
	for _, c := range []string{"US", "GB", "DE", "FR"} {
		if !hq[c] || !homes[c] {
			t.Errorf("locale %s: headquarters %v, employees %v", c, hq[c], homes[c])
		}
	}
}

func TestGenerate_SmallCompanies(t *testing.T) {
	for _, n := range []int{1, 2, 8, 9, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			employees := employeesOf(MustGenerate(t, sandbox.Options{Companies: 1, Employees: n, Seed: 1, Now: testNow}))
			if len(employees) != n {
				t.Fatalf("got %d employees, want %d", len(employees), n)
			}
			if employees[0].Employment.ManagerID != "" || employees[0].Employment.JobTitle != "Chief Executive Officer" {
				t.Errorf("first employee %+v, want the CEO", employees[0].Employment)
			}
		})
	}
}

func TestGenerate_NowEdges(t *testing.T) {
	// The earliest allowed Now still leaves adults born from 1960 and
	// terminations after start dates.
	for _, now := range []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(now.Format(time.DateOnly), func(t *testing.T) {
			day := now.Format(time.DateOnly)
			for _, e := range employeesOf(MustGenerate(t, sandbox.Options{Companies: 1, Employees: 500, Seed: 1, Now: now})) {
				emp := e.Employment
				if emp.StartDate > day || e.CreatedAt.After(now) || e.ModifiedAt.After(now) ||
					emp.TerminationDate != "" && (emp.TerminationDate > day || emp.TerminationDate <= emp.StartDate) ||
					e.Personal.DateOfBirth < "1960-01-01" || e.Personal.DateOfBirth > "2005-12-31" {
					t.Fatalf("%s: %+v born %s, created %v", e.RemoteID, emp, e.Personal.DateOfBirth, e.CreatedAt)
				}
			}
		})
	}
}

package sandbox

// companyNames are the sandbox companies, by slug and name: employers of
// films, series and software documentation, so nobody takes them for a
// real customer. Company i of a sandbox is the i-th entry.
var companyNames = [MaxCompanies]struct{ slug, name string }{
	{"acme", "Acme Corporation"}, {"globex", "Globex Corporation"}, {"initech", "Initech"},
	{"umbrella", "Umbrella Corporation"}, {"hooli", "Hooli"}, {"stark", "Stark Industries"},
	{"wayne", "Wayne Enterprises"}, {"wonka", "Wonka Industries"}, {"tyrell", "Tyrell Corporation"},
	{"cyberdyne", "Cyberdyne Systems"}, {"soylent", "Soylent Corporation"},
	{"massive-dynamic", "Massive Dynamic"}, {"oscorp", "Oscorp Industries"},
	{"vandelay", "Vandelay Industries"}, {"dunder-mifflin", "Dunder Mifflin"},
	{"wernham-hogg", "Wernham Hogg"}, {"bluth", "Bluth Company"}, {"pied-piper", "Pied Piper"},
	{"aperture", "Aperture Science"}, {"black-mesa", "Black Mesa"},
	{"weyland-yutani", "Weyland-Yutani"}, {"oceanic", "Oceanic Airlines"},
	{"sterling-cooper", "Sterling Cooper"}, {"virtucon", "Virtucon"}, {"rekall", "Rekall"},
	{"ocp", "Omni Consumer Products"}, {"ingen", "InGen"}, {"bnl", "Buy n Large"},
	{"spacely", "Spacely Sprockets"}, {"cogswell", "Cogswell Cogs"},
	{"planet-express", "Planet Express"}, {"momcorp", "MomCorp"},
	{"sirius", "Sirius Cybernetics Corporation"}, {"yoyodyne", "Yoyodyne Propulsion Systems"},
	{"strickland", "Strickland Propane"}, {"nakatomi", "Nakatomi Trading Corporation"},
	{"gringotts", "Gringotts"}, {"paper-street", "Paper Street Soap Company"},
	{"prestige", "Prestige Worldwide"}, {"los-pollos", "Los Pollos Hermanos"},
	{"krusty-krab", "Krusty Krab"}, {"monsters-inc", "Monsters, Inc."},
	{"duff", "Duff Brewing Company"}, {"contoso", "Contoso Ltd"},
	{"northwind", "Northwind Traders"}, {"fabrikam", "Fabrikam, Inc."},
	{"adventure-works", "Adventure Works"}, {"tailspin", "Tailspin Toys"},
	{"wide-world", "Wide World Importers"}, {"litware", "Litware, Inc."},
}

// department describes one department of every sandbox company.
type department struct {
	name string
	// weight is the department's share of the head count, in per cent.
	weight int
	// payFactor is what the department's market pays, in per cent of the
	// salary bands.
	payFactor int
	head      string   // title of the department head
	managers  []string // titles of its people managers
	ics       []string // titles of its individual contributors
	teams     []string // the teams it may be split into
}

// executive is the department of the CEO alone.
const executive = "Executive"

var departments = []department{
	{name: "Engineering", weight: 30, payFactor: 110, head: "VP of Engineering",
		managers: []string{"Engineering Manager", "Senior Engineering Manager"},
		ics: []string{"Software Engineer", "Data Engineer", "QA Engineer", "Site Reliability Engineer",
			"Product Designer", "Security Engineer"},
		teams: []string{"Platform", "Mobile", "Data", "Security", "Web", "Infrastructure"}},
	{name: "Sales", weight: 17, payFactor: 100, head: "VP of Sales",
		managers: []string{"Sales Manager", "Regional Sales Manager"},
		ics: []string{"Account Executive", "Sales Development Representative", "Account Manager",
			"Solutions Engineer"},
		teams: []string{"Enterprise Sales", "SMB Sales", "Sales Operations", "Partnerships"}},
	{name: "Marketing", weight: 8, payFactor: 95, head: "Chief Marketing Officer",
		managers: []string{"Marketing Manager", "Growth Marketing Manager"},
		ics:      []string{"Marketing Specialist", "Content Marketer", "SEO Specialist", "Graphic Designer"},
		teams:    []string{"Brand", "Growth", "Product Marketing", "Content"}},
	{name: "Finance", weight: 6, payFactor: 100, head: "Chief Financial Officer",
		managers: []string{"Finance Manager", "Controller"},
		ics: []string{"Accountant", "Financial Analyst", "Payroll Specialist",
			"Accounts Payable Specialist"},
		teams: []string{"Accounting", "FP&A", "Payroll", "Procurement"}},
	{name: "People", weight: 5, payFactor: 90, head: "Chief People Officer",
		managers: []string{"HR Manager", "Talent Acquisition Manager"},
		ics:      []string{"HR Generalist", "Recruiter", "People Partner", "HR Coordinator"},
		teams:    []string{"Recruiting", "People Operations", "Learning & Development", "Total Rewards"}},
	{name: "Operations", weight: 10, payFactor: 90, head: "Chief Operating Officer",
		managers: []string{"Operations Manager", "IT Manager"},
		ics: []string{"Operations Analyst", "IT Support Specialist", "Office Coordinator",
			"Business Analyst"},
		teams: []string{"IT", "Facilities", "Business Operations", "Workplace"}},
	{name: "Customer Support", weight: 21, payFactor: 75, head: "VP of Customer Support",
		managers: []string{"Customer Support Manager", "Support Team Lead"},
		ics: []string{"Customer Support Representative", "Support Specialist",
			"Technical Support Engineer", "Onboarding Specialist"},
		teams: []string{"Tier 1 Support", "Tier 2 Support", "Customer Success", "Onboarding"}},
	{name: "Legal", weight: 3, payFactor: 110, head: "General Counsel",
		managers: []string{"Legal Operations Manager", "Associate General Counsel"},
		ics:      []string{"Paralegal", "Counsel", "Compliance Analyst", "Contracts Specialist"},
		teams:    []string{"Commercial Legal", "Compliance", "Privacy"}},
}

// departmentWeights chooses the department of a new hire.
var departmentWeights = func() weighted {
	w := make([]int, len(departments))
	for i, d := range departments {
		w[i] = d.weight
	}
	return newWeighted(w...)
}()

// seniorityPrefix qualifies an individual contributor's title. Engineering
// ladders use "Staff"; other departments say "Lead".
func seniorityPrefix(dept string, s int) string {
	switch s {
	case junior:
		return "Junior "
	case senior:
		return "Senior "
	case staff:
		if dept == "Engineering" {
			return "Staff "
		}
		return "Lead "
	}
	return ""
}

package sandbox

import (
	"strconv"

	"github.com/hrgate/hrgate"
)

// Time-off types with their weights and their length in working days.
var (
	timeOffTypes   = []string{"vacation", "sick", "personal", "parental", "unpaid"}
	timeOffWeights = newWeighted(55, 25, 10, 4, 6)
	timeOffLengths = []band{{1, 10}, {1, 3}, {1, 1}, {20, 65}, {1, 10}}
)

// Request statuses, weighted by whether the leave lies ahead (it may still
// be open) or has begun (it was decided one way or the other).
var (
	futureStatuses = []string{"requested", "approved", "cancelled"}
	futureWeights  = newWeighted(35, 55, 10)
	pastStatuses   = []string{"approved", "declined", "cancelled"}
	pastWeights    = newWeighted(80, 8, 12)
)

// vacationDays is the usual yearly paid leave: about 15 days in the US, 25 in
// the UK (28 with bank holidays), 30 in Germany and France; sickDays the
// yearly sick-leave policy of a typical employer.
var (
	vacationDays = [numCountries]int{us: 15, gb: 25, de: 30, fr: 30}
	sickDays     = [numCountries]int{us: 5, gb: 10, de: 30, fr: 10}
)

// employeeSpan is what time off needs to know about an employee.
type employeeSpan struct {
	id, companyID string
	number        string // the digits of the employee's remote id
	country       country
	typ           hrgate.EmploymentType
	start, end    int64 // employment days; end is the termination day or far ahead
	createdUS     int64 // employee record creation, microseconds
	onLeave       bool
}

// timeOffRequests appends 0–4 requests of e dated within a year before or
// after today and inside the employment. An employee on leave gets, first,
// the approved leave that covers today.
func (g *companyGen) timeOffRequests(b *hrgate.Batch, e *employeeSpan) {
	r := g.r
	lo, hi := max(g.today-365, e.start), min(g.today+365, e.end)
	if hi < lo {
		return
	}
	n := r.IntN(5)
	k := 0
	if e.onLeave {
		typ := currentLeaveTypes[currentLeaveWeights.pick(r)]
		start := max(e.start, g.today-int64(r.between(1, 60)))
		end := g.today + int64(r.between(7, 90))
		g.addRequest(b, e, &k, typ, "approved", start, end, workdays(start, end))
		n = max(n-1, 0)
	}
	for range n {
		t := timeOffWeights.pick(r)
		start := r.between64(lo, hi)
		for !isWorkday(start) && start < hi {
			start++
		}
		for !isWorkday(start) && start > lo {
			start--
		}
		if !isWorkday(start) {
			continue // a window of one weekend has no working day to take
		}
		// Leave runs over working days only and stops at the window's end.
		want := r.between(timeOffLengths[t].lo, timeOffLengths[t].hi)
		end, length := start, 1
		for d := start + 1; length < want && d <= hi; d++ {
			if isWorkday(d) {
				end = d
				length++
			}
		}
		var status string
		if start > g.today {
			status = futureStatuses[futureWeights.pick(r)]
		} else {
			status = pastStatuses[pastWeights.pick(r)]
		}
		halves := 2 * length
		if timeOffTypes[t] == "personal" && r.chance(400) {
			halves = 1 // personal days are often half days
		}
		g.addRequest(b, e, &k, timeOffTypes[t], status, start, end, halves)
	}
}

// Kinds of leave that keep an employee away for weeks, the reasons for the
// status "leave", with their weights.
var (
	currentLeaveTypes   = []string{"parental", "sick", "unpaid"}
	currentLeaveWeights = newWeighted(50, 30, 20)
)

// workdays returns twice the number of working days from start to end
// inclusive, the unit addRequest takes; a leave that only spans a weekend
// counts as one day.
func workdays(start, end int64) int {
	n := 0
	for d := start; d <= end; d++ {
		if isWorkday(d) {
			n++
		}
	}
	return 2 * max(n, 1)
}

// addRequest appends e's k-th request, of halves half days from start to
// end, and advances k.
func (g *companyGen) addRequest(b *hrgate.Batch, e *employeeSpan, k *int, typ, status string, start, end int64, halves int) {
	r := g.r
	*k++
	// Leave is requested days to weeks ahead and decided soon after; a
	// request whose time has not come yet was made recently.
	requestDay := start - int64(r.between(3, 60))
	var created int64
	if requestDay < g.today {
		created = max(r.stamp(requestDay, g.nowUS), e.createdUS)
	} else {
		created = r.after(max(e.createdUS, g.nowUS-60*secondsPerDay*1_000_000), g.nowUS)
	}
	modified := created
	if status != "requested" {
		modified = min(created+r.Int64N(10*secondsPerDay*1_000_000), g.nowUS)
	}
	b.TimeOffRequests = append(b.TimeOffRequests, &hrgate.TimeOffRequest{
		ID:         r.id(hrgate.PrefixTimeOff),
		CompanyID:  e.companyID,
		EmployeeID: e.id,
		RemoteID:   "sandbox-tor-" + e.number + "-" + strconv.Itoa(*k),
		Type:       typ,
		Status:     status,
		StartDate:  formatDay(start),
		EndDate:    formatDay(end),
		Amount:     halfDays(halves),
		Units:      "days",
		CreatedAt:  micro(created),
		ModifiedAt: micro(modified),
	})
}

// timeOffBalances appends e's vacation and sick balances. Part-time
// employees get a pro-rated entitlement, and used days come in half days.
func (g *companyGen) timeOffBalances(b *hrgate.Batch, e *employeeSpan) {
	r := g.r
	for _, policy := range [2]string{"vacation", "sick"} {
		days := vacationDays[e.country]
		if policy == "sick" {
			days = sickDays[e.country]
		} else if e.country == us {
			days += r.IntN(6) // US leave grows with tenure
		}
		halves := days * 2
		if e.typ == hrgate.TypePartTime {
			halves = halves * 6 / 10
		}
		used := r.IntN(halves + 1)
		if policy == "sick" {
			used = min(used, r.IntN(halves/2+1)) // most people use little of it
		}
		created := e.createdUS
		modified := r.after(created, g.nowUS)
		b.TimeOffBalances = append(b.TimeOffBalances, &hrgate.TimeOffBalance{
			ID:         r.id(hrgate.PrefixBalance),
			CompanyID:  e.companyID,
			EmployeeID: e.id,
			RemoteID:   "sandbox-tob-" + e.number + "-" + policy,
			PolicyType: policy,
			Balance:    halfDays(halves - used),
			Used:       halfDays(used),
			Units:      "days",
			CreatedAt:  micro(created),
			ModifiedAt: micro(modified),
		})
	}
}

// halfDays formats a count of half days as a decimal number of days.
func halfDays(n int) string {
	if n%2 == 0 {
		return strconv.Itoa(n/2) + ".0"
	}
	return strconv.Itoa(n/2) + ".5"
}

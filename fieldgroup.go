package hrgate

import (
	"math/bits"
	"strings"
)

// FieldGroup names a set of employee fields that are granted, masked,
// encrypted and exported together.
type FieldGroup uint8

// The employee field groups of BRIEF.md, in their canonical order.
const (
	GroupIdentity FieldGroup = iota
	GroupEmployment
	GroupContact
	GroupPersonal
	GroupCompensation
	GroupBanking
	GroupGovernmentID
	numFieldGroups
)

var fieldGroupNames = [numFieldGroups]string{
	"identity", "employment", "contact", "personal", "compensation", "banking", "government_id",
}

// Sensitivity classifies how carefully a field group is handled: internal
// data is stored as is, confidential data is encrypted by default, restricted
// data is always encrypted.
type Sensitivity uint8

// Sensitivities, from least to most sensitive.
const (
	Internal Sensitivity = iota + 1
	Confidential
	Restricted
)

// String returns the canonical name of the sensitivity.
func (s Sensitivity) String() string {
	switch s {
	case Internal:
		return "internal"
	case Confidential:
		return "confidential"
	case Restricted:
		return "restricted"
	}
	return "unknown"
}

var groupSensitivity = [numFieldGroups]Sensitivity{
	Internal, Internal, Confidential, Confidential, Restricted, Restricted, Restricted,
}

// String returns the canonical snake_case name of the group.
func (g FieldGroup) String() string {
	if g < numFieldGroups {
		return fieldGroupNames[g]
	}
	return "unknown"
}

// Sensitivity returns the group's sensitivity.
func (g FieldGroup) Sensitivity() Sensitivity {
	if g < numFieldGroups {
		return groupSensitivity[g]
	}
	return Restricted
}

// ParseFieldGroup returns the group with the canonical name s.
func ParseFieldGroup(s string) (FieldGroup, bool) {
	for i, n := range fieldGroupNames {
		if n == s {
			return FieldGroup(i), true
		}
	}
	return 0, false
}

// FieldGroups returns every field group in canonical order.
func FieldGroups() []FieldGroup {
	out := make([]FieldGroup, numFieldGroups)
	for i := range out {
		out[i] = FieldGroup(i)
	}
	return out
}

// GroupSet is a set of field groups.
type GroupSet uint16

// AllGroups contains every field group. Only internal callers (the CLI, the
// sandbox, the sync engine) use it; consumers always get their grant's set.
const AllGroups GroupSet = 1<<numFieldGroups - 1

// GroupsOf returns the set holding gs.
func GroupsOf(gs ...FieldGroup) GroupSet {
	var s GroupSet
	for _, g := range gs {
		s = s.With(g)
	}
	return s
}

// Has reports whether g is in s.
func (s GroupSet) Has(g FieldGroup) bool { return s&(1<<g) != 0 }

// With returns s plus g.
func (s GroupSet) With(g FieldGroup) GroupSet { return s | 1<<g }

// Union returns the groups in s or t.
func (s GroupSet) Union(t GroupSet) GroupSet { return s | t }

// Intersect returns the groups in both s and t.
func (s GroupSet) Intersect(t GroupSet) GroupSet { return s & t }

// Len returns the number of groups in s.
func (s GroupSet) Len() int { return bits.OnesCount16(uint16(s & AllGroups)) }

// Groups returns the members of s in canonical order.
func (s GroupSet) Groups() []FieldGroup {
	var out []FieldGroup
	for g := FieldGroup(0); g < numFieldGroups; g++ {
		if s.Has(g) {
			out = append(out, g)
		}
	}
	return out
}

// String returns the members' names joined by commas.
func (s GroupSet) String() string {
	names := make([]string, 0, s.Len())
	for _, g := range s.Groups() {
		names = append(names, g.String())
	}
	return strings.Join(names, ",")
}

package grant_test

import (
	"slices"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

func TestGrant_Accessors(t *testing.T) {
	g := grant.MustParse("employees:read:identity,banking employees:read_masked:banking,government_id",
		"employees:write:employment time_off:write teams:read audit:read")
	if got, want := g.EmployeeGroups(), hrgate.GroupsOf(hrgate.GroupIdentity, hrgate.GroupBanking, hrgate.GroupGovernmentID); got != want {
		t.Errorf("EmployeeGroups() = %v, want %v", got, want)
	}
	// banking is granted read as well, and read wins.
	if got, want := g.MaskedGroups(), hrgate.GroupsOf(hrgate.GroupGovernmentID); got != want {
		t.Errorf("MaskedGroups() = %v, want %v", got, want)
	}
	if got, want := g.WritableGroups(), hrgate.GroupsOf(hrgate.GroupEmployment); got != want {
		t.Errorf("WritableGroups() = %v, want %v", got, want)
	}

	tests := []struct {
		resource  string
		read      bool
		write     bool
		emptyRead bool
	}{
		{"employees", true, true, false},
		{"time_off", false, true, false},
		{"teams", true, false, false},
		{"locations", false, false, false},
		{"audit", true, false, false},
		{"companies", false, false, false},
		{"payroll", false, false, false},
		{"", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			if got := g.CanRead(tt.resource); got != tt.read {
				t.Errorf("CanRead(%q) = %v, want %v", tt.resource, got, tt.read)
			}
			if got := g.CanWrite(tt.resource); got != tt.write {
				t.Errorf("CanWrite(%q) = %v, want %v", tt.resource, got, tt.write)
			}
			var empty, nilGrant *grant.Grant = grant.MustParse(), nil
			if empty.CanRead(tt.resource) || empty.CanWrite(tt.resource) ||
				nilGrant.CanRead(tt.resource) || nilGrant.CanWrite(tt.resource) {
				t.Errorf("an empty or nil grant allows %q", tt.resource)
			}
		})
	}

	t.Run("MaskedOnlyCanRead", func(t *testing.T) {
		m := grant.MustParse("employees:read_masked:banking")
		if !m.CanRead("employees") || m.CanWrite("employees") {
			t.Error("read_masked must allow reading employees and nothing else")
		}
	})
	t.Run("WriteDoesNotImplyRead", func(t *testing.T) {
		w := grant.MustParse("employees:write:identity time_off:write")
		if w.CanRead("employees") || w.CanRead("time_off") || w.EmployeeGroups() != 0 {
			t.Error("write scopes must not allow reading")
		}
	})
}

func TestGrant_CompanyScope(t *testing.T) {
	tests := []struct {
		name  string
		scope string
		want  hrgate.CompanyScope
	}{
		{"None", "employees:read:identity", hrgate.CompanyScope{}},
		{"Star", "companies:*", hrgate.CompanyScope{All: true}},
		{"StarAbsorbs", "companies:acme companies:*", hrgate.CompanyScope{All: true}},
		{"Refs", "companies:globex,acme,com_0123456789abcdefghjkmnpqrs",
			hrgate.CompanyScope{Refs: []string{"acme", "com_0123456789abcdefghjkmnpqrs", "globex"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := grant.MustParse(tt.scope)
			got := g.CompanyScope()
			if got.All != tt.want.All || !slices.Equal(got.Refs, tt.want.Refs) || got.SandboxOnly {
				t.Errorf("CompanyScope() = %+v, want %+v", got, tt.want)
			}
			if got.IsNone() != tt.want.IsNone() {
				t.Errorf("IsNone() = %v, want %v", got.IsNone(), tt.want.IsNone())
			}
			if g.CanRead("companies") == tt.want.IsNone() {
				t.Errorf("CanRead(companies) = %v with scope %+v", g.CanRead("companies"), got)
			}
			acme := &hrgate.Company{ID: "com_zzzzzzzzzzzzzzzzzzzzzzzzzz", Slug: "acme"}
			if want := tt.want.All || slices.Contains(tt.want.Refs, "acme"); got.Matches(acme) != want {
				t.Errorf("Matches(acme) = %v, want %v", !want, want)
			}
		})
	}
	t.Run("RefsAreACopy", func(t *testing.T) {
		g := grant.MustParse("companies:acme")
		g.CompanyScope().Refs[0] = "globex"
		if got := g.CompanyScope().Refs[0]; got != "acme" {
			t.Errorf("changing Refs changed the grant: %q", got)
		}
	})
	t.Run("Nil", func(t *testing.T) {
		var g *grant.Grant
		if !g.CompanyScope().IsNone() {
			t.Error("nil grant reaches companies")
		}
	})
}

func TestGrant_Covers(t *testing.T) {
	tests := []struct {
		name string
		g, h string
		want bool
	}{
		{"EmptyCoversEmpty", "", "", true},
		{"AnythingCoversEmpty", "employees:read:identity", "", true},
		{"EmptyCoversNothing", "", "audit:read", false},
		{"Same", "employees:read:identity companies:acme", "employees:read:identity companies:acme", true},
		{"SubsetOfGroups", "employees:read:identity,banking", "employees:read:banking", true},
		{"SupersetOfGroups", "employees:read:banking", "employees:read:identity,banking", false},
		{"ReadCoversMasked", "employees:read:banking", "employees:read_masked:banking", true},
		{"MaskedDoesNotCoverRead", "employees:read_masked:banking", "employees:read:banking", false},
		{"MaskedCoversMasked", "employees:read_masked:banking,identity", "employees:read_masked:banking", true},
		{"ReadDoesNotCoverWrite", "employees:read:identity", "employees:write:identity", false},
		{"WriteDoesNotCoverRead", "employees:write:identity", "employees:read:identity", false},
		{"WriteCoversWrite", "employees:write:identity,employment", "employees:write:identity", true},
		{"ResourceRead", "time_off:read teams:read", "teams:read", true},
		{"ResourceMissing", "time_off:read", "teams:read", false},
		{"ResourceReadNotWrite", "time_off:read", "time_off:write", false},
		{"StarCoversSlug", "companies:*", "companies:acme", true},
		{"StarCoversStar", "companies:*", "companies:*", true},
		{"SlugDoesNotCoverStar", "companies:acme,globex", "companies:*", false},
		{"SlugSubset", "companies:acme,globex", "companies:globex", true},
		{"SlugNotSubset", "companies:acme", "companies:acme,globex", false},
		{"SlugDoesNotCoverID", "companies:acme", "companies:com_0123456789abcdefghjkmnpqrs", false},
		{"CompaniesDoNotCoverAResource", "companies:acme", "audit:read", false},
		{"NoCompaniesInSubGrant", "companies:acme audit:read", "audit:read", true},
		{"NoCompaniesInGrant", "audit:read", "audit:read companies:acme", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, h := grant.MustParse(tt.g), grant.MustParse(tt.h)
			if got := g.Covers(h); got != tt.want {
				t.Errorf("%q.Covers(%q) = %v, want %v", tt.g, tt.h, got, tt.want)
			}
			// Covering means that intersecting changes nothing.
			if got := g.Intersect(h).Equal(h); got != tt.want {
				t.Errorf("%q ∩ %q == %q is %v, want %v", tt.g, tt.h, tt.h, got, tt.want)
			}
		})
	}
	t.Run("Nil", func(t *testing.T) {
		var nilGrant *grant.Grant
		if !nilGrant.Covers(nil) || !grant.MustParse("audit:read").Covers(nil) {
			t.Error("a nil sub-grant must be covered")
		}
		if nilGrant.Covers(grant.MustParse("audit:read")) {
			t.Error("a nil grant covers audit:read")
		}
	})
}

func TestGrant_Intersect(t *testing.T) {
	tests := []struct {
		name string
		g, h string
		want string
	}{
		{"Disjoint", "employees:read:identity", "employees:read:banking", ""},
		{"Groups", "employees:read:identity,banking", "employees:read:banking,contact", "employees:read:banking"},
		{"ReadAndMaskedIsMasked", "employees:read:banking", "employees:read_masked:banking", "employees:read_masked:banking"},
		{"MaskedAndReadIsMasked", "employees:read_masked:banking", "employees:read:banking,identity", "employees:read_masked:banking"},
		{"ReadStaysRead", "employees:read:banking employees:read_masked:identity", "employees:read:banking,identity",
			"employees:read:banking employees:read_masked:identity"},
		{"WriteSeparate", "employees:write:identity employees:read:identity", "employees:write:identity",
			"employees:write:identity"},
		{"Resources", "time_off:read time_off:write audit:read", "time_off:read teams:read", "time_off:read"},
		{"StarAndStar", "companies:*", "companies:*", "companies:*"},
		{"StarAndSlugs", "companies:*", "companies:globex,acme", "companies:acme,globex"},
		{"SlugsAndStar", "companies:globex,acme", "companies:*", "companies:acme,globex"},
		{"Slugs", "companies:acme,globex,initech", "companies:globex,umbrella,initech", "companies:globex,initech"},
		{"SlugsDisjoint", "companies:acme", "companies:globex", ""},
		{"SlugAndIDAreText", "companies:acme", "companies:com_0123456789abcdefghjkmnpqrs", ""},
		{"NoCompanies", "companies:*", "audit:read", ""},
		{"Realistic", "companies:acme,globex employees:read:identity,employment,compensation employees:read_masked:banking time_off:read",
			"companies:acme employees:read:identity,banking,government_id time_off:read time_off:write",
			"companies:acme employees:read:identity employees:read_masked:banking time_off:read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, h := grant.MustParse(tt.g), grant.MustParse(tt.h)
			for _, got := range []*grant.Grant{g.Intersect(h), h.Intersect(g)} {
				if got.String() != tt.want {
					t.Errorf("%q ∩ %q = %q, want %q", tt.g, tt.h, got, tt.want)
				}
				if !got.Equal(grant.MustParse(got.Scopes()...)) {
					t.Errorf("intersection %q is not canonical", got)
				}
				if !g.Covers(got) || !h.Covers(got) {
					t.Errorf("intersection %q not covered by both sides", got)
				}
			}
		})
	}
	t.Run("Nil", func(t *testing.T) {
		var nilGrant *grant.Grant
		if !nilGrant.Intersect(grant.MustParse("audit:read")).IsEmpty() ||
			!grant.MustParse("audit:read").Intersect(nil).IsEmpty() {
			t.Error("intersection with nil is not empty")
		}
	})
}

func TestGrant_NilAndEmpty(t *testing.T) {
	var g *grant.Grant
	if !g.IsEmpty() || g.String() != "" || len(g.Scopes()) != 0 || g.EmployeeGroups() != 0 ||
		g.MaskedGroups() != 0 || g.WritableGroups() != 0 {
		t.Error("a nil grant grants something")
	}
	if !g.Equal(grant.MustParse("")) {
		t.Error("nil grant differs from the empty grant")
	}
	if grant.MustParse("audit:read").IsEmpty() {
		t.Error("audit:read is empty")
	}
	if grant.MustParse("companies:acme").IsEmpty() {
		t.Error("companies:acme is empty")
	}
}

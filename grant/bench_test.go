package grant_test

import (
	"testing"

	"github.com/hrgate/hrgate/grant"
)

func BenchmarkAppendEmployee(b *testing.B) {
	benches := []struct {
		name   string
		scopes string
	}{
		{"Full", fullScopes},
		{"FullMasked", "employees:read_masked:identity,employment,contact,personal,compensation,banking,government_id"},
		{"Identity", "employees:read:identity"},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			e, g := fullEmployee(), grant.MustParse(bb.scopes)
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				buf = grant.AppendEmployee(buf[:0], e, g)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkParse(b *testing.B) {
	scopes := "companies:acme,globex employees:read:identity,employment,compensation employees:read_masked:banking time_off:read teams:read"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := grant.Parse(scopes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIntersect(b *testing.B) {
	g := grant.MustParse("companies:acme,globex employees:read:identity,employment,compensation employees:read_masked:banking time_off:read")
	h := grant.MustParse("companies:acme employees:read:identity,banking time_off:read time_off:write")
	b.ReportAllocs()
	for b.Loop() {
		g.Intersect(h)
	}
}

package grant_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/grant"
)

func TestJSONEscaping(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string   // decoded value
		raw    []string // must appear in the output
		notRaw []string // must not appear in the output
		masked string   // decoded value when read_masked
	}{
		{name: "Quotes", in: `say "hi" \o/`, want: `say "hi" \o/`, raw: []string{`\"hi\"`, `\\o/`}, masked: "****"},
		{name: "ControlChars", in: "a\x00b\x01\x1f\n\r\t\b\f\x7f", want: "a\x00b\x01\x1f\n\r\t\b\f\x7f",
			raw: []string{`\u0000`, `\u0001`, `\u001f`, `\n`, `\r`, `\t`, `\b`, `\f`}, notRaw: []string{"\x00", "\n"}, masked: "****"},
		{name: "HTML", in: "</script><b>&amp;", want: "</script><b>&amp;",
			raw: []string{`\u003c/script\u003e`, `\u0026`}, notRaw: []string{"<", ">", "&"}, masked: "</******><b>&amp;"},
		{name: "InvalidUTF8", in: "a\xffb\xc3", want: "a\ufffdb\ufffd", raw: []string{`a\ufffdb\ufffd`}, notRaw: []string{"\xff"}, masked: "****"},
		{name: "EncodedSurrogate", in: "x\xed\xa0\x80y", want: "x\ufffd\ufffd\ufffdy", notRaw: []string{"\xed"}, masked: "****"},
		{name: "LineSeparators", in: "a\u2028b\u2029c", want: "a\u2028b\u2029c",
			raw: []string{`\u2028`, `\u2029`}, notRaw: []string{"\u2028", "\u2029"}, masked: "****"},
		// A value long enough to keep its end shows what Mask keeps, and
		// that the masked writer escapes it.
		{name: "MaskedKeepsEscaped", in: "abcdefgh \"q\" \x01\n\u2028 wxyz", want: "abcdefgh \"q\" \x01\n\u2028 wxyz",
			raw: []string{`\"q\"`, `\u0001`, `\n`, `\u2028`}, notRaw: []string{"\x01", "\u2028"}, masked: "******** \"*\" \x01\n\u2028 wxyz"},
		{name: "Unicode", in: "Müller 山田 😀 \ufffd", want: "Müller 山田 😀 \ufffd", raw: []string{"Müller 山田 😀"}, masked: "****er 山田 😀 \ufffd"},
		{name: "LooksLikeJSON", in: `","first_name":"x`, want: `","first_name":"x`, masked: `","*****_*ame":"x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := grant.AppendTeam(nil, &hrgate.Team{ID: "tea_1", Name: tt.in})
			var team struct{ Name string }
			if err := json.Unmarshal(out, &team); err != nil {
				t.Fatalf("decode %s: %v", out, err)
			}
			if team.Name != tt.want {
				t.Errorf("name = %q, want %q", team.Name, tt.want)
			}
			for _, r := range tt.raw {
				if !bytes.Contains(out, []byte(r)) {
					t.Errorf("%s does not contain %s", out, r)
				}
			}
			for _, r := range tt.notRaw {
				if bytes.Contains(out, []byte(r)) {
					t.Errorf("%q contains %q", out, r)
				}
			}
			// Masked values go through a different writer; it must
			// escape what Mask keeps just as well.
			e := &hrgate.Employee{Loaded: hrgate.AllGroups}
			e.Identity.FirstName = tt.in
			out = grant.AppendEmployee(nil, e, grant.MustParse("employees:read_masked:identity"))
			var emp struct {
				FirstName string `json:"first_name"`
			}
			if err := json.Unmarshal(out, &emp); err != nil {
				t.Fatalf("decode %s: %v", out, err)
			}
			if emp.FirstName != tt.masked {
				t.Errorf("masked = %q, want %q", emp.FirstName, tt.masked)
			}
			for _, r := range tt.notRaw {
				if bytes.Contains(out, []byte(r)) {
					t.Errorf("masked %q contains %q", out, r)
				}
			}
		})
	}
}

func TestJSONEscaping_EveryByte(t *testing.T) {
	var b strings.Builder
	for c := range 256 {
		b.WriteByte(byte(c))
	}
	in := b.String()
	out := grant.AppendTeam(nil, &hrgate.Team{Name: in})
	var team struct{ Name string }
	if err := json.Unmarshal(out, &team); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if want := string([]rune(in)); team.Name != want {
		t.Errorf("name = %q, want %q", team.Name, want)
	}
}

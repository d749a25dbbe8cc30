// Package yamlerr turns the errors of gopkg.in/yaml.v3 into messages for
// the person who wrote the file: the line and what is wrong there, without
// the Go types the file was decoded into, and without repeating a value or
// key unless Echo lets it through (a pasted secret is named, not quoted).
package yamlerr

import (
	"regexp"
	"strings"

	"github.com/hrgate/hrgate"
)

var (
	linePrefix   = regexp.MustCompile(`^line \d+: `)
	unknownField = regexp.MustCompile(`^(line \d+: )field (.*) not found in type \S+$`)
	wrongKind    = regexp.MustCompile("^(line \\d+: )cannot unmarshal (!!\\w+)(?: `.*`)? into .*$")
)

// Message returns err, an error of yaml.v3's decoder, as a message: e.g.
// "line 3: field adr not found in type config.HTTP" becomes
// `line 3: unknown key "adr"`, and "line 2: cannot unmarshal !!str `x`
// into int" becomes "line 2: a value of the wrong kind (!!str)". Several
// problems are joined with "; ".
func Message(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var out []string
	for line := range strings.SplitSeq(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if m := unknownField.FindStringSubmatch(line); m != nil {
			line = m[1] + "unknown key " + hrgate.EchoQuoted(m[2])
		} else if m := wrongKind.FindStringSubmatch(line); m != nil {
			line = m[1] + "a value of the wrong kind (" + m[2] + ")"
		} else {
			// A message of the decoder's, or of an UnmarshalYAML that
			// quoted its value with EchoQuoted: kept whole after its
			// line number, unless it holds a secret.
			p := linePrefix.FindString(line)
			line = p + hrgate.Redact(line[len(p):])
		}
		out = append(out, line)
	}
	return strings.Join(out, "; ")
}

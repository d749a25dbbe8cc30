package yamlerr_test

import (
	"bytes"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hrgate/hrgate/internal/yamlerr"
)

type shape struct {
	Columns map[string]string `yaml:"columns"`
	Port    int               `yaml:"port"`
}

func decode(t *testing.T, in string) string {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(in)))
	dec.KnownFields(true)
	var s shape
	err := dec.Decode(&s)
	if err == nil {
		t.Fatalf("%q decoded", in)
	}
	return yamlerr.Message(err)
}

// The messages name the line and the problem, never the Go type decoded
// into, and never repeat a secret pasted as a key or value.
func TestMessage(t *testing.T) {
	const key = "hrg_live_0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct{ in, want string }{
		{"colums:\n  a: b\n", `line 1: unknown key "colums"`},
		{"columns:\n  a: [1]\n", "line 2: a value of the wrong kind (!!seq)"},
		{"port: " + key + "\n", "line 1: a value of the wrong kind (!!str)"},
		{key + ": 1\n", "line 1: unknown key "},
		{"columns: [\n", "line 1: did not find expected node content"},
		{"colums: 1\nprot: 2\n", `line 1: unknown key "colums"; line 2: unknown key "prot"`},
		// A message of the decoder's own is not cut, and one holding a
		// secret keeps its line.
		{"columns: [\n  a, b,\n  c: d\n", "line 3: did not find expected ',' or ']'"},
		{"columns:\n  a: b\n  a: c\n", `line 3: mapping key "a" already defined at line 2`},
		{"columns:\n  " + key + ": b\n  " + key + ": c\n", "line 3: (an API key, not repeated)"},
	} {
		got := decode(t, tc.in)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, want it to begin %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "shape") || strings.Contains(got, "yamlerr") || strings.Contains(got, "map[") || strings.Contains(got, key[:12]) {
			t.Errorf("%q: %q reveals a Go type or the key", tc.in, got)
		}
	}
}

package sources

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/yamlerr"
)

// Mapping says which column of a file holds which field. The zero
// Mapping, DefaultMapping, expects the canonical field names as column
// names. A column that is neither mapped nor ignored makes the file
// invalid: a misspelt header must not silently drop a field.
type Mapping struct {
	// Columns maps a column name, as the header writes it, to a field's
	// canonical name (remote_id, first_name, pay_rate, ...).
	Columns map[string]string `yaml:"columns"`
	// Ignore lists columns the import skips.
	Ignore []string `yaml:"ignore"`
}

// DefaultMapping is the mapping of files whose header uses the canonical
// field names.
var DefaultMapping = &Mapping{}

// maxMappingBytes bounds a mapping file.
const maxMappingBytes = 64 << 10

// ParseMapping reads a YAML mapping, refusing unknown keys, unknown
// fields and a field mapped from two columns.
func ParseMapping(r io.Reader) (*Mapping, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMappingBytes+1))
	if err != nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "Cannot read the mapping: %v", err)
	}
	if len(b) > maxMappingBytes {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The mapping is larger than %d KiB.", maxMappingBytes>>10)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var m Mapping
	if err := dec.Decode(&m); err != nil {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The mapping is not valid YAML of the expected shape (columns: a map of CSV column to field): %s", yamlerr.Message(err))
	}
	if len(m.Columns) == 0 {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The mapping has no columns.")
	}
	from := make(map[string]string, len(m.Columns))
	names := make([]string, 0, len(m.Columns))
	for col := range m.Columns {
		names = append(names, col)
	}
	sort.Strings(names)
	for _, col := range names {
		f := m.Columns[col]
		if f != remoteIDField && fields[f] == nil {
			return nil, hrgate.Errorf(hrgate.EINVALID, "The mapping maps column %s to %s, which is not an importable field.", hrgate.EchoQuoted(col), hrgate.EchoQuoted(f))
		}
		if prev, ok := from[f]; ok {
			return nil, hrgate.Errorf(hrgate.EINVALID, "The mapping maps both %s and %s to %s.", hrgate.EchoQuoted(prev), hrgate.EchoQuoted(col), f)
		}
		from[f] = col
	}
	if _, ok := from[remoteIDField]; !ok {
		return nil, hrgate.Errorf(hrgate.EINVALID, "The mapping must map a column to remote_id.")
	}
	return &m, nil
}

// layout is a mapping applied to a header: the field of each column (nil
// for an ignored one) and the groups the file carries.
type layout struct {
	fields   []*field
	remoteID int
	groups   hrgate.GroupSet
}

// bind applies the mapping to a header and returns the layout, or the
// problems of the header (row 0).
func (m *Mapping) bind(header []string) (*layout, []hrgate.RowProblem) {
	l := &layout{fields: make([]*field, len(header)), remoteID: -1}
	var ps []hrgate.RowProblem
	// A header is the sender's text: a column is named as hrgate.Echo
	// repeats it, so that a secret pasted into it is not kept in a run.
	bad := func(col, format string, args ...any) {
		ps = append(ps, hrgate.RowProblem{Row: 0, Column: hrgate.Echo(col), Message: fmt.Sprintf(format, args...)})
	}
	ignore := make(map[string]bool, len(m.Ignore))
	for _, c := range m.Ignore {
		ignore[c] = true
	}
	seenCol := make(map[string]bool, len(header))
	seenField := make(map[string]string, len(header))
	for i, col := range header {
		col = strings.TrimSpace(col)
		header[i] = col
		if p := checkText(col); p != "" || len(col) > 200 {
			bad(fmt.Sprintf("column %d", i+1), "The column name is too long or holds control characters.")
			continue
		}
		if seenCol[col] {
			bad(col, "The header names this column twice.")
			continue
		}
		seenCol[col] = true
		if ignore[col] {
			continue
		}
		name := col
		if m.Columns != nil {
			var ok bool
			if name, ok = m.Columns[col]; !ok {
				bad(col, "The column is neither mapped nor ignored by the mapping.")
				continue
			}
		}
		if prev, ok := seenField[name]; ok {
			bad(col, "The columns %s and %s both give %s.", hrgate.EchoQuoted(prev), hrgate.EchoQuoted(col), name)
			continue
		}
		seenField[name] = col
		if name == remoteIDField {
			l.remoteID = i
			continue
		}
		f := fields[name]
		if f == nil {
			bad(col, "Unknown column: not a field name (see docs/sources.md); give a mapping for other names.")
			continue
		}
		l.fields[i] = f
		l.groups = l.groups.With(f.group)
	}
	if l.remoteID < 0 {
		bad("", "No column gives remote_id, the employee's id in the source.")
	}
	return l, ps
}

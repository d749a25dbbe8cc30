// Package oapitest checks real HTTP responses against an OpenAPI 3.1
// document, so that a test suite proves the server answers what the
// published document promises, response by response.
//
// Schemas are compiled with JSON Schema draft 2020-12, the dialect of
// OpenAPI 3.1. Formats are annotations only: masked values such as
// "****" are valid where the document says "date".
package oapitest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL is the base URL the document is registered under in the schema
// compiler. It only anchors "#/..." references; nothing is ever fetched
// from it.
const docURL = "urn:hrgate:oapitest:openapi.json"

// methods are the operation keys of an OpenAPI path item, in the order
// Operations lists them.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// dialects are the values of jsonSchemaDialect under which the document's
// schemas can be compiled as draft 2020-12. The OpenAPI base dialect only
// adds annotation keywords to 2020-12.
var dialects = []string{
	"https://json-schema.org/draft/2020-12/schema",
	"https://spec.openapis.org/oas/3.1/dialect/base",
}

// Doc is a parsed OpenAPI 3.1 document able to validate real responses.
// It is safe for concurrent use.
type Doc struct {
	paths []*pathItem // sorted by template

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema // by JSON pointer into the document
}

// pathItem is one path template and its operations.
type pathItem struct {
	template string
	segments []segment
	literals int // number of segments without a parameter
	ops      map[string]*operation
}

// operation is the part of an OpenAPI operation that says what may come
// back.
type operation struct {
	method    string // upper case
	template  string
	responses map[string]*response // by status key: "200", "4XX", "default"
}

// response is a resolved response object.
type response struct {
	ptr     string               // JSON pointer of the response object
	content map[string]mediaType // by media type; nil when no body is documented
}

// mediaType is one entry of a response's content map.
type mediaType struct {
	schemaPtr string // JSON pointer of the schema, "" when none is given
}

// Load parses an OpenAPI 3.1 document in JSON and indexes its operations.
// Response schemas are compiled on first use; "#/components/..."
// references resolve against the whole document, and references to other
// documents are refused.
func Load(spec []byte) (*Doc, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec))
	if err != nil {
		return nil, fmt.Errorf("oapitest: document is not valid JSON: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("oapitest: document is not a JSON object")
	}
	version, _ := root["openapi"].(string)
	if !strings.HasPrefix(version, "3.1.") {
		return nil, fmt.Errorf("oapitest: openapi version %q is not 3.1.x", version)
	}
	if d, ok := root["jsonSchemaDialect"]; ok {
		if s, _ := d.(string); !slices.Contains(dialects, s) {
			return nil, fmt.Errorf("oapitest: jsonSchemaDialect %v is not supported", d)
		}
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(docURL, root); err != nil {
		return nil, fmt.Errorf("oapitest: %w", err)
	}
	d := &Doc{compiler: c, schemas: map[string]*jsonschema.Schema{}}

	paths, _ := root["paths"].(map[string]any)
	for template, raw := range paths {
		ptr := "/paths/" + escape(template)
		item, itemPtr, err := resolve(root, raw, ptr)
		if err != nil {
			return nil, err
		}
		segs, err := parseTemplate(template)
		if err != nil {
			return nil, err
		}
		pi := &pathItem{template: template, segments: segs, ops: map[string]*operation{}}
		for _, s := range segs {
			if s.literal() {
				pi.literals++
			}
		}
		for _, m := range methods {
			rawOp, ok := item[m]
			if !ok {
				continue
			}
			op, err := parseOperation(root, rawOp, itemPtr+"/"+m)
			if err != nil {
				return nil, err
			}
			op.method = strings.ToUpper(m)
			op.template = template
			pi.ops[op.method] = op
		}
		d.paths = append(d.paths, pi)
	}
	slices.SortFunc(d.paths, func(a, b *pathItem) int { return strings.Compare(a.template, b.template) })
	return d, nil
}

// parseOperation reads the responses of the operation at ptr.
func parseOperation(root map[string]any, raw any, ptr string) (*operation, error) {
	op, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("oapitest: %s is not an object", ptr)
	}
	resps, ok := op["responses"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("oapitest: %s has no responses", ptr)
	}
	o := &operation{responses: map[string]*response{}}
	for status, rawResp := range resps {
		resp, respPtr, err := resolve(root, rawResp, ptr+"/responses/"+escape(status))
		if err != nil {
			return nil, err
		}
		r := &response{ptr: respPtr}
		if content, ok := resp["content"].(map[string]any); ok {
			r.content = map[string]mediaType{}
			for mt, rawMT := range content {
				m, ok := rawMT.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("oapitest: %s/content/%s is not an object", respPtr, escape(mt))
				}
				var media mediaType
				if sch, ok := m["schema"]; ok {
					media.schemaPtr = schemaPointer(root, sch, respPtr+"/content/"+escape(mt)+"/schema")
				}
				r.content[strings.ToLower(mt)] = media
			}
		}
		o.responses[strings.ToUpper(status)] = r
	}
	return o, nil
}

// schemaPointer returns the pointer to compile for the schema sch found at
// ptr. A schema that is nothing but a local reference is replaced by its
// target, so that operations sharing a component share one compiled schema
// and errors name the component.
func schemaPointer(root map[string]any, sch any, ptr string) string {
	for range 32 {
		obj, ok := sch.(map[string]any)
		if !ok || len(obj) != 1 {
			return ptr
		}
		ref, ok := obj["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#") {
			return ptr
		}
		target, err := lookup(root, ref[1:])
		if err != nil {
			return ptr // the compiler reports the broken reference
		}
		sch, ptr = target, ref[1:]
	}
	return ptr
}

// resolve follows a chain of local "$ref"s starting at v, found at ptr, and
// returns the object it ends at with that object's pointer.
func resolve(root map[string]any, v any, ptr string) (map[string]any, string, error) {
	seen := map[string]bool{}
	for {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("oapitest: %s is not an object", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj, ptr, nil
		}
		if !strings.HasPrefix(ref, "#") {
			return nil, "", fmt.Errorf("oapitest: %s: reference %q leaves the document", ptr, ref)
		}
		if seen[ref] {
			return nil, "", fmt.Errorf("oapitest: %s: reference cycle through %q", ptr, ref)
		}
		seen[ref] = true
		target, err := lookup(root, ref[1:])
		if err != nil {
			return nil, "", fmt.Errorf("oapitest: %s: %w", ptr, err)
		}
		v, ptr = target, ref[1:]
	}
}

// lookup returns the value at the JSON pointer ptr inside root.
func lookup(root any, ptr string) (any, error) {
	if ptr == "" {
		return root, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("reference %q is not a JSON pointer", "#"+ptr)
	}
	v := root
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q does not resolve", "#"+ptr)
		}
		if v, ok = obj[tok]; !ok {
			return nil, fmt.Errorf("reference %q does not resolve", "#"+ptr)
		}
	}
	return v, nil
}

// escape turns a key into a JSON pointer token.
func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// Operations returns every operation of the document as "METHOD /path"
// with the path as templated in the document, ordered by path and then
// method. Tests use it to check that every route is exercised.
func (d *Doc) Operations() []string {
	var out []string
	for _, pi := range d.paths {
		for _, m := range methods {
			if op, ok := pi.ops[strings.ToUpper(m)]; ok {
				out = append(out, op.method+" "+pi.template)
			}
		}
	}
	return out
}

// refuseLoader is the compiler's loader for anything outside the document:
// a response validator must not read files or the network.
type refuseLoader struct{}

// Load implements jsonschema.URLLoader by refusing every URL.
func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external reference %s is not supported", url)
}

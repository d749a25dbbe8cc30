package oapitest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidateResponse checks one response against the document. path is the
// real request path ("/v1/employees/emp_abc"), matched against the
// document's path templates. It fails when no operation matches, when the
// status is not documented (neither exactly, as a range like "4XX", nor as
// "default"), when the media type of contentType is not documented for
// that response, or when a JSON body is not valid JSON or does not match
// the documented schema; a schema error names the JSON pointer of each
// offending value and the reason.
func (d *Doc) ValidateResponse(method, path string, status int, contentType string, body []byte) error {
	method = strings.ToUpper(method)
	pi := d.find(path)
	if pi == nil {
		return fmt.Errorf("%s %s: no path of the document matches", method, path)
	}
	op := pi.ops[method]
	if op == nil {
		return fmt.Errorf("%s %s: path %s has no %s operation", method, path, pi.template, method)
	}
	resp := op.response(status)
	if resp == nil {
		return fmt.Errorf("status %d not documented for %s %s", status, method, path)
	}
	where := fmt.Sprintf("%s %s: status %d", method, path, status)

	if resp.content == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s: the document describes no body, got %d bytes", where, len(body))
		}
		return nil
	}
	mt, err := parseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	media, ok := resp.media(mt)
	if !ok {
		return fmt.Errorf("%s: content type %q not documented (documented: %s)", where, mt, strings.Join(resp.mediaTypes(), ", "))
	}
	if !isJSON(mt) {
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: body is not valid JSON: %w", where, err)
	}
	if media.schemaPtr == "" {
		return nil
	}
	sch, err := d.schema(media.schemaPtr)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s: body does not match #%s: %s", where, media.schemaPtr, describe(err))
	}
	return nil
}

// Validate checks resp, whose body has already been read into body,
// against the document and reports a mismatch with tb.Errorf.
func (d *Doc) Validate(tb testing.TB, resp *http.Response, body []byte) {
	tb.Helper()
	if resp == nil || resp.Request == nil || resp.Request.URL == nil {
		tb.Errorf("oapitest: response has no request to validate against")
		return
	}
	req := resp.Request
	if err := d.ValidateResponse(req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
		tb.Errorf("oapitest: %v", err)
	}
}

// response returns the response documented for status: the exact code
// first, then its range ("4XX"), then "default".
func (op *operation) response(status int) *response {
	code := strconv.Itoa(status)
	if r, ok := op.responses[code]; ok {
		return r
	}
	if len(code) == 3 {
		if r, ok := op.responses[code[:1]+"XX"]; ok {
			return r
		}
	}
	return op.responses["DEFAULT"]
}

// media returns the entry of the content map that covers mt: the exact
// media type first, then "type/*", then "*/*".
func (r *response) media(mt string) (mediaType, bool) {
	if m, ok := r.content[mt]; ok {
		return m, true
	}
	if typ, _, ok := strings.Cut(mt, "/"); ok {
		if m, ok := r.content[typ+"/*"]; ok {
			return m, true
		}
	}
	m, ok := r.content["*/*"]
	return m, ok
}

// mediaTypes returns the documented media types, sorted.
func (r *response) mediaTypes() []string {
	out := make([]string, 0, len(r.content))
	for mt := range r.content {
		out = append(out, mt)
	}
	slices.Sort(out)
	return out
}

// parseMediaType returns the lower-case media type of a Content-Type header
// value without its parameters.
func parseMediaType(contentType string) (string, error) {
	if contentType == "" {
		return "", errors.New("no Content-Type")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("malformed Content-Type %q: %w", contentType, err)
	}
	return mt, nil
}

// isJSON reports whether the media type carries JSON, as application/json
// and every "+json" type such as application/problem+json do.
func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// schema returns the compiled schema at the JSON pointer ptr of the
// document, compiling it on first use.
func (d *Doc) schema(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sch, ok := d.schemas[ptr]; ok {
		return sch, nil
	}
	sch, err := d.compiler.Compile(docURL + "#" + fragment(ptr))
	if err != nil {
		return nil, fmt.Errorf("schema #%s does not compile: %w", ptr, err)
	}
	d.schemas[ptr] = sch
	return sch, nil
}

// fragment percent-encodes each token of a JSON pointer for use as a URL
// fragment, so that characters such as "{" survive URL parsing.
func fragment(ptr string) string {
	toks := strings.Split(ptr, "/")
	for i, t := range toks {
		toks[i] = url.PathEscape(t)
	}
	return strings.Join(toks, "/")
}

// describe turns a validation error into one line per offending value:
// its JSON pointer in the body and the reason.
func describe(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var lines []string
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if u.Error != nil {
			loc := u.InstanceLocation
			if loc == "" {
				loc = "/"
			}
			line := fmt.Sprintf("at %s: %s", loc, u.Error)
			if !slices.Contains(lines, line) {
				lines = append(lines, line)
			}
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.DetailedOutput())
	return strings.Join(lines, "; ")
}

// ReadBody reads and closes resp.Body, returning the bytes so that the
// caller can both validate and inspect them.
func ReadBody(tb testing.TB, resp *http.Response) []byte {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("oapitest: reading body: %v", err)
	}
	return b
}

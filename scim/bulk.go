package scim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/hrgate/hrgate"
)

// maxBulkOps is the most operations a Bulk request carries: what
// Microsoft Entra sends at most, and what ServiceProviderConfig
// advertises.
const maxBulkOps = 50

type bulkOp struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

type bulkResult struct {
	Location string          `json:"location,omitempty"`
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// bulk serves POST /Bulk (RFC 7644 §3.7). Operations run one after the
// other, each in its own transaction of the sync engine, so that one
// refused operation does not undo the others; failOnErrors stops the
// request after that many errors. A "bulkId:x" value anywhere in an
// operation's data or path names the user an operation with bulkId x
// created; an operation that refers to one not created yet waits until
// it is, and a reference that can never resolve (unknown, circular, or
// to a failed operation) fails its operation with 409.
func (h *Handler) bulk(w http.ResponseWriter, r *http.Request, src *hrgate.Source) error {
	var req struct {
		Schemas      []string `json:"schemas"`
		FailOnErrors int      `json:"failOnErrors"`
		Operations   []bulkOp `json:"Operations"`
	}
	if err := h.readBody(r, &req); err != nil {
		return err
	}
	if !hasSchema(req.Schemas, schemaBulkRequest) {
		return invalidSyntax("A Bulk body is a BulkRequest message: schemas must hold " + schemaBulkRequest + ".")
	}
	if len(req.Operations) > maxBulkOps {
		return &Error{Status: 413, Detail: "A Bulk request carries at most " + strconv.Itoa(maxBulkOps) + " operations (maxOperations)."}
	}
	if len(req.Operations) == 0 {
		return invalidSyntax("A Bulk request needs at least one operation.")
	}
	seen := map[string]bool{}
	for _, op := range req.Operations {
		if op.BulkID == "" {
			continue
		}
		if seen[op.BulkID] {
			return invalidValue("Two operations have the same bulkId.")
		}
		seen[op.BulkID] = true
	}
	// Each operation's references, read once: a chain in reverse order
	// takes a pass per link, and its data does not change between them.
	refs := make([][]string, len(req.Operations))
	for i, op := range req.Operations {
		refs[i] = bulkRefs(op)
	}
	results := make([]*bulkResult, len(req.Operations))
	created := map[string]string{} // bulkId → user id
	failed := map[string]bool{}    // bulkIds of operations that failed
	var ids []string
	errorsSeen := 0
	for {
		progress, pending := false, false
		for i, op := range req.Operations {
			if results[i] != nil {
				continue
			}
			waiting, broken := false, false
			for _, ref := range refs[i] {
				switch {
				case failed[ref] || !seen[ref]:
					broken = true
				case created[ref] == "":
					waiting = true
				}
			}
			if waiting && !broken {
				pending = true
				continue
			}
			progress = true
			var res *bulkResult
			if broken {
				res = h.bulkError(r, op, &Error{Status: 409, Type: "invalidValue", Detail: "The operation refers to a bulkId no operation of this request created."})
			} else {
				res = h.bulkOne(r, src, op, created)
			}
			results[i] = res
			if res.Response != nil {
				errorsSeen++
				if op.BulkID != "" {
					failed[op.BulkID] = true
				}
			} else if id := lastSegment(res.Location); id != "" {
				ids = append(ids, id)
			}
			if req.FailOnErrors > 0 && errorsSeen >= req.FailOnErrors {
				pending = false
				break
			}
		}
		if !pending {
			break
		}
		if !progress {
			// Only circular references are left.
			for i, op := range req.Operations {
				if results[i] == nil {
					results[i] = h.bulkError(r, op, &Error{Status: 409, Type: "invalidValue", Detail: "The operation's bulkId references are circular."})
					errorsSeen++
				}
			}
			break
		}
	}
	out := make([]*bulkResult, 0, len(results))
	for _, res := range results {
		if res != nil {
			out = append(out, res)
		}
	}
	h.observe(r, "POST "+Prefix+"/Bulk", ids)
	return writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{schemaBulkResponse}, "Operations": out})
}

// bulkOne runs one operation whose references all resolve.
func (h *Handler) bulkOne(r *http.Request, src *hrgate.Source, op bulkOp, created map[string]string) *bulkResult {
	ctx := r.Context()
	method := strings.ToUpper(op.Method)
	data := resolveRefs(op.Data, created)
	resource, id, _ := strings.Cut(strings.TrimPrefix(op.Path, "/"), "/")
	id = resolveString(id, created)
	if resource != "Users" || strings.Contains(id, "/") {
		return h.bulkError(r, op, &Error{Status: 404, Detail: "A Bulk operation's path is /Users or /Users/{id}."})
	}
	decode := func(v any) error {
		if len(data) == 0 {
			return invalidSyntax("The operation has no data.")
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		if err := dec.Decode(v); err != nil {
			return invalidSyntax("The operation's data is not valid JSON of the expected shape.")
		}
		return nil
	}
	var (
		u      *user
		err    error
		status = http.StatusOK
	)
	switch {
	case method == http.MethodPost && id == "":
		if op.BulkID == "" {
			return h.bulkError(r, op, invalidValue("A POST operation needs a bulkId."))
		}
		var raw map[string]any
		if err = decode(&raw); err == nil {
			u, err = h.svc.create(ctx, src, normalize(raw))
			status = http.StatusCreated
		}
	case method == http.MethodPut && id != "":
		var raw map[string]any
		if err = decode(&raw); err == nil {
			u, err = h.svc.replace(ctx, src, id, normalize(raw), op.Version)
		}
	case method == http.MethodPatch && id != "":
		var req struct {
			Schemas    []string  `json:"schemas"`
			Operations []patchOp `json:"Operations"`
		}
		if err = decode(&req); err == nil {
			u, err = h.svc.patch(ctx, src, id, req.Operations, op.Version)
		}
	case method == http.MethodDelete && id != "":
		if err = h.svc.remove(ctx, src, id, op.Version); err == nil {
			return &bulkResult{Method: method, BulkID: op.BulkID, Status: "204", Location: base(r) + "/" + id}
		}
	default:
		err = &Error{Status: 405, Detail: "A Bulk operation is POST /Users, or PUT, PATCH or DELETE /Users/{id}."}
	}
	if err != nil {
		return h.bulkError(r, op, err)
	}
	if op.BulkID != "" && method == http.MethodPost {
		created[op.BulkID] = u.e.ID
	}
	return &bulkResult{Method: method, BulkID: op.BulkID, Status: strconv.Itoa(status), Location: base(r) + "/" + u.e.ID, Version: u.version()}
}

// bulkError is the result of a failed operation; the cause of an
// internal error goes to LogError, since the answer hides it.
func (h *Handler) bulkError(r *http.Request, op bulkOp, err error) *bulkResult {
	e := withStatus(err, h.statusOf(err))
	if e.Status >= http.StatusInternalServerError {
		h.logError(r, err)
	}
	return &bulkResult{Method: strings.ToUpper(op.Method), BulkID: op.BulkID, Status: strconv.Itoa(e.Status), Response: e.body()}
}

// bulkRefs returns the bulkIds an operation refers to.
func bulkRefs(op bulkOp) []string {
	var refs []string
	collect := func(s string) {
		if rest, ok := strings.CutPrefix(s, "bulkId:"); ok {
			refs = append(refs, rest)
		}
	}
	_, id, _ := strings.Cut(strings.TrimPrefix(op.Path, "/"), "/")
	collect(id)
	var v any
	if json.Unmarshal(op.Data, &v) == nil {
		walkStrings(v, collect)
	}
	return refs
}

func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, it := range v {
			walkStrings(it, fn)
		}
	case map[string]any:
		for _, it := range v {
			walkStrings(it, fn)
		}
	}
}

// resolveRefs replaces every "bulkId:x" string of data by the id of the
// user x created.
func resolveRefs(data json.RawMessage, created map[string]string) json.RawMessage {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if len(data) == 0 || dec.Decode(&v) != nil {
		return data
	}
	v = replaceStrings(v, func(s string) string { return resolveString(s, created) })
	b, err := json.Marshal(v)
	if err != nil {
		return data
	}
	return b
}

func replaceStrings(v any, fn func(string) string) any {
	switch v := v.(type) {
	case string:
		return fn(v)
	case []any:
		for i, it := range v {
			v[i] = replaceStrings(it, fn)
		}
	case map[string]any:
		for k, it := range v {
			v[k] = replaceStrings(it, fn)
		}
	}
	return v
}

// resolveString resolves a value that is "bulkId:x", the form bulkRefs
// recognizes (RFC 7644 §3.7.2); "bulkId:" inside a longer value is text,
// as it is to the dependency order, and stays as sent.
func resolveString(s string, created map[string]string) string {
	if ref, ok := strings.CutPrefix(s, "bulkId:"); ok {
		if id, ok := created[ref]; ok {
			return id
		}
	}
	return s
}

func lastSegment(loc string) string {
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		return loc[i+1:]
	}
	return ""
}

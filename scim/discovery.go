package scim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The discovery endpoints (RFC 7644 §4): what this server supports, its
// schemas and its one resource type.

func (h *Handler) spConfig(r *http.Request) map[string]any {
	return map[string]any{
		"schemas":          []string{schemaSPConfig},
		"documentationUri": "https://github.com/hrgate/hrgate/blob/main/docs/scim.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": maxBulkOps, "maxPayloadSize": h.maxPayload},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "Source token", "primary": true,
			"description": "The bearer token hrgate printed when the SCIM source was created or its credential last rotated (hrg_scim_…).",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": endpoint(r, "/ServiceProviderConfig")},
	}
}

func endpoint(r *http.Request, p string) string {
	return strings.TrimSuffix(base(r), "/Users") + p
}

func resourceTypeDocs(r *http.Request) map[string]map[string]any {
	return map[string]map[string]any{"User": {
		"schemas":     []string{schemaResourceType},
		"id":          "User",
		"name":        "User",
		"endpoint":    "/Users",
		"description": "An employee of the source's company. There is no Group resource type.",
		"schema":      SchemaUser,
		"schemaExtensions": []any{
			map[string]any{"schema": SchemaEnterprise, "required": false},
			map[string]any{"schema": SchemaHRGate, "required": false},
		},
		"meta": map[string]any{"resourceType": "ResourceType", "location": endpoint(r, "/ResourceTypes/User")},
	}}
}

func schemaDocs(r *http.Request) map[string]map[string]any {
	out := make(map[string]map[string]any, len(schemas))
	for _, s := range schemas {
		attrs := make([]any, len(s.Attrs))
		for i, a := range s.Attrs {
			attrs[i] = attrDoc(a)
		}
		out[s.ID] = map[string]any{
			"schemas":     []string{schemaSchema},
			"id":          s.ID,
			"name":        s.Name,
			"description": s.Description,
			"attributes":  attrs,
			"meta":        map[string]any{"resourceType": "Schema", "location": endpoint(r, "/Schemas/"+s.ID)},
		}
	}
	return out
}

func attrDoc(a *attr) map[string]any {
	d := map[string]any{
		"name": a.Name, "type": a.Type, "multiValued": a.Multi, "required": a.Required, "caseExact": a.CaseExact,
		"mutability": a.Mutability, "returned": a.Returned, "uniqueness": a.Uniqueness, "description": a.Description,
	}
	if d["uniqueness"] == "" {
		d["uniqueness"] = "none"
	}
	if d["returned"] == "" {
		d["returned"] = "default"
	}
	if len(a.Canonical) > 0 {
		d["canonicalValues"] = a.Canonical
	}
	if a.Type == typeReference {
		d["referenceTypes"] = []string{"User"}
	}
	if len(a.Sub) > 0 {
		subs := make([]any, len(a.Sub))
		for i, s := range a.Sub {
			subs[i] = attrDoc(s)
		}
		d["subAttributes"] = subs
	}
	return d
}

// document serves a fixed document at GET route.
func (h *Handler) document(w http.ResponseWriter, r *http.Request, route string, doc map[string]any) error {
	h.observe(r, "GET "+route, nil)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return notAllowed(w, "GET")
	}
	return writeJSON(w, http.StatusOK, doc)
}

// discovery serves a list of documents, or one of them by id.
func (h *Handler) discovery(w http.ResponseWriter, r *http.Request, route, id string, docs map[string]map[string]any) error {
	if id != "" {
		h.observe(r, "GET "+route+"/{id}", nil)
	} else {
		h.observe(r, "GET "+route, nil)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return notAllowed(w, "GET")
	}
	if id != "" {
		for k, d := range docs {
			if strings.EqualFold(k, id) {
				return writeJSON(w, http.StatusOK, d)
			}
		}
		return &Error{Status: 404, Detail: "No such document."}
	}
	var order []string
	if strings.HasSuffix(route, "/Schemas") {
		for _, s := range schemas {
			order = append(order, s.ID)
		}
	} else {
		order = []string{"User"}
	}
	list := make([]any, 0, len(order))
	for _, k := range order {
		list = append(list, docs[k])
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{schemaListResponse}, "totalResults": len(list), "startIndex": 1,
		"itemsPerPage": len(list), "Resources": list,
	})
}

// project applies the attributes and excludedAttributes parameters (RFC
// 7644 §3.4.2.5) to a user document: id and schemas are always returned.
// Paths are attributes or sub-attributes, URN-qualified for extensions.
func project(doc document, q url.Values) (document, error) {
	// Bounded as a filter is: a list projects every user of its page.
	for _, param := range []string{"attributes", "excludedAttributes"} {
		if len(q.Get(param)) > maxFilterLen {
			return nil, invalidValue(fmt.Sprintf("%s is longer than %d bytes.", param, maxFilterLen))
		}
	}
	incl, excl := splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes"))
	if len(incl) == 0 && len(excl) == 0 {
		return doc, nil
	}
	if len(incl) > 0 {
		out := document{"id": doc["id"], "schemas": doc["schemas"]}
		for _, p := range incl {
			pt, err := resolvePath(p)
			if err != nil {
				return nil, invalidValue("attributes: " + err.Error())
			}
			copyPath(out, doc, pt)
		}
		return out, nil
	}
	for _, p := range excl {
		pt, err := resolvePath(p)
		if err != nil {
			return nil, invalidValue("excludedAttributes: " + err.Error())
		}
		if pt.schema == userSchema && (pt.attr.Name == "id") {
			continue
		}
		removePath(doc, pt)
	}
	return doc, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func containerOf(doc document, pt path, create bool) map[string]any {
	if pt.schema == userSchema {
		return doc
	}
	m, _ := doc[pt.schema.ID].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		doc[pt.schema.ID] = m
	}
	return m
}

func copyPath(dst, src document, pt path) {
	from := containerOf(src, pt, false)
	if from == nil {
		return
	}
	v, ok := from[pt.attr.Name]
	if !ok {
		return
	}
	to := containerOf(dst, pt, true)
	if pt.sub == nil {
		to[pt.attr.Name] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if sv, ok := v[pt.sub.Name]; ok {
			o, _ := to[pt.attr.Name].(map[string]any)
			if o == nil {
				o = map[string]any{}
				to[pt.attr.Name] = o
			}
			o[pt.sub.Name] = sv
		}
	case []any:
		var items []any
		for _, it := range v {
			if o, ok := it.(map[string]any); ok {
				if sv, ok := o[pt.sub.Name]; ok {
					items = append(items, map[string]any{pt.sub.Name: sv})
				}
			}
		}
		if items != nil {
			to[pt.attr.Name] = items
		}
	}
}

func removePath(doc document, pt path) {
	c := containerOf(doc, pt, false)
	if c == nil {
		return
	}
	if pt.sub == nil {
		delete(c, pt.attr.Name)
		return
	}
	switch v := c[pt.attr.Name].(type) {
	case map[string]any:
		delete(v, pt.sub.Name)
	case []any:
		for _, it := range v {
			if o, ok := it.(map[string]any); ok {
				delete(o, pt.sub.Name)
			}
		}
	}
}

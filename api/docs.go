package api

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/castellan-iam/castellan/web"
)

// DocsPath is where the API reference is: a page rendered on the server
// from the OpenAPI document as it is when asked (with every surface
// registered), with no script and nothing loaded from elsewhere.
const DocsPath = "/docs"

// docsView is the API reference: the operations by tag, then the
// schemas.
type docsView struct {
	Title, Version, Description string
	Tags                        []docsTag
	Schemas                     []docsSchema
}

type docsTag struct {
	Name, Description string
	Ops               []docsOp
}

type docsOp struct {
	ID, Method, Path, Summary, Description string
	Params                                 []docsField
	Body                                   template.HTML
	Responses                              [][2]string
}

// docsField is a parameter or a schema's property.
type docsField struct {
	Name, In, Description string
	Type                  template.HTML
	Required              bool
}

type docsSchema struct {
	Name, Description string
	Fields            []docsField
}

// registerDocs serves the API reference at DocsPath.
func (s *Server) registerDocs(mux *http.ServeMux) {
	mux.HandleFunc("GET "+DocsPath, func(w http.ResponseWriter, r *http.Request) {
		web.StartPage(w, http.StatusOK, docsCSP)
		if err := docsPage.Execute(w, newDocsView(s.api.OpenAPI())); err != nil {
			web.Logger(r.Context()).Error("API reference", "err", err)
		}
	})
}

func newDocsView(doc *huma.OpenAPI) docsView {
	v := docsView{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	// byTag indexes v.Tags by name (indexes: appending moves the tags).
	byTag := map[string]int{}
	for i, t := range doc.Tags {
		v.Tags = append(v.Tags, docsTag{Name: t.Name, Description: t.Description})
		byTag[t.Name] = i
	}
	for _, path := range slices.Sorted(maps.Keys(doc.Paths)) {
		item := doc.Paths[path]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil {
				continue
			}
			tag := "Other"
			if len(m.op.Tags) > 0 {
				tag = m.op.Tags[0]
			}
			i, ok := byTag[tag]
			if !ok {
				i = len(v.Tags)
				v.Tags = append(v.Tags, docsTag{Name: tag})
				byTag[tag] = i
			}
			v.Tags[i].Ops = append(v.Tags[i].Ops, newDocsOp(m.method, path, m.op))
		}
	}
	v.Tags = slices.DeleteFunc(v.Tags, func(t docsTag) bool { return len(t.Ops) == 0 })
	if doc.Components != nil && doc.Components.Schemas != nil {
		schemas := doc.Components.Schemas.Map()
		for _, name := range slices.Sorted(maps.Keys(schemas)) {
			sc := schemas[name]
			ds := docsSchema{Name: name, Description: sc.Description}
			for _, prop := range slices.Sorted(maps.Keys(sc.Properties)) {
				ds.Fields = append(ds.Fields, docsField{Name: prop, Type: schemaType(sc.Properties[prop]),
					Description: sc.Properties[prop].Description, Required: slices.Contains(sc.Required, prop)})
			}
			v.Schemas = append(v.Schemas, ds)
		}
	}
	return v
}

func newDocsOp(method, path string, op *huma.Operation) docsOp {
	d := docsOp{ID: op.OperationID, Method: method, Path: path, Summary: op.Summary, Description: op.Description}
	for _, p := range op.Parameters {
		d.Params = append(d.Params, docsField{Name: p.Name, In: p.In, Type: schemaType(p.Schema), Description: p.Description, Required: p.Required})
	}
	if op.RequestBody != nil {
		for _, ct := range slices.Sorted(maps.Keys(op.RequestBody.Content)) {
			d.Body += template.HTML(template.HTMLEscapeString(ct)+": ") + schemaType(op.RequestBody.Content[ct].Schema) + " "
		}
	}
	for _, status := range slices.Sorted(maps.Keys(op.Responses)) {
		d.Responses = append(d.Responses, [2]string{status, op.Responses[status].Description})
	}
	return d
}

// schemaType names a schema's type, linking a named schema to its entry.
func schemaType(sc *huma.Schema) template.HTML {
	switch {
	case sc == nil:
		return ""
	case sc.Ref != "":
		name := sc.Ref[strings.LastIndex(sc.Ref, "/")+1:]
		return template.HTML(fmt.Sprintf(`<a href="#schema-%s">%s</a>`, template.HTMLEscapeString(name), template.HTMLEscapeString(name)))
	case sc.Type == "array":
		return "array of " + schemaType(sc.Items)
	}
	t := template.HTMLEscapeString(cmp.Or(sc.Type, "any"))
	if sc.Format != "" {
		t += " (" + template.HTMLEscapeString(sc.Format) + ")"
	}
	if len(sc.Enum) > 0 {
		var values []string
		for _, e := range sc.Enum {
			values = append(values, fmt.Sprint(e))
		}
		t += ": " + template.HTMLEscapeString(strings.Join(values, ", "))
	}
	return template.HTML(t)
}

// docsStyle is the reference's one style sheet, allowed by its hash.
const docsStyle = `body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}a{color:#4493f8}section.op,table{background:#161b22!important;border-color:#30363d!important}}
header{padding:1rem 1.5rem;border-bottom:1px solid #d8dee4}main{display:flex;gap:2rem;padding:0 1.5rem}nav{flex:0 0 16rem;position:sticky;top:0;align-self:flex-start;max-height:100vh;overflow:auto;padding:1rem 0}
nav a{display:block;text-decoration:none;padding:.1rem 0}article{flex:1;min-width:0;max-width:70rem}h2{margin-top:2rem}
section.op{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:.5rem 1rem;margin:1rem 0}
.method{display:inline-block;min-width:4rem;font-weight:700}code{font-family:ui-monospace,Menlo,monospace}p.desc{white-space:pre-wrap}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:top}
@media (max-width:760px){main{display:block}nav{position:static;max-height:none}}`

var (
	docsCSP = web.PageCSP + "; style-src 'sha256-" + func() string {
		sum := sha256.Sum256([]byte(docsStyle))
		return base64.StdEncoding.EncodeToString(sum[:])
	}() + "'"
	docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>` + docsStyle + `</style></head>
<body><header><strong>{{.Title}} reference</strong> · version {{.Version}} · <a href="/v1/openapi.json">OpenAPI document</a> · <a href="/console">Console</a></header>
<main><nav aria-label="Operations">{{range .Tags}}<a href="#tag-{{.Name}}"><strong>{{.Name}}</strong></a>{{end}}<a href="#schemas"><strong>Schemas</strong></a></nav>
<article><p class="desc">{{.Description}}</p>
{{range .Tags}}<h2 id="tag-{{.Name}}">{{.Name}}</h2>{{with .Description}}<p>{{.}}</p>{{end}}
{{range .Ops}}<section class="op" id="op-{{.ID}}"><h3><span class="method">{{.Method}}</span> <code>{{.Path}}</code></h3>
<p><strong>{{.Summary}}</strong></p>{{with .Description}}<p class="desc">{{.}}</p>{{end}}
{{with .Params}}<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>
{{range .}}<tr><td><code>{{.Name}}</code>{{if .Required}} (required){{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>{{end}}</tbody></table>{{end}}
{{with .Body}}<p>Body: {{.}}</p>{{end}}
<p>Responses: {{range $i, $r := .Responses}}{{if $i}}; {{end}}<strong>{{index $r 0}}</strong> {{index $r 1}}{{end}}</p></section>{{end}}{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}<section class="op" id="schema-{{.Name}}"><h3><code>{{.Name}}</code></h3>{{with .Description}}<p>{{.}}</p>{{end}}
{{with .Fields}}<table><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>
{{range .}}<tr><td><code>{{.Name}}</code>{{if .Required}} (required){{end}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>{{end}}</tbody></table>{{end}}</section>{{end}}
</article></main></body></html>
`))
)

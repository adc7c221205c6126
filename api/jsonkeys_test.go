package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
)

// TestDuplicateJSONKeys sends bodies naming a key twice in one object, at
// the top and nested, and wants each refused with the key's path and
// nothing changed.
func TestDuplicateJSONKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		project, user := f.newProject(), f.newUser()
		grant := func(role string) string {
			return `{"roleId":"` + role + `","scope":"project/` + project + `","subject":{"type":"user","id":"` + user + `"}}`
		}
		tests := []struct {
			name, path, body, want string
		}{
			{"TopLevel", "/projects", `{"name":"p-one","name":"p-two"}`, "body.name"},
			{"Escaped", "/projects", `{"name":"p-one","n\u0061me":"p-two"}`, "body.name"},
			{"InArray", "/grants:batchCreate", `{"grants":[` + grant("project.reader") + `,` +
				`{"roleId":"project.reader","scope":"project/` + project + `","subject":{"type":"user","id":"` + user + `"},"roleId":"organization.owner"}]}`,
				"body.grants[1].roleId"},
			{"Deep", "/grants:batchCreate", `{"grants":[{"roleId":"project.reader","scope":"project/` + project +
				`","subject":{"type":"user","id":"` + user + `","id":"` + e.acme.OwnerUserID + `"}}]}`, "body.grants[0].subject.id"},
			{"Outer", "/grants:batchCreate", `{"grants":[` + grant("project.reader") + `],"grants":[` + grant("organization.owner") + `]}`, "body.grants"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := e.state(t)
				resp := e.do(t, request{method: "POST", path: f.orgPath() + tt.path, token: e.acme.Token, body: tt.body})
				wantStatus(t, resp, http.StatusBadRequest)
				p := resp.problem(t)
				if p.Code != castellan.CodeDuplicateKey || len(p.Errors) != 1 || p.Errors[0].Field != tt.want || p.Errors[0].Rule != "duplicateKey" {
					t.Fatalf("got %s %+v, want %s on %s", p.Code, p.Errors, castellan.CodeDuplicateKey, tt.want)
				}
				if after := e.state(t); !after.equal(before) {
					t.Fatalf("refused body changed the store: %+v → %+v", before, after)
				}
			})
		}
		// Equal keys in different objects are no duplicates.
		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: e.acme.Token,
			body: `{"grants":[` + grant("project.reader") + `,` + grant("project.member") + `]}`})
		wantStatus(t, resp, http.StatusOK)
	})
}

// FuzzDuplicateKey checks duplicateKey against a count: in valid JSON
// every colon outside strings ends one key, and decoding into maps keeps
// one key of each name per object, so the two counts differ exactly when
// some object names a key twice.
func FuzzDuplicateKey(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `"a"`, `1`, `null`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`,
		`[{"a":1},{"a":1}]`, `{"a":[{"b":1},{"c":1,"c":2}]}`, `{"a\u0062":1,"ab":2}`, `{"a":"x:y","b":"\":"}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
		`{"a":1} {"a":1,"a":2}`, `{"a":1,`, `[1,2,{"x":[[],{}]},3]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := api.DuplicateKey(data)
		if path != "" && !strings.HasPrefix(path, "body") {
			t.Fatalf("path %q does not start at body", path)
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		if dup := colonsOutsideStrings(data) != keysIn(v); dup != (path != "") {
			t.Fatalf("%q: got path %q, want a duplicate: %v", data, path, dup)
		}
	})
}

func colonsOutsideStrings(data []byte) int {
	n, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			n++
		}
	}
	return n
}

func keysIn(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for _, child := range v {
			n += 1 + keysIn(child)
		}
	case []any:
		for _, child := range v {
			n += keysIn(child)
		}
	}
	return n
}

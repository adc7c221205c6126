package api_test

import (
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
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

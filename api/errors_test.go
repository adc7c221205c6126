package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestRejectedRequestsChangeNothing sends bad requests of every kind and
// checks the documented problem, and that no row, audit event or revision
// was left behind.
func TestRejectedRequestsChangeNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		acme := "/v1/organizations/" + e.acme.OrganizationID
		globex := "/v1/organizations/" + e.globex.OrganizationID
		resp := e.do(t, request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: map[string]string{"name": "web"}})
		wantStatus(t, resp, http.StatusCreated)
		var web castellan.Project
		resp.decode(t, &web)
		resp = e.do(t, request{method: "POST", path: globex + "/projects", token: e.globex.Token, body: map[string]string{"name": "api"}})
		wantStatus(t, resp, http.StatusCreated)
		var globexProject castellan.Project
		resp.decode(t, &globexProject)
		otherProject := acme + "/projects/" + globexProject.ID

		type field struct{ field, rule string }
		for _, tc := range []struct {
			name   string
			req    request
			status int
			code   string
			fields []field
		}{
			{"duplicate name", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"web"}`},
				409, castellan.CodeProjectNameTaken, nil},
			{"bad JSON", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name": "x",`},
				400, castellan.CodeInvalidJSON, []field{{"body", "json"}}},
			{"not an object", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `["x"]`},
				400, castellan.CodeInvalidField, []field{{"body", "type"}}},
			{"unknown field", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"x","color":"red"}`},
				400, castellan.CodeInvalidField, []field{{"body.color", "unknownField"}}},
			{"wrong case", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"NAME":"x"}`},
				400, castellan.CodeInvalidField, []field{{"body.NAME", "unknownField"}, {"body.name", "required"}}},
			{"key twice in two cases", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"x","Name":"y"}`},
				400, castellan.CodeInvalidField, []field{{"body.Name", "unknownField"}}},
			{"wrong type", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":42}`},
				400, castellan.CodeInvalidField, []field{{"body.name", "type"}}},
			{"missing field", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"description":"x"}`},
				400, castellan.CodeInvalidField, []field{{"body.name", "required"}}},
			{"too long", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"` + strings.Repeat("a", 64) + `"}`},
				400, castellan.CodeInvalidField, []field{{"body.name", "maxLength"}}},
			{"bad pattern", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"web site"}`},
				400, castellan.CodeInvalidField, []field{{"body.name", "pattern"}}},
			{"several bad fields", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"","description":7}`},
				400, castellan.CodeInvalidField, []field{{"body.description", "type"}, {"body.name", "minLength"}, {"body.name", "pattern"}}},
			{"bad UTF-8", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: []byte("{\"name\":\"w\xffb\"}")},
				400, castellan.CodeInvalidUTF8, []field{{"body", "utf8"}}},
			{"oversized body", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"x","description":"` + strings.Repeat("d", 1<<20) + `"}`},
				413, castellan.CodeBodyTooLarge, nil},
			{"not JSON", request{method: "POST", path: acme + "/projects", token: e.acme.Token, body: `{"name":"x"}`, header: map[string]string{"Content-Type": "text/plain"}},
				415, "request.unsupported_media_type", []field{{"body", "contentType"}}},
			{"bad org ID", request{method: "POST", path: "/v1/organizations/acme/projects", token: e.acme.Token, body: `{"name":"x"}`},
				400, castellan.CodeInvalidID, []field{{"path.org", "format"}}},
			{"bad project ID", request{method: "DELETE", path: acme + "/projects/1%27%20OR%201=1", token: e.acme.Token},
				400, castellan.CodeInvalidID, []field{{"path.project", "format"}}},
			{"bad session ID", request{method: "DELETE", path: acme + "/users/" + e.acme.OwnerUserID + "/sessions/x%27y", token: e.acme.Token},
				400, castellan.CodeInvalidID, []field{{"path.session", "format"}}},
			{"bad user ID for an MFA reset", request{method: "POST", path: acme + "/users/nobody/mfa:reset", token: e.acme.Token},
				400, castellan.CodeInvalidID, []field{{"path.user", "format"}}},
			{"exchange without a secret", request{method: "POST", path: "/v1/tokens", body: `{"keyId":"CAKAAAAAAAAAAAAAAAAAAAA"}`},
				400, castellan.CodeInvalidField, []field{{"body.secret", "required"}}},
			{"unknown query parameter", request{method: "GET", path: acme + "/projects?pageSize=2", token: e.acme.Token},
				400, castellan.CodeInvalidField, []field{{"query.pageSize", "unknownField"}}},
			{"page size too big", request{method: "GET", path: acme + "/projects?page_size=1001", token: e.acme.Token},
				400, castellan.CodeInvalidField, []field{{"query.page_size", "maximum"}}},
			{"page size not a number", request{method: "GET", path: acme + "/projects?page_size=ten", token: e.acme.Token},
				400, castellan.CodeInvalidField, []field{{"query.page_size", "type"}}},
			{"forged page token", request{method: "GET", path: acme + "/projects?page_token=eyJsIjoib3JnYW5pemF0aW9ucyIsImsiOlsiYSIsImIiXX0", token: e.acme.Token},
				400, castellan.CodeInvalidPageToken, []field{{"query.page_token", "format"}}},
			{"missing token", request{method: "POST", path: acme + "/projects", body: `{"name":"x"}`},
				401, castellan.CodeUnauthenticated, nil},
			{"unknown token", request{method: "POST", path: acme + "/projects", token: "cst_" + strings.Repeat("A", 43), body: `{"name":"x"}`},
				401, castellan.CodeUnauthenticated, nil},
			{"malformed token", request{method: "GET", path: acme + "/projects", token: "hunter2"},
				401, castellan.CodeUnauthenticated, nil},
			{"basic auth", request{method: "GET", path: acme + "/projects", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}},
				401, castellan.CodeUnauthenticated, nil},
			{"other organization's project: get", request{method: "GET", path: globex + "/projects/" + globexProject.ID, token: e.acme.Token},
				404, castellan.CodeOrgNotFound, nil},
			{"other organization's project: patch", request{method: "PATCH", path: globex + "/projects/" + globexProject.ID, token: e.acme.Token, body: `{"name":"mine"}`},
				404, castellan.CodeOrgNotFound, nil},
			{"other organization's project: delete", request{method: "DELETE", path: globex + "/projects/" + globexProject.ID, token: e.acme.Token},
				404, castellan.CodeOrgNotFound, nil},
			{"other organization's project through own org", request{method: "DELETE", path: otherProject, token: e.acme.Token},
				404, castellan.CodeProjectNotFound, nil},
			{"other organization's project list", request{method: "GET", path: globex + "/projects", token: e.acme.Token},
				404, castellan.CodeOrgNotFound, nil},
			{"create in other organization", request{method: "POST", path: globex + "/projects", token: e.acme.Token, body: `{"name":"x"}`},
				404, castellan.CodeOrgNotFound, nil},
			{"other organization's audit log", request{method: "GET", path: globex + "/audit-events", token: e.acme.Token},
				404, castellan.CodeOrgNotFound, nil},
			{"update other organization", request{method: "PATCH", path: globex, token: e.acme.Token, body: `{"name":"Mine"}`},
				404, castellan.CodeOrgNotFound, nil},
			{"user creates organization", request{method: "POST", path: "/v1/organizations", token: e.acme.Token, body: `{"name":"Initech"}`},
				403, castellan.CodeOperatorRequired, nil},
			{"user deletes own organization", request{method: "DELETE", path: acme, token: e.acme.Token},
				403, castellan.CodeOperatorRequired, nil},
			{"organization name taken", request{method: "POST", path: "/v1/organizations", token: e.operator, body: `{"name":"Globex"}`},
				409, castellan.CodeOrgNameTaken, nil},
			{"organization not empty", request{method: "DELETE", path: acme, token: e.operator},
				412, castellan.CodeOrgNotEmpty, nil},
			{"organization not found", request{method: "GET", path: "/v1/organizations/0190d3a8-0000-7000-8000-000000000000", token: e.operator},
				404, castellan.CodeOrgNotFound, nil},
			{"unknown endpoint", request{method: "GET", path: "/v1/widgets", token: e.acme.Token},
				404, castellan.CodeNotFound, nil},
			{"wrong method", request{method: "PUT", path: acme + "/projects", token: e.acme.Token, body: `{}`},
				405, castellan.CodeMethodNotAllowed, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t)
				resp := e.do(t, tc.req)
				wantStatus(t, resp, tc.status)
				p := resp.problem(t)
				if p.Code != tc.code {
					t.Fatalf("got code %q, want %q: %s", p.Code, tc.code, resp.body)
				}
				got := map[field]bool{}
				for _, fe := range p.Errors {
					if fe.Message == "" {
						t.Fatalf("field error without a message: %+v", fe)
					}
					got[field{fe.Field, fe.Rule}] = true
				}
				if len(got) != len(tc.fields) || len(p.Errors) != len(tc.fields) {
					t.Fatalf("got errors %+v, want %+v", p.Errors, tc.fields)
				}
				for _, f := range tc.fields {
					if !got[f] {
						t.Fatalf("got errors %+v, want %+v", p.Errors, tc.fields)
					}
				}
				if tc.status == http.StatusUnauthorized && !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("401 without a Bearer challenge: %v", resp.header)
				}
				if after := e.state(t); !after.equal(before) {
					t.Fatalf("rejected request changed the store: before %+v, after %+v", before, after)
				}
			})
		}
		// The project in the other organization is untouched.
		resp = e.do(t, request{method: "GET", path: globex + "/projects/" + globexProject.ID, token: e.globex.Token})
		wantStatus(t, resp, http.StatusOK)
		var still castellan.Project
		resp.decode(t, &still)
		if still != globexProject {
			t.Fatalf("got %+v, want %+v", still, globexProject)
		}
	})
}

package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, roleIdentityRows) }

func (f *fixture) newRoleIdentity(kind string) *castellan.RoleIdentity {
	r, err := f.e.db.Services().RoleIdentities.CreateRoleIdentity(system, f.org, castellan.RoleIdentityCreate{Name: f.unique("role"), Kind: kind})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) newRoleSession() *castellan.RoleSession {
	rs, err := f.e.db.Services().RoleIdentities.AssumeRoleIdentity(system, f.org, f.newRoleIdentity(castellan.RoleKindServer).ID,
		castellan.SourceIdentity{Type: castellan.SourceServer})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func roleIdentityRows() []matrixRow {
	managers := []string{owner, admin}
	readers := []string{owner, admin, reader, userAdmin}
	roles := func(f *fixture) string { return f.orgPath() + "/roleIdentities" }
	sessions := func(f *fixture) string { return f.orgPath() + "/roleSessions/" }
	return []matrixRow{
		{op: "create-role-identity", build: func(f *fixture) request {
			return request{method: "POST", path: roles(f), body: map[string]any{"name": f.unique("role"), "kind": "sso"}}
		}, allowed: managers},
		{op: "list-role-identities", build: func(f *fixture) request {
			return request{method: "GET", path: roles(f)}
		}, allowed: readers},
		{op: "get-role-identity", build: func(f *fixture) request {
			return request{method: "GET", path: roles(f) + "/" + f.newRoleIdentity(castellan.RoleKindServer).ID}
		}, allowed: readers},
		{op: "delete-role-identity", build: func(f *fixture) request {
			return request{method: "DELETE", path: roles(f) + "/" + f.newRoleIdentity(castellan.RoleKindServer).ID}
		}, allowed: managers},
		{op: "assume-role-identity", variant: "server role", build: func(f *fixture) request {
			return request{method: "POST", path: roles(f) + "/" + f.newRoleIdentity(castellan.RoleKindServer).ID + ":assume",
				body: map[string]any{"sourceIdentity": map[string]string{"type": "Server"}}}
		}, allowed: managers},
		{op: "assume-role-identity", variant: "account role", build: func(f *fixture) request {
			return request{method: "POST", path: roles(f) + "/" + f.newRoleIdentity(castellan.RoleKindAccount).ID + ":assume", body: map[string]any{}}
		}, allowed: managers},
		{op: "get-role-session", build: func(f *fixture) request {
			return request{method: "GET", path: sessions(f) + f.newRoleSession().ID}
		}, allowed: readers},
		{op: "end-role-session", build: func(f *fixture) request {
			return request{method: "DELETE", path: sessions(f) + f.newRoleSession().ID}
		}, allowed: managers},
	}
}

// TestRoleIdentitiesAPI walks a role identity: create, read, list, assume
// (an account role as the caller, whatever the body says), read the
// session with and without includeDeleted, end it, delete the role.
func TestRoleIdentitiesAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		resp := e.do(t, request{method: "POST", path: org + "/roleIdentities", token: e.acme.Token,
			body: map[string]any{"name": "Deployer", "kind": "account", "description": "people who deploy"}})
		wantStatus(t, resp, http.StatusCreated)
		var r castellan.RoleIdentity
		resp.decode(t, &r)
		if r.Name != "Deployer" || r.Kind != "account" || r.RN != "rn:iam:"+e.acme.OrganizationID+":role/"+r.ID {
			t.Fatalf("got %+v", r)
		}
		resp = e.do(t, request{method: "GET", path: org + "/roleIdentities/" + r.ID, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var list struct{ RoleIdentities []castellan.RoleIdentity }
		resp = e.do(t, request{method: "GET", path: org + "/roleIdentities", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		resp.decode(t, &list)
		if len(list.RoleIdentities) != 1 || list.RoleIdentities[0].ID != r.ID {
			t.Fatalf("got %+v", list)
		}

		resp = e.do(t, request{method: "POST", path: org + "/roleIdentities/" + r.ID + ":assume", token: e.acme.Token,
			body: map[string]any{"sourceIdentity": map[string]string{"type": "IamUser", "id": "forged", "provider": "forged"}}})
		wantStatus(t, resp, http.StatusCreated)
		var rs castellan.RoleSession
		resp.decode(t, &rs)
		want := castellan.SourceIdentity{Type: "IamUser", ID: e.acme.OwnerUserID, Provider: e.acme.OrganizationID}
		if rs.SourceIdentity != want || rs.RoleRN != r.RN || rs.RoleName != r.Name || rs.Deleted {
			t.Fatalf("got %+v, want source %+v", rs, want)
		}
		session := org + "/roleSessions/" + rs.ID
		resp = e.do(t, request{method: "GET", path: session, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "DELETE", path: session, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		wantRefusedField(t, e, request{method: "GET", path: session, token: e.acme.Token}, http.StatusNotFound, castellan.CodeRoleSessionNotFound, "", "")
		resp = e.do(t, request{method: "GET", path: session + "?includeDeleted=true", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var ended castellan.RoleSession
		resp.decode(t, &ended)
		if !ended.Deleted || ended.DeletedAt == nil {
			t.Fatalf("got %+v, want a tombstone", ended)
		}
		wantRefusedField(t, e, request{method: "DELETE", path: session, token: e.acme.Token}, http.StatusNotFound, castellan.CodeRoleSessionNotFound, "", "")

		resp = e.do(t, request{method: "DELETE", path: org + "/roleIdentities/" + r.ID, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		wantRefusedField(t, e, request{method: "GET", path: org + "/roleIdentities/" + r.ID, token: e.acme.Token},
			http.StatusNotFound, castellan.CodeRoleIdentityNotFound, "", "")
	})
}

// TestRoleIdentitiesAPIBadInput: each bad request is refused with its
// code and field, and changes nothing.
func TestRoleIdentitiesAPIBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		roles := f.orgPath() + "/roleIdentities"
		taken := f.newRoleIdentity(castellan.RoleKindSSO)
		server := f.newRoleIdentity(castellan.RoleKindServer)
		for _, c := range []struct {
			req    request
			status int
			code   string
			field  string
			rule   string
		}{
			{request{method: "POST", path: roles, body: map[string]any{"name": "two words", "kind": "server"}},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.name", "pattern"},
			{request{method: "POST", path: roles, body: map[string]any{"name": strings.Repeat("r", 65), "kind": "server"}},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.name", "maxLength"},
			{request{method: "POST", path: roles, body: map[string]any{"name": "r", "kind": "robot"}},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.kind", "enum"},
			{request{method: "POST", path: roles, body: map[string]any{"name": strings.ToUpper(taken.Name), "kind": "sso"}},
				http.StatusConflict, castellan.CodeRoleIdentityNameTaken, "", ""},
			{request{method: "POST", path: roles + "/" + server.ID + ":assume", body: map[string]any{"sourceIdentity": map[string]string{"type": "FederatedUser", "id": "a", "provider": "b"}}},
				http.StatusBadRequest, castellan.CodeRoleSessionSourceMismatch, "body.sourceIdentity.type", "enum"},
			{request{method: "POST", path: roles + "/" + server.ID + ":assume", body: map[string]any{"sourceIdentity": map[string]string{"type": "Server", "id": "i-1"}}},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.sourceIdentity.id", "server"},
			{request{method: "POST", path: roles + "/" + taken.ID + ":assume", body: map[string]any{"sourceIdentity": map[string]string{"type": "FederatedUser"}}},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.sourceIdentity.id", "required"},
			{request{method: "GET", path: roles + "/not-an-id"}, http.StatusBadRequest, castellan.CodeInvalidID, "path.roleIdentity", "format"},
			{request{method: "GET", path: f.orgPath() + "/roleSessions/not-an-id"}, http.StatusBadRequest, castellan.CodeInvalidID, "path.roleSession", "format"},
			{request{method: "POST", path: roles + "/" + server.ID + ":explode", body: map[string]any{}}, http.StatusNotFound, castellan.CodeNotFound, "", ""},
		} {
			c.req.token = e.acme.Token
			wantRefusedField(t, e, c.req, c.status, c.code, c.field, c.rule)
		}
	})
}

// TestRoleIdentitiesCrossOrganization: Globex's owner, through Globex's
// paths, finds none of Acme's role identities or sessions and changes
// nothing; through Acme's paths, finds no organization.
func TestRoleIdentitiesCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		r := f.newRoleIdentity(castellan.RoleKindServer)
		rs := f.newRoleSession()
		theirs := "/v1/organizations/" + e.globex.OrganizationID
		for _, c := range []struct {
			req  request
			code string
		}{
			{request{method: "GET", path: theirs + "/roleIdentities/" + r.ID}, castellan.CodeRoleIdentityNotFound},
			{request{method: "DELETE", path: theirs + "/roleIdentities/" + r.ID}, castellan.CodeRoleIdentityNotFound},
			{request{method: "POST", path: theirs + "/roleIdentities/" + r.ID + ":assume", body: map[string]any{"sourceIdentity": map[string]string{"type": "Server"}}},
				castellan.CodeRoleIdentityNotFound},
			{request{method: "GET", path: theirs + "/roleSessions/" + rs.ID + "?includeDeleted=true"}, castellan.CodeRoleSessionNotFound},
			{request{method: "DELETE", path: theirs + "/roleSessions/" + rs.ID}, castellan.CodeRoleSessionNotFound},
			{request{method: "GET", path: f.orgPath() + "/roleIdentities/" + r.ID}, castellan.CodeOrgNotFound},
			{request{method: "DELETE", path: f.orgPath() + "/roleSessions/" + rs.ID}, castellan.CodeOrgNotFound},
		} {
			c.req.token = e.globex.Token
			wantRefusedField(t, e, c.req, http.StatusNotFound, c.code, "", "")
		}
		var list struct{ RoleIdentities []castellan.RoleIdentity }
		resp := e.do(t, request{method: "GET", path: theirs + "/roleIdentities", token: e.globex.Token})
		wantStatus(t, resp, http.StatusOK)
		resp.decode(t, &list)
		if len(list.RoleIdentities) != 0 {
			t.Fatalf("got %+v, want none of Acme's", list)
		}
	})
}

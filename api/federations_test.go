package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, federationRows) }

func (f *fixture) newFederation() *castellan.Federation {
	fed, err := f.e.db.Services().Federations.CreateFederation(system, f.org, castellan.FederationCreate{
		Name: f.unique("fed"), Issuer: "https://idp.example.com", ClientID: "castellan"})
	if err != nil {
		f.t.Fatal(err)
	}
	return fed
}

func federationRows() []matrixRow {
	managers := []string{owner, admin}
	readers := []string{owner, admin, reader}
	base := func(f *fixture) string { return f.orgPath() + "/federations" }
	return []matrixRow{
		{op: "create-federation", build: func(f *fixture) request {
			return request{method: "POST", path: base(f), body: map[string]any{"name": f.unique("fed"), "issuer": "https://idp.example.com", "clientId": "c"}}
		}, allowed: managers},
		{op: "list-federations", build: func(f *fixture) request { return request{method: "GET", path: base(f)} }, allowed: readers},
		{op: "get-federation", build: func(f *fixture) request {
			return request{method: "GET", path: base(f) + "/" + f.newFederation().ID}
		}, allowed: readers},
		{op: "update-federation", build: func(f *fixture) request {
			return request{method: "PATCH", path: base(f) + "/" + f.newFederation().ID, body: map[string]any{"description": "staff"}}
		}, allowed: managers},
		{op: "update-federation", variant: "sign-in settings", build: func(f *fixture) request {
			return request{method: "PATCH", path: base(f) + "/" + f.newFederation().ID, body: map[string]any{"issuer": "https://elsewhere.example.com"}}
		}, allowed: []string{owner}},
		{op: "delete-federation", build: func(f *fixture) request {
			return request{method: "DELETE", path: base(f) + "/" + f.newFederation().ID}
		}, allowed: managers},
	}
}

// TestFederationsAPI walks a federation: create, read, list, update,
// register a federated user into it, refuse its deletion while the user
// is there, then delete both.
func TestFederationsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		resp := e.do(t, request{method: "POST", path: org + "/federations", token: e.acme.Token, body: map[string]any{
			"name": "Acme Entra", "issuer": "https://login.example.com/acme/v2.0", "clientId": "castellan-app",
			"scopes": []string{"email", "profile"}, "allowedDomains": []string{"acme.example"}, "mfaByIdp": true}})
		wantStatus(t, resp, http.StatusCreated)
		var f castellan.Federation
		resp.decode(t, &f)
		if f.Name != "Acme Entra" || f.HasClientSecret || !f.MFAByIdP || strings.Join(f.Scopes, " ") != "openid email profile" || f.EmailClaim != "email" {
			t.Fatalf("got %+v", f)
		}
		fed := org + "/federations/" + f.ID
		wantStatus(t, e.do(t, request{method: "GET", path: fed, token: e.acme.Token}), http.StatusOK)
		var list struct{ Federations []castellan.Federation }
		resp = e.do(t, request{method: "GET", path: org + "/federations", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		resp.decode(t, &list)
		if len(list.Federations) != 1 || list.Federations[0].ID != f.ID {
			t.Fatalf("got %+v", list)
		}
		resp = e.do(t, request{method: "PATCH", path: fed, token: e.acme.Token, body: map[string]any{"autoProvision": true, "nameClaim": "preferred_username"}})
		wantStatus(t, resp, http.StatusOK)
		resp.decode(t, &f)
		if !f.AutoProvision || f.NameClaim != "preferred_username" || !f.MFAByIdP {
			t.Fatalf("got %+v", f)
		}

		resp = e.do(t, request{method: "POST", path: org + "/users:batchCreate", token: e.acme.Token, body: map[string]any{"users": []any{
			map[string]any{"loginId": "ann", "name": "Ann", "email": "ann@acme.example", "accountType": "federated", "federationId": f.ID}}}})
		wantStatus(t, resp, http.StatusCreated)
		var created struct {
			Users []struct{ User castellan.User }
		}
		resp.decode(t, &created)
		wantRefusedField(t, e, request{method: "DELETE", path: fed, token: e.acme.Token}, http.StatusPreconditionFailed, castellan.CodeFederationInUse, "", "")
		u := created.Users[0].User
		wantStatus(t, e.do(t, request{method: "DELETE", path: org + "/users/" + u.ID + "?confirm=" + u.LoginID, token: e.acme.Token}), http.StatusOK)
		wantStatus(t, e.do(t, request{method: "DELETE", path: fed, token: e.acme.Token}), http.StatusOK)
		wantRefusedField(t, e, request{method: "GET", path: fed, token: e.acme.Token}, http.StatusNotFound, castellan.CodeFederationNotFound, "", "")
	})
}

// TestFederationsAPIBadInput: each bad request is refused with its code
// and field, and changes nothing.
func TestFederationsAPIBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		base := f.orgPath() + "/federations"
		taken := f.newFederation()
		body := func(edit func(map[string]any)) map[string]any {
			b := map[string]any{"name": "Fine", "issuer": "https://idp.example.com", "clientId": "c"}
			edit(b)
			return b
		}
		for _, c := range []struct {
			req    request
			status int
			code   string
			field  string
			rule   string
		}{
			{request{method: "POST", path: base, body: body(func(b map[string]any) { b["issuer"] = "http://idp.example.com" })},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.issuer", "https"},
			{request{method: "POST", path: base, body: body(func(b map[string]any) { b["clientSecret"] = "s3cret" })},
				http.StatusBadRequest, castellan.CodeFederationSecretNotSealable, "body.clientSecret", "sealable"},
			{request{method: "POST", path: base, body: body(func(b map[string]any) { b["allowedDomains"] = []string{"not a domain"} })},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.allowedDomains[0]", "format"},
			{request{method: "POST", path: base, body: body(func(b map[string]any) {
				b["groupMappings"] = []map[string]string{{"claim": "eng", "groupId": "0190d3a8-0000-7000-8000-00000000dead"}}
			})}, http.StatusNotFound, castellan.CodeGroupNotFound, "body.groupMappings[0].groupId", "exists"},
			{request{method: "POST", path: base, body: body(func(b map[string]any) { b["name"] = strings.ToLower(taken.Name) })},
				http.StatusConflict, castellan.CodeFederationNameTaken, "", ""},
			{request{method: "POST", path: base, body: body(func(b map[string]any) { delete(b, "clientId") })},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.clientId", "required"},
			{request{method: "PATCH", path: base + "/" + taken.ID, body: map[string]any{"issuer": "ftp://idp.example.com"}},
				http.StatusBadRequest, castellan.CodeInvalidField, "body.issuer", "https"},
			{request{method: "GET", path: base + "/not-an-id"}, http.StatusBadRequest, castellan.CodeInvalidID, "path.federation", "format"},
		} {
			c.req.token = e.acme.Token
			wantRefusedField(t, e, c.req, c.status, c.code, c.field, c.rule)
		}
	})
}

// TestFederationsCrossOrganization: Globex's owner finds none of Acme's
// federations through Globex's paths and no organization through Acme's,
// and changes nothing.
func TestFederationsCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		fed := f.newFederation()
		theirs := "/v1/organizations/" + e.globex.OrganizationID + "/federations/" + fed.ID
		for _, c := range []struct {
			req  request
			code string
		}{
			{request{method: "GET", path: theirs}, castellan.CodeFederationNotFound},
			{request{method: "PATCH", path: theirs, body: map[string]any{"name": "stolen"}}, castellan.CodeFederationNotFound},
			{request{method: "DELETE", path: theirs}, castellan.CodeFederationNotFound},
			{request{method: "GET", path: f.orgPath() + "/federations/" + fed.ID}, castellan.CodeOrgNotFound},
			{request{method: "PATCH", path: f.orgPath() + "/federations/" + fed.ID, body: map[string]any{"name": "stolen"}}, castellan.CodeOrgNotFound},
		} {
			c.req.token = e.globex.Token
			wantRefusedField(t, e, c.req, http.StatusNotFound, c.code, "", "")
		}
		// Globex cannot register its users into Acme's federation.
		wantRefusedField(t, e, request{method: "POST", path: "/v1/organizations/" + e.globex.OrganizationID + "/users:batchCreate", token: e.globex.Token,
			body: map[string]any{"users": []any{map[string]any{"loginId": "spy", "name": "Spy", "email": "spy@globex.example", "accountType": "federated", "federationId": fed.ID}}}},
			http.StatusNotFound, castellan.CodeFederationNotFound, "body.users[0].federationId", "exists")
	})
}

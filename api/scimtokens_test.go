package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, scimTokenRows) }

func (f *fixture) newSCIMToken() string {
	ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: f.e.acme.OwnerUserID, OrganizationID: f.org})
	t, err := f.e.db.Services().SCIMTokens.CreateSCIMToken(ctx, f.org, castellan.SCIMTokenCreate{Name: f.unique("scim")})
	if err != nil {
		f.t.Fatal(err)
	}
	return t.SCIMToken.ID
}

func scimTokenRows() []matrixRow {
	base := func(f *fixture) string { return f.orgPath() + "/scimTokens" }
	return []matrixRow{
		{op: "create-scim-token", build: func(f *fixture) request {
			return request{method: "POST", path: base(f), body: map[string]any{"name": f.unique("idp")}}
		}, allowed: []string{owner, admin}},
		{op: "list-scim-tokens", build: func(f *fixture) request { return request{method: "GET", path: base(f)} }, allowed: []string{owner, admin, reader}},
		{op: "delete-scim-token", build: func(f *fixture) request {
			return request{method: "DELETE", path: base(f) + "/" + f.newSCIMToken()}
		}, allowed: []string{owner, admin}},
	}
}

// TestSCIMTokensAPI makes a token provisioning into a federation, lists
// it without its secret, uses it, deletes it; the operator, who is no
// user of the organization, gets none.
func TestSCIMTokensAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		fed := f.newFederation()
		base := f.orgPath() + "/scimTokens"
		resp := e.do(t, request{method: "POST", path: base, token: e.acme.Token, body: map[string]any{"name": "Entra", "federationId": fed.ID, "validDays": 30}})
		wantStatus(t, resp, http.StatusCreated)
		var created castellan.NewSCIMToken
		resp.decode(t, &created)
		tok := created.SCIMToken
		if !strings.HasPrefix(created.Secret, castellan.SCIMTokenPrefix) || tok.ActorUserID != e.acme.OwnerUserID || tok.FederationID != fed.ID ||
			tok.ExpiresAt == nil || tok.ExpiresAt.Sub(tok.CreatedAt).Hours() != 30*24 {
			t.Fatalf("got %+v", created)
		}
		resp = e.do(t, request{method: "GET", path: base, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		if strings.Contains(string(resp.body), created.Secret) || !strings.Contains(string(resp.body), tok.ID) {
			t.Fatalf("list: %s", resp.body)
		}
		// The federation cannot go while a token provisions into it.
		wantRefusedField(t, e, request{method: "DELETE", path: f.orgPath() + "/federations/" + fed.ID, token: e.acme.Token},
			http.StatusPreconditionFailed, castellan.CodeFederationInUse, "", "")
		wantStatus(t, e.do(t, request{method: "DELETE", path: base + "/" + tok.ID, token: e.acme.Token}), http.StatusOK)
		wantRefusedField(t, e, request{method: "DELETE", path: base + "/" + tok.ID, token: e.acme.Token}, http.StatusNotFound, castellan.CodeSCIMTokenNotFound, "", "")

		wantRefusedField(t, e, request{method: "POST", path: base, token: e.operator, body: map[string]any{"name": "op"}}, http.StatusForbidden, castellan.CodePermissionDenied, "", "")
		for _, c := range []struct {
			body        map[string]any
			code        string
			field, rule string
		}{
			{map[string]any{"name": ""}, castellan.CodeInvalidField, "body.name", "minLength"},
			{map[string]any{"name": "x", "validDays": 731}, castellan.CodeInvalidField, "body.validDays", "maximum"},
			{map[string]any{"name": "x", "federationId": "0190d3a8-0000-7000-8000-00000000dead"}, castellan.CodeFederationNotFound, "", ""},
		} {
			status := http.StatusBadRequest
			if c.code == castellan.CodeFederationNotFound {
				status = http.StatusNotFound
			}
			wantRefusedField(t, e, request{method: "POST", path: base, token: e.acme.Token, body: c.body}, status, c.code, c.field, c.rule)
		}
	})
}

// TestSCIMTokensCrossOrganization: Globex's owner neither sees nor
// deletes Acme's tokens, nor makes one provisioning into Acme's
// federation.
func TestSCIMTokensCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		tok := f.newSCIMToken()
		fed := f.newFederation()
		theirs := "/v1/organizations/" + e.globex.OrganizationID + "/scimTokens"
		wantRefusedField(t, e, request{method: "DELETE", path: theirs + "/" + tok, token: e.globex.Token}, http.StatusNotFound, castellan.CodeSCIMTokenNotFound, "", "")
		wantRefusedField(t, e, request{method: "POST", path: theirs, token: e.globex.Token, body: map[string]any{"name": "x", "federationId": fed.ID}},
			http.StatusNotFound, castellan.CodeFederationNotFound, "", "")
		wantRefusedField(t, e, request{method: "GET", path: f.orgPath() + "/scimTokens", token: e.globex.Token}, http.StatusNotFound, castellan.CodeOrgNotFound, "", "")
		resp := e.do(t, request{method: "GET", path: theirs, token: e.globex.Token})
		wantStatus(t, resp, http.StatusOK)
		if strings.Contains(string(resp.body), tok) {
			t.Fatalf("Globex lists Acme's token: %s", resp.body)
		}
	})
}

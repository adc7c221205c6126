package scim_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestSCIMAuthentication: no token, an API token, a malformed, revoked
// or expired-actor token and another organization's token are each
// refused with a SCIM 401, and see nothing.
func TestSCIMAuthentication(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for name, token := range map[string]string{
			"none": "", "API token": e.Acme.Token, "malformed": "cscim_short", "unknown": "cscim_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		} {
			x := e.do(t, token, "GET", "Users", nil)
			wantSCIMError(t, x, http.StatusUnauthorized, "")
			if x.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s: no WWW-Authenticate", name)
			}
		}
		// Acme's token on Globex's endpoint is no token there.
		wantSCIMError(t, e.do(t, e.token, "GET", "/scim/v2/organizations/"+e.Globex.OrganizationID+"/Users", nil), http.StatusUnauthorized, "")

		// A deleted token stops at once.
		secret, id := e.newToken(t, e.Acme.OwnerUserID, "")
		if x := e.do(t, secret, "GET", "Users", nil); x.status != http.StatusOK {
			t.Fatalf("fresh token: %d %s", x.status, x.body)
		}
		ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: e.Acme.OwnerUserID, OrganizationID: e.org})
		if _, err := e.DB.Services().SCIMTokens.DeleteSCIMToken(ctx, e.org, id); err != nil {
			t.Fatal(err)
		}
		wantSCIMError(t, e.do(t, secret, "GET", "Users", nil), http.StatusUnauthorized, "")

		// A token whose actor is disabled stops too.
		admin := e.ConsoleUser(t, e.org, "adm", nil)
		grantAdmin(t, e, admin.ID)
		adminToken, _ := e.newToken(t, admin.ID, "")
		if x := e.do(t, adminToken, "GET", "Users", nil); x.status != http.StatusOK {
			t.Fatalf("admin token: %d %s", x.status, x.body)
		}
		disabled := castellan.UserDisabled
		if _, err := e.DB.Services().Users.UpdateUser(system, e.org, admin.ID, castellan.UserUpdate{Status: &disabled}); err != nil {
			t.Fatal(err)
		}
		wantSCIMError(t, e.do(t, adminToken, "GET", "Users", nil), http.StatusUnauthorized, "")

		// The token is its actor's API credential: without API access,
		// or from outside its allow sources, it does not work.
		carl := e.ConsoleUser(t, e.org, "carl", nil)
		grantAdmin(t, e, carl.ID)
		carlToken, _ := e.newToken(t, carl.ID, "")
		off := false
		if _, err := e.DB.Services().Users.UpdateUser(system, e.org, carl.ID, castellan.UserUpdate{APIAccess: &off}); err != nil {
			t.Fatal(err)
		}
		wantSCIMError(t, e.do(t, carlToken, "GET", "Users", nil), http.StatusUnauthorized, "")
		on, sources := true, []castellan.APIAllowSource{{Type: castellan.SourceIP, Source: "203.0.113.0/24"}}
		if _, err := e.DB.Services().Users.UpdateUser(system, e.org, carl.ID, castellan.UserUpdate{APIAccess: &on, UseAPIAllowSource: &on,
			APIAllowSources: &sources}); err != nil {
			t.Fatal(err)
		}
		wantSCIMError(t, e.do(t, carlToken, "GET", "Users", nil), http.StatusForbidden, "")

		// A SCIM token is no API token.
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/organizations/"+e.org+"/users", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a SCIM token on the API: got %d, want 401", resp.StatusCode)
		}
	})
}

func grantAdmin(t *testing.T, e *env, userID string) {
	t.Helper()
	if _, _, err := e.DB.Services().Grants.CreateGrants(system, e.org, []castellan.GrantCreate{{RoleID: "organization.admin",
		Scope: castellan.OrganizationScope(e.org).String(), Subject: castellan.Subject{Type: castellan.SubjectUser, ID: userID}}}); err != nil {
		t.Fatal(err)
	}
}

// TestSCIMCrossOrganization: Globex's users and groups are not found
// through Acme's endpoint, and nothing of Globex changes.
func TestSCIMCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s := e.DB.Services()
		theirs := e.ConsoleUser(t, e.Globex.OrganizationID, "spy", nil)
		g, err := s.Groups.CreateGroup(system, e.Globex.OrganizationID, castellan.GroupCreate{Name: "globex-admins"})
		if err != nil {
			t.Fatal(err)
		}
		before := e.Snapshot(t)
		for _, c := range []struct{ method, path string }{
			{"GET", "Users/" + theirs.ID}, {"DELETE", "Users/" + theirs.ID}, {"GET", "Groups/" + g.ID}, {"DELETE", "Groups/" + g.ID},
		} {
			wantSCIMError(t, e.do(t, e.token, c.method, c.path, nil), http.StatusNotFound, "")
		}
		x := e.do(t, e.token, "PATCH", "Users/"+theirs.ID, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}})
		wantSCIMError(t, x, http.StatusNotFound, "")
		x = e.do(t, e.token, "PATCH", "Groups/"+g.ID, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]string{{"value": theirs.ID}}}}})
		wantSCIMError(t, x, http.StatusNotFound, "")
		// Nor may Acme's group take Globex's user.
		mine, err := s.Groups.CreateGroup(system, e.org, castellan.GroupCreate{Name: "acme-eng"})
		if err != nil {
			t.Fatal(err)
		}
		before = e.Snapshot(t)
		x = e.do(t, e.token, "PATCH", "Groups/"+mine.ID, map[string]any{"schemas": []string{patchOp},
			"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]string{{"value": theirs.ID}}}}})
		wantSCIMError(t, x, http.StatusNotFound, "")
		unchanged(t, e, before)
		var list struct{ TotalResults int }
		x = e.do(t, e.token, "GET", `Users?filter=userName+eq+%22spy%22`, nil)
		if err := json.Unmarshal(x.body, &list); err != nil || list.TotalResults != 0 {
			t.Fatalf("Acme's endpoint finds Globex's user: %s", x.body)
		}
	})
}

// TestSCIMBadRequests: each is refused with its SCIM error and changes
// nothing.
func TestSCIMBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		user := e.do(t, e.token, "POST", "Users", map[string]any{"userName": "ann@acme.example", "emails": []map[string]any{{"value": "ann@acme.example"}}})
		if user.status != http.StatusCreated {
			t.Fatalf("create: %d %s", user.status, user.body)
		}
		id := user.id(t)
		before := e.Snapshot(t)
		for _, c := range []struct {
			name, method, path string
			body               any
			status             int
			scimType           string
		}{
			{"taken userName", "POST", "Users", map[string]any{"userName": "ANN@acme.example"}, http.StatusConflict, "uniqueness"},
			{"no userName", "POST", "Users", map[string]any{"displayName": "Nobody"}, http.StatusBadRequest, "invalidValue"},
			{"domain not allowed", "POST", "Users", map[string]any{"userName": "eve@evil.example"}, http.StatusBadRequest, "invalidValue"},
			{"not JSON", "POST", "Users", "{", http.StatusBadRequest, "invalidSyntax"},
			{"bad filter", "GET", `Users?filter=userName+sw+%22a%22`, nil, http.StatusBadRequest, "invalidFilter"},
			{"unparsable filter", "GET", `Users?filter=userName+eq`, nil, http.StatusBadRequest, "invalidFilter"},
			{"unsupported attribute", "GET", `Users?filter=title+eq+%22x%22`, nil, http.StatusBadRequest, "invalidFilter"},
			{"unknown path", "PATCH", "Users/" + id, map[string]any{"schemas": []string{patchOp},
				"Operations": []map[string]any{{"op": "replace", "path": "password", "value": "x"}}}, http.StatusBadRequest, "invalidPath"},
			{"userName change", "PATCH", "Users/" + id, map[string]any{"schemas": []string{patchOp},
				"Operations": []map[string]any{{"op": "replace", "path": "userName", "value": "eve@acme.example"}}}, http.StatusBadRequest, "mutability"},
			{"no PatchOp schema", "PATCH", "Users/" + id, map[string]any{
				"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, http.StatusBadRequest, "invalidSyntax"},
			{"bad op", "PATCH", "Users/" + id, map[string]any{"schemas": []string{patchOp},
				"Operations": []map[string]any{{"op": "move", "path": "active", "value": false}}}, http.StatusBadRequest, "invalidSyntax"},
			{"bad boolean", "PATCH", "Users/" + id, map[string]any{"schemas": []string{patchOp},
				"Operations": []map[string]any{{"op": "replace", "path": "active", "value": "maybe"}}}, http.StatusBadRequest, "invalidValue"},
			// The second operation fails: the first does not happen either.
			{"all or nothing", "PATCH", "Users/" + id, map[string]any{"schemas": []string{patchOp}, "Operations": []map[string]any{
				{"op": "replace", "path": "displayName", "value": "Changed"}, {"op": "replace", "path": "name.givenName", "value": "!!"}}},
				http.StatusBadRequest, "invalidValue"},
			{"unknown user", "GET", "Users/0190d3a8-0000-7000-8000-00000000dead", nil, http.StatusNotFound, ""},
			{"malformed id", "GET", "Users/not-an-id", nil, http.StatusBadRequest, "invalidValue"},
			{"unknown member", "POST", "Groups", map[string]any{"displayName": "G", "members": []map[string]string{{"value": "0190d3a8-0000-7000-8000-00000000dead"}}},
				http.StatusNotFound, ""},
			{"no route", "GET", "Widgets", nil, http.StatusNotFound, ""},
		} {
			x := e.do(t, e.token, c.method, c.path, c.body)
			t.Run(c.name, func(t *testing.T) { wantSCIMError(t, x, c.status, c.scimType) })
			unchanged(t, e, before)
		}
	})
}

// unchanged fails t if a write happened since before.
func unchanged(t *testing.T, e *env, before apitest.Snapshot) {
	t.Helper()
	if after := e.Snapshot(t); !after.Equal(before) {
		t.Fatalf("a refused request changed the store: before %+v, after %+v", before, after)
	}
}

package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestRevokeOwnSessionByAPI: a user lists its console sessions by the
// API, without their secrets, and revokes one, which the console then
// refuses.
func TestRevokeOwnSessionByAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		cid := e.consoleUser(t, org, "cid", nil)
		e.signedIn(t, cid)
		c3 := e.signedIn(t, cid)
		token, err := e.db.Services().Tokens.CreateUserToken(system, org, cid.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp := e.do(t, request{method: "GET", path: "/v1/organizations/" + org + "/users/" + cid.ID + "/sessions", token: token})
		wantStatus(t, resp, http.StatusOK)
		var out struct{ Sessions []castellan.Session }
		resp.decode(t, &out)
		if len(out.Sessions) != 2 || strings.Contains(string(resp.body), "csts_") {
			t.Fatalf("got %s", resp.body)
		}
		wantStatus(t, e.do(t, request{method: "DELETE", path: "/v1/organizations/" + org + "/users/" + cid.ID + "/sessions/" + out.Sessions[0].ID, token: token}), http.StatusOK)
		apitest.WantRedirect(t, c3.Get("/console"), "/console/sign-in")
	})
}

// TestSessionsCrossOrganization: neither a session nor a token of one
// organization reaches another's sessions.
func TestSessionsCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.consoleUser(t, e.acme.OrganizationID, "ann", nil)
		bob := e.consoleUser(t, e.globex.OrganizationID, "bob", nil)
		a := e.signedIn(t, ann)
		bobs := e.signedIn(t, bob)
		bobSession := e.store.SessionsOf(t, bob)[0].ID
		a.Get("/console/sessions")
		before := e.state(t)
		apitest.WantPage(t, a.Post("/console/sessions/revoke", url.Values{"session": {bobSession}}), http.StatusNotFound, "not found")
		acmeUser := "/v1/organizations/" + e.acme.OrganizationID + "/users/" + ann.ID + "/sessions"
		for _, req := range []request{
			{method: "GET", path: acmeUser},
			{method: "DELETE", path: acmeUser + "/" + e.store.SessionsOf(t, ann)[0].ID},
		} {
			req.token = e.globex.Token
			resp := e.do(t, req)
			wantStatus(t, resp, http.StatusNotFound)
			if code := resp.problem(t).Code; code != castellan.CodeOrgNotFound {
				t.Fatalf("got %s", code)
			}
		}
		// Globex's session named under Acme's user is not found either.
		resp := e.do(t, request{method: "DELETE", path: acmeUser + "/" + bobSession, token: e.acme.Token})
		wantStatus(t, resp, http.StatusNotFound)
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("cross-organization requests changed something")
		}
		apitest.WantPage(t, bobs.Get("/console"), http.StatusOK, "Signed in as")
		apitest.WantPage(t, a.Get("/console"), http.StatusOK, "Signed in as")
	})
}

func init() { matrixRowSets = append(matrixRowSets, sessionRows) }

// sessionRows are the role-matrix rows of the session endpoints, on a
// user without roles, so that the hierarchy principle never refuses.
func sessionRows() []matrixRow {
	withSession := func(f *fixture) (string, string) {
		user := f.newUser()
		ns, err := f.e.db.Services().Sessions.CreateSession(context.Background(), f.org, user, castellan.SessionComplete, "matrix", castellan.DefaultSignInPolicy)
		if err != nil {
			f.t.Fatal(err)
		}
		return user, ns.Session.ID
	}
	return []matrixRow{
		{op: "list-user-sessions", build: func(f *fixture) request {
			user, _ := withSession(f)
			return request{method: "GET", path: f.orgPath() + "/users/" + user + "/sessions"}
		}, allowed: []string{owner, admin, reader, userAdmin}},
		{op: "revoke-user-session", build: func(f *fixture) request {
			user, session := withSession(f)
			return request{method: "DELETE", path: f.orgPath() + "/users/" + user + "/sessions/" + session}
		}, allowed: []string{owner, admin, userAdmin}},
	}
}

package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, userRows) }

// newInvitee registers a user in invitation mode, as the system.
func (f *fixture) newInvitee() *castellan.User {
	login := f.unique("inv")
	r, err := f.e.db.Services().Users.RegisterUser(system, f.org, castellan.UserRegistration{
		LoginID: login, Email: login + "@acme.example", Name: "Invited " + login, Mode: castellan.ModeInvitation,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.User
}

// invitationToken returns the token of the newest mail to an address.
func (e *env) invitationToken(t testing.TB, orgID, to string) string {
	t.Helper()
	mails, _, err := e.db.Services().Outbox.FindMail(context.Background(), castellan.MailFilter{OrganizationID: &orgID, To: &to})
	if err != nil || len(mails) == 0 || mails[0].Data["invitationToken"] == "" {
		t.Fatalf("no invitation mail to %s: %v %v", to, mails, err)
	}
	return mails[0].Data["invitationToken"]
}

func registration(login string) map[string]any {
	return map[string]any{"loginId": login, "email": login + "@acme.example", "name": "User " + login}
}

// userRows are the role-matrix rows of the user endpoints. Registering
// and deleting users is for Organization Owners and Admins and User
// Administrators on the organization; Organization Readers read.
func userRows() []matrixRow {
	managers := []string{owner, admin, userAdmin}
	readers := []string{owner, admin, reader, userAdmin}
	userPath := func(f *fixture, id string) string { return f.orgPath() + "/users/" + id }
	return []matrixRow{
		{op: "create-user", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/users", body: registration(f.unique("new"))}
		}, allowed: managers},
		{op: "batch-create-users", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgPath() + "/users:batchCreate", body: map[string]any{
				"users": []any{registration(f.unique("b")), registration(f.unique("b"))}}}
		}, allowed: managers},
		{op: "list-users", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/users?page_size=5"}
		}, allowed: readers, verify: func(t *testing.T, _ string, resp *response) {
			var out struct{ Users []castellan.User }
			resp.decode(t, &out)
			for _, u := range out.Users {
				if u.OrganizationID == "" || u.Deleted {
					t.Fatalf("got %+v", u)
				}
			}
		}},
		{op: "get-user", build: func(f *fixture) request {
			return request{method: "GET", path: userPath(f, f.newUser())}
		}, allowed: readers},
		{op: "update-user", build: func(f *fixture) request {
			return request{method: "PATCH", path: userPath(f, f.newUser()), body: map[string]string{"nickname": "nick"}}
		}, allowed: managers},
		{op: "delete-user", build: func(f *fixture) request {
			u := f.newInvitee()
			return request{method: "DELETE", path: userPath(f, u.ID), body: map[string]string{"confirm": u.LoginID}}
		}, allowed: managers},
		{op: "resend-user-invitation", build: func(f *fixture) request {
			return request{method: "POST", path: userPath(f, f.newInvitee().ID) + "/invitation:resend"}
		}, allowed: managers},
		{op: "reinvite-user", build: func(f *fixture) request {
			return request{method: "POST", path: userPath(f, f.newInvitee().ID) + "/invitation:reinvite"}
		}, allowed: managers},
		// Public: the link is the credential, whoever sends it.
		{op: "accept-invitation", build: func(f *fixture) request {
			u := f.newInvitee()
			return request{method: "POST", path: "/v1/invitations:accept", body: map[string]string{
				"token": f.e.invitationToken(f.t, f.org, u.Email), "password": "Correct-Horse-7-battery"}}
		}, allowed: all()},
	}
}

// TestUserLifecycle walks a user from invitation to deletion through
// real HTTP.
func TestUserLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		body := registration("ann.lee")
		body["nickname"], body["consolePermitIps"], body["useConsolePermitIp"] = "Annie", []string{"203.0.113.0/24"}, true
		resp := e.do(t, request{method: "POST", path: org + "/users", token: e.acme.Token, body: body})
		wantStatus(t, resp, http.StatusCreated)
		var created struct {
			User              castellan.User
			GeneratedPassword *string
		}
		resp.decode(t, &created)
		u := created.User
		if u.Status != castellan.UserPendingInvitation || u.LoginID != "ann.lee" || u.Nickname != "Annie" || !u.ConsoleAccess ||
			created.GeneratedPassword != nil || len(u.ConsolePermitIPs) != 1 {
			t.Fatalf("got %s", resp.body)
		}
		userPath := org + "/users/" + u.ID

		resp = e.do(t, request{method: "GET", path: org + "/users?status=pending_invitation&q=ANN&sort=loginId", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var list struct {
			Users         []castellan.User
			NextPageToken *string
		}
		resp.decode(t, &list)
		if len(list.Users) != 1 || list.Users[0].ID != u.ID || list.NextPageToken != nil {
			t.Fatalf("got %s", resp.body)
		}

		resp = e.do(t, request{method: "PATCH", path: userPath, token: e.acme.Token, body: map[string]any{"name": "Ann Lee-Park", "mfaMandatory": true}})
		wantStatus(t, resp, http.StatusOK)

		// Resend: the first link stops working.
		first := e.invitationToken(t, e.acme.OrganizationID, u.Email)
		e.clock.Advance(60e9)
		wantStatus(t, e.do(t, request{method: "POST", path: userPath + "/invitation:resend", token: e.acme.Token}), http.StatusOK)
		second := e.invitationToken(t, e.acme.OrganizationID, u.Email)
		resp = e.do(t, request{method: "POST", path: "/v1/invitations:accept", body: map[string]string{"token": first, "password": "Correct-Horse-7-battery"}})
		wantStatus(t, resp, http.StatusNotFound)
		if code := resp.problem(t).Code; code != castellan.CodeInvitationInvalid {
			t.Fatalf("got %s", code)
		}
		// Accepting needs no bearer token; a weak password is refused
		// with the sub-account API's "unsafe password" code.
		resp = e.do(t, request{method: "POST", path: "/v1/invitations:accept", body: map[string]string{"token": second, "password": "short"}})
		wantStatus(t, resp, http.StatusBadRequest)
		if p := resp.problem(t); p.Code != castellan.CodeUnsafePassword || p.Errors[0].Field != "body.password" {
			t.Fatalf("got %s", resp.body)
		}
		resp = e.do(t, request{method: "POST", path: "/v1/invitations:accept", body: map[string]string{"token": second, "password": "Correct-Horse-7-battery"}})
		wantStatus(t, resp, http.StatusOK)
		var accepted struct{ UserID, Status string }
		resp.decode(t, &accepted)
		if accepted.UserID != u.ID || accepted.Status != castellan.UserActive {
			t.Fatalf("got %s", resp.body)
		}
		resp = e.do(t, request{method: "POST", path: "/v1/invitations:accept", body: map[string]string{"token": second, "password": "Correct-Horse-7-battery"}})
		wantStatus(t, resp, http.StatusConflict)
		if code := resp.problem(t).Code; code != castellan.CodeInvitationUsed {
			t.Fatalf("got %s", code)
		}
		resp = e.do(t, request{method: "POST", path: userPath + "/invitation:resend", token: e.acme.Token})
		wantStatus(t, resp, http.StatusPreconditionFailed)

		// The active user's token works until the user is deleted.
		token, err := e.db.Services().Tokens.CreateUserToken(system, e.acme.OrganizationID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.do(t, request{method: "GET", path: "/v1/organizations", token: token}), http.StatusOK)
		resp = e.do(t, request{method: "DELETE", path: userPath, token: e.acme.Token, body: map[string]string{"confirm": "Ann.Lee"}})
		wantStatus(t, resp, http.StatusBadRequest)
		if code := resp.problem(t).Code; code != castellan.CodeConfirmationMismatch {
			t.Fatalf("got %s", code)
		}
		resp = e.do(t, request{method: "DELETE", path: userPath, token: e.acme.Token, body: map[string]string{"confirm": "ann.lee"}})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "GET", path: "/v1/organizations", token: token})
		wantStatus(t, resp, http.StatusUnauthorized)

		wantStatus(t, e.do(t, request{method: "GET", path: userPath, token: e.acme.Token}), http.StatusNotFound)
		resp = e.do(t, request{method: "GET", path: userPath + "?includeDeleted=true", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var tomb castellan.User
		resp.decode(t, &tomb)
		if !tomb.Deleted || tomb.DeletedAt == nil || tomb.LoginID != "ann.lee" || tomb.Name != "Ann Lee-Park" || tomb.Email != "" {
			t.Fatalf("got %s", resp.body)
		}
		// The login ID is free again; confirm may also come as a query
		// parameter.
		resp = e.do(t, request{method: "POST", path: org + "/users", token: e.acme.Token, body: registration("ann.lee")})
		wantStatus(t, resp, http.StatusCreated)
		resp.decode(t, &created)
		resp = e.do(t, request{method: "DELETE", path: org + "/users/" + created.User.ID + "?confirm=ann.lee", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
	})
}

func TestUserGeneratedPassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		body := registration("gen")
		body["needPasswordGenerate"], body["passwordResetRequired"] = true, true
		resp := e.do(t, request{method: "POST", path: org + "/users", token: e.acme.Token, body: body})
		wantStatus(t, resp, http.StatusCreated)
		var created struct {
			User              castellan.User
			GeneratedPassword string
		}
		resp.decode(t, &created)
		if created.User.Status != castellan.UserActive || !created.User.PasswordResetRequired ||
			len(castellan.CheckPassword("p", "gen", created.GeneratedPassword)) != 0 {
			t.Fatalf("got %s", resp.body)
		}
		// Shown once: no read, list or audit event carries it.
		for _, path := range []string{org + "/users/" + created.User.ID, org + "/users", org + "/audit-events"} {
			resp := e.do(t, request{method: "GET", path: path, token: e.acme.Token})
			wantStatus(t, resp, http.StatusOK)
			if strings.Contains(string(resp.body), created.GeneratedPassword) || strings.Contains(string(resp.body), "generatedPassword") {
				t.Fatalf("GET %s shows the password: %s", path, resp.body)
			}
		}
		body = registration("weak")
		body["password"] = "password123"
		resp = e.do(t, request{method: "POST", path: org + "/users", token: e.acme.Token, body: body})
		wantStatus(t, resp, http.StatusBadRequest)
		if p := resp.problem(t); p.Code != castellan.CodeUnsafePassword || p.Errors[0].Field != "body.password" {
			t.Fatalf("got %s", resp.body)
		}
	})
}

// TestUserQuickRegister is the batch of the seed: 100 users in one
// request, all or nothing.
func TestUserQuickRegister(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		path := "/v1/organizations/" + e.acme.OrganizationID + "/users:batchCreate"
		users := func(n int) []map[string]any {
			out := make([]map[string]any, n)
			for i := range out {
				out[i] = registration(fmt.Sprintf("q%03d", i))
			}
			return out
		}
		before := e.state(t)
		batch := users(100)
		batch[57]["email"] = "not-an-email"
		resp := e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: map[string]any{"users": batch}})
		wantStatus(t, resp, http.StatusBadRequest)
		if p := resp.problem(t); p.Code != castellan.CodeInvalidField || p.Errors[0].Field != "body.users[57].email" {
			t.Fatalf("got %s", resp.body)
		}
		batch = users(100)
		batch[12]["email"] = "OWNER@acme.example"
		resp = e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: map[string]any{"users": batch}})
		wantStatus(t, resp, http.StatusConflict)
		if p := resp.problem(t); p.Code != castellan.CodeUserEmailTaken || p.Errors[0].Field != "body.users[12].email" {
			t.Fatalf("got %s", resp.body)
		}
		resp = e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: map[string]any{"users": users(101)}})
		wantStatus(t, resp, http.StatusBadRequest)
		if !e.state(t).equal(before) {
			t.Fatal("a rejected batch changed the store")
		}

		resp = e.do(t, request{method: "POST", path: path, token: e.acme.Token, body: map[string]any{"users": users(100)}})
		wantStatus(t, resp, http.StatusCreated)
		var out struct {
			Users []struct {
				User castellan.User
			}
			Revision int64
		}
		resp.decode(t, &out)
		if len(out.Users) != 100 || out.Revision != before.revision+1 {
			t.Fatalf("got %d users at revision %d, want 100 at %d", len(out.Users), out.Revision, before.revision+1)
		}
		org := e.acme.OrganizationID
		mails, _, err := e.db.Services().Outbox.FindMail(context.Background(), castellan.MailFilter{OrganizationID: &org, PageSize: 1000})
		if err != nil || len(mails) != 100 {
			t.Fatalf("got %d mails, %v", len(mails), err)
		}
	})
}

// TestUsersCrossOrganization: no endpoint lets an organization's owner
// reach another organization's users, and nothing changes.
func TestUsersCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		target := f.newInvitee()
		acme := "/v1/organizations/" + e.acme.OrganizationID
		globex := "/v1/organizations/" + e.globex.OrganizationID
		before := e.state(t)
		for _, c := range []struct {
			req  request
			code string
		}{
			// Globex's owner on Acme's paths: the organization is not found.
			{request{method: "POST", path: acme + "/users", body: registration("xyz")}, castellan.CodeOrgNotFound},
			{request{method: "POST", path: acme + "/users:batchCreate", body: map[string]any{"users": []any{registration("xyz")}}}, castellan.CodeOrgNotFound},
			{request{method: "GET", path: acme + "/users"}, castellan.CodeOrgNotFound},
			{request{method: "GET", path: acme + "/users/" + target.ID + "?includeDeleted=true"}, castellan.CodeOrgNotFound},
			{request{method: "PATCH", path: acme + "/users/" + target.ID, body: map[string]string{"name": "Mallory"}}, castellan.CodeOrgNotFound},
			{request{method: "DELETE", path: acme + "/users/" + target.ID + "?confirm=" + target.LoginID}, castellan.CodeOrgNotFound},
			{request{method: "POST", path: acme + "/users/" + target.ID + "/invitation:resend"}, castellan.CodeOrgNotFound},
			{request{method: "POST", path: acme + "/users/" + target.ID + "/invitation:reinvite"}, castellan.CodeOrgNotFound},
			// Globex's owner on its own paths with Acme's user: not found.
			{request{method: "GET", path: globex + "/users/" + target.ID + "?includeDeleted=true"}, castellan.CodeUserNotFound},
			{request{method: "PATCH", path: globex + "/users/" + target.ID, body: map[string]string{"name": "Mallory"}}, castellan.CodeUserNotFound},
			{request{method: "DELETE", path: globex + "/users/" + target.ID + "?confirm=" + target.LoginID}, castellan.CodeUserNotFound},
			{request{method: "POST", path: globex + "/users/" + target.ID + "/invitation:resend"}, castellan.CodeUserNotFound},
			{request{method: "POST", path: globex + "/users/" + target.ID + "/invitation:reinvite"}, castellan.CodeUserNotFound},
		} {
			c.req.token = e.globex.Token
			resp := e.do(t, c.req)
			wantStatus(t, resp, http.StatusNotFound)
			if code := resp.problem(t).Code; code != c.code {
				t.Fatalf("%s %s: got %s, want %s", c.req.method, c.req.path, code, c.code)
			}
		}
		if !e.state(t).equal(before) {
			t.Fatal("cross-organization requests changed the store")
		}
		resp := e.do(t, request{method: "GET", path: globex + "/users", token: e.globex.Token})
		var list struct{ Users []castellan.User }
		resp.decode(t, &list)
		if len(list.Users) != 1 || list.Users[0].ID != e.globex.OwnerUserID {
			t.Fatalf("got %s", resp.body)
		}
	})
}

// TestUsersBadInput: every malformed request is refused with the field it
// names, and changes nothing.
func TestUsersBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		u := f.newInvitee()
		org := "/v1/organizations/" + e.acme.OrganizationID
		with := func(key string, value any) map[string]any {
			b := registration("okay")
			b[key] = value
			return b
		}
		before := e.state(t)
		for _, c := range []struct {
			req         request
			status      int
			code, field string
		}{
			{request{method: "POST", path: org + "/users", body: with("loginId", "ab")}, 400, castellan.CodeInvalidField, "body.loginId"},
			{request{method: "POST", path: org + "/users", body: with("loginId", "a/b/c")}, 400, castellan.CodeInvalidField, "body.loginId"},
			{request{method: "POST", path: org + "/users", body: with("name", strings.Repeat("n", 31))}, 400, castellan.CodeInvalidField, "body.name"},
			{request{method: "POST", path: org + "/users", body: with("lastName", "O'Brien")}, 400, castellan.CodeInvalidField, "body.lastName"},
			{request{method: "POST", path: org + "/users", body: with("memo", strings.Repeat("é", 151))}, 400, castellan.CodeInvalidField, "body.memo"},
			{request{method: "POST", path: org + "/users", body: with("consolePermitIps", []string{"10.0.0.1/8"})}, 400, castellan.CodeInvalidField, "body.consolePermitIps[0]"},
			{request{method: "POST", path: org + "/users", body: with("apiAllowSources", []map[string]string{{"type": "VPC_SERVER", "source": "x"}})}, 400, castellan.CodeInvalidField, "body.apiAllowSources[0].source"},
			{request{method: "POST", path: org + "/users", body: with("mode", "magic")}, 400, castellan.CodeInvalidField, "body.mode"},
			{request{method: "POST", path: org + "/users", body: with("unknown", 1)}, 400, castellan.CodeInvalidField, "body.unknown"},
			{request{method: "POST", path: org + "/users", body: with("email", u.Email)}, 409, castellan.CodeUserEmailTaken, "body.email"},
			{request{method: "POST", path: org + "/users", body: with("loginId", strings.ToUpper(u.LoginID))}, 409, castellan.CodeUserLoginIDTaken, "body.loginId"},
			{request{method: "POST", path: org + "/users:batchCreate", body: map[string]any{"users": []any{}}}, 400, castellan.CodeInvalidField, "body.users"},
			{request{method: "GET", path: org + "/users?sort=email"}, 400, castellan.CodeInvalidField, "query.sort"},
			{request{method: "GET", path: org + "/users?page_token=junk"}, 400, castellan.CodeInvalidPageToken, "query.page_token"},
			{request{method: "GET", path: org + "/users?group=" + unknownGroup}, 404, castellan.CodeGroupNotFound, ""},
			{request{method: "GET", path: org + "/users/not-a-uuid"}, 400, castellan.CodeInvalidID, "path.user"},
			{request{method: "PATCH", path: org + "/users/" + u.ID, body: map[string]string{"status": "deleted"}}, 400, castellan.CodeInvalidField, "body.status"},
			{request{method: "PATCH", path: org + "/users/" + u.ID, body: map[string]string{"status": "active"}}, 400, castellan.CodeUserInvalidStatus, "body.status"},
			{request{method: "PATCH", path: org + "/users/" + u.ID, body: map[string]string{"mobile": "010"}}, 400, castellan.CodeInvalidField, "body.mobile"},
			{request{method: "DELETE", path: org + "/users/" + u.ID}, 400, castellan.CodeConfirmationMismatch, "body.confirm"},
			{request{method: "POST", path: "/v1/invitations:accept", body: map[string]string{"token": "csti_nope", "password": "Correct-Horse-7-battery"}}, 404, castellan.CodeInvitationInvalid, ""},
		} {
			if c.req.token == "" && c.req.path != "/v1/invitations:accept" {
				c.req.token = e.acme.Token
			}
			resp := e.do(t, c.req)
			if resp.status != c.status {
				t.Fatalf("%s %s: got %d, want %d: %s", c.req.method, c.req.path, resp.status, c.status, resp.body)
			}
			p := resp.problem(t)
			if p.Code != c.code {
				t.Fatalf("%s %s: got %s, want %s: %s", c.req.method, c.req.path, p.Code, c.code, resp.body)
			}
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
				t.Fatalf("%s %s: got %s, want field %s", c.req.method, c.req.path, resp.body, c.field)
			}
		}
		if !e.state(t).equal(before) {
			t.Fatal("a rejected request changed the store")
		}
	})
}

const unknownGroup = "0190d3a8-0000-7000-8000-000000000000"

// TestDeleteUserHierarchy: a User Administrator cannot delete or disable
// an Owner (it would take away roles it does not hold), and the last
// owner stays.
func TestDeleteUserHierarchy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		admin := f.newUser()
		f.grant("iam.userAdmin", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: admin})
		token, err := e.db.Services().Tokens.CreateUserToken(system, f.org, admin)
		if err != nil {
			t.Fatal(err)
		}
		ownerPath := f.orgPath() + "/users/" + e.acme.OwnerUserID
		before := e.state(t)
		resp := e.do(t, request{method: "DELETE", path: ownerPath + "?confirm=owner@acme.example", token: token})
		wantStatus(t, resp, http.StatusForbidden)
		if code := resp.problem(t).Code; code != castellan.CodeEscalation {
			t.Fatalf("got %s", code)
		}
		// Every change to a user holding roles the caller lacks is refused:
		// a new email would receive its next link, flags lock it out.
		for _, body := range []map[string]any{
			{"status": "disabled"}, {"email": "attacker@evil.example"}, {"apiAccess": false}, {"consoleAccess": false},
		} {
			resp = e.do(t, request{method: "PATCH", path: ownerPath, token: token, body: body})
			wantStatus(t, resp, http.StatusForbidden)
			if code := resp.problem(t).Code; code != castellan.CodeEscalation {
				t.Fatalf("%v: got %s", body, code)
			}
		}
		// Nor may it send a new invitation link for such a user.
		pending := f.newInvitee().ID
		f.grant("organization.admin", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: pending})
		before = e.state(t)
		for _, verb := range []string{"resend", "reinvite"} {
			resp = e.do(t, request{method: "POST", path: f.orgPath() + "/users/" + pending + "/invitation:" + verb, token: token})
			wantStatus(t, resp, http.StatusForbidden)
		}
		resp = e.do(t, request{method: "DELETE", path: ownerPath + "?confirm=owner@acme.example", token: e.acme.Token})
		wantStatus(t, resp, http.StatusPreconditionFailed)
		if code := resp.problem(t).Code; code != castellan.CodeLastOwner {
			t.Fatalf("got %s", code)
		}
		if !e.state(t).equal(before) {
			t.Fatal("a refused deletion changed the store")
		}
		// The User Administrator may remove what it holds itself.
		peer := f.newUser()
		f.grant("iam.userAdmin", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: peer})
		peerUser, err := e.db.Services().Users.FindUserByID(system, f.org, peer, false)
		if err != nil {
			t.Fatal(err)
		}
		resp = e.do(t, request{method: "DELETE", path: f.orgPath() + "/users/" + peer + "?confirm=" + peerUser.LoginID, token: token})
		wantStatus(t, resp, http.StatusOK)
	})
}

// TestUserEmailOptional: seed 004 marks the email optional; a user
// registered with a password needs none, several such users coexist (one
// at a time and in a batch), and invitation mode, where the link is mailed,
// still requires it: 400 naming the field and the rule, nothing created.
func TestUserEmailOptional(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		withPassword := func(login string) map[string]any {
			return map[string]any{"loginId": login, "name": "User " + login, "password": "Correct-Horse-7-battery"}
		}
		for _, login := range []string{"ann", "bob"} {
			resp := e.do(t, request{method: "POST", path: org + "/users", token: e.acme.Token, body: withPassword(login)})
			wantStatus(t, resp, http.StatusCreated)
			var out struct{ User castellan.User }
			resp.decode(t, &out)
			if out.User.Email != "" || out.User.Status != castellan.UserActive || out.User.LoginID != login {
				t.Fatalf("got %s", resp.body)
			}
		}
		resp := e.do(t, request{method: "POST", path: org + "/users:batchCreate", token: e.acme.Token,
			body: map[string]any{"users": []any{withPassword("cid"), withPassword("dan")}}})
		wantStatus(t, resp, http.StatusCreated)
		resp = e.do(t, request{method: "GET", path: org + "/users?q=&page_size=10", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var list struct{ Users []castellan.User }
		resp.decode(t, &list)
		if len(list.Users) != 5 { // the owner and the four
			t.Fatalf("got %s", resp.body)
		}

		invited := map[string]any{"loginId": "eve", "name": "User eve", "mode": "invitation"}
		for _, req := range []request{
			{method: "POST", path: org + "/users", token: e.acme.Token, body: invited},
			{method: "POST", path: org + "/users:batchCreate", token: e.acme.Token, body: map[string]any{"users": []any{withPassword("fay"), invited}}},
		} {
			before := e.state(t)
			resp := e.do(t, req)
			wantStatus(t, resp, http.StatusBadRequest)
			p := resp.problem(t)
			field := "body.email"
			if strings.HasSuffix(req.path, ":batchCreate") {
				field = "body.users[1].email"
			}
			if p.Code != castellan.CodeInvalidField || len(p.Errors) != 1 || p.Errors[0].Field != field || p.Errors[0].Rule != "required" {
				t.Fatalf("%s: got %s", req.path, resp.body)
			}
			if !e.state(t).equal(before) {
				t.Fatalf("%s: a rejected request changed the store", req.path)
			}
		}
	})
}

// TestFederatedUserMail registers federated users by email in a batch:
// each finds in the dev mailbox one mail with the console's sign-in link
// and its federation ID; the local user of the batch, registered with a
// password, gets none. Before that, the same batch naming a federation
// that is not one of the organization's (an unknown ID, one of another
// organization) is refused 404 naming the item's federationId, and one
// whose federation does not allow the email's domain 400 naming its
// email: nothing is registered and no mail sent.
func TestFederatedUserMail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		newFederation := func(orgID, name string, domains ...string) *castellan.Federation {
			t.Helper()
			f, err := e.db.Services().Federations.CreateFederation(system, orgID, castellan.FederationCreate{
				Name: name, Issuer: "https://idp.example.com", ClientID: "castellan", AllowedDomains: domains})
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		federation := newFederation(e.acme.OrganizationID, "Entra").ID
		federated := func(login, federationID string) map[string]any {
			b := registration(login)
			b["accountType"], b["federationId"] = castellan.AccountFederated, federationID
			return b
		}
		local := registration("local")
		local["password"] = "Correct-Horse-7-battery"
		path := "/v1/organizations/" + e.acme.OrganizationID + "/users:batchCreate"
		m := &mailEnv{env: e}
		logins := []string{"fed1", "fed2", "local"}

		for _, c := range []struct {
			name, federationID string
			status             int
			code, field, rule  string
		}{
			{"unknown", "0190d3a8-0000-7000-8000-00000000f001", http.StatusNotFound, castellan.CodeFederationNotFound, "body.users[1].federationId", "exists"},
			{"another organization's", newFederation(e.globex.OrganizationID, "Theirs").ID, http.StatusNotFound, castellan.CodeFederationNotFound, "body.users[1].federationId", "exists"},
			{"narrow", newFederation(e.acme.OrganizationID, "Narrow", "corp.example").ID, http.StatusBadRequest, castellan.CodeInvalidField, "body.users[1].email", "domain"},
		} {
			wantRefusedField(t, e, request{method: "POST", path: path, token: e.acme.Token,
				body: map[string]any{"users": []any{federated("fed1", federation), federated("fed2", c.federationID), local}}},
				c.status, c.code, c.field, c.rule)
			for _, login := range logins {
				if out := m.mailbox(t, e.operator, "?to="+login+"@acme.example"); len(out.Mails) != 0 {
					t.Fatalf("%s federation: %s got %+v", c.name, login, out.Mails)
				}
				resp := e.do(t, request{method: "GET", path: "/v1/organizations/" + e.acme.OrganizationID + "/users?q=" + login, token: e.acme.Token})
				wantStatus(t, resp, http.StatusOK)
				var list struct{ Users []castellan.User }
				resp.decode(t, &list)
				if len(list.Users) != 0 {
					t.Fatalf("%s federation: registered %s", c.name, resp.body)
				}
			}
		}

		resp := e.do(t, request{method: "POST", path: path, token: e.acme.Token,
			body: map[string]any{"users": []any{federated("fed1", federation), federated("fed2", federation), local}}})
		wantStatus(t, resp, http.StatusCreated)
		const link = "https://castellan.test/console/sign-in"
		for _, login := range []string{"fed1", "fed2"} {
			out := m.mailbox(t, e.operator, "?to="+login+"@acme.example")
			if len(out.Mails) != 1 {
				t.Fatalf("%s got %d mails, want 1", login, len(out.Mails))
			}
			got := out.Mails[0]
			if got.Template != castellan.MailFederatedWelcome || got.RenderError != "" ||
				!strings.Contains(got.Text, "\n"+link+"\n") || !strings.Contains(got.Text, "\n"+federation+"\n") ||
				!strings.Contains(got.HTML, `href="`+link+`"`) || !strings.Contains(got.HTML, federation) {
				t.Fatalf("%s: got %+v", login, got)
			}
		}
		if out := m.mailbox(t, e.operator, "?to=local@acme.example"); len(out.Mails) != 0 {
			t.Fatalf("the local user got %+v", out.Mails)
		}
	})
}

package cloudru_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestAddUserSeed sends the seed's AddUser and reinvite bodies as they
// are, and follows the invitation they mail.
func TestAddUserSeed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		r := e.post(t, e.usersPath(org), e.Acme.Token, readFile(t, "add_user.json"))
		var out struct {
			UserID string `json:"user_id"`
		}
		decode(t, r, &out)
		golden(t, "add_user", r, map[string]string{out.UserID: "<user>"})

		u, err := e.DB.Services().Users.FindUserByID(system, org, out.UserID, false)
		if err != nil {
			t.Fatal(err)
		}
		if u.LoginID != "ivanovivan@gmail.com" || u.Email != "ivanovivan@gmail.com" || u.FirstName != "Иван" || u.LastName != "Иванов" ||
			u.MiddleName != "Иванович" || u.Status != castellan.UserPendingInvitation || u.AccountType != castellan.AccountLocal ||
			!u.ConsoleAccess || !u.APIAccess {
			t.Fatalf("got %+v", u)
		}
		invitation := e.mailTo(t, org, "ivanovivan@gmail.com")
		if invitation.Template != castellan.MailInvitation || invitation.Data["invitationToken"] == "" {
			t.Fatalf("got mail %+v, want the invitation", invitation)
		}

		// The same user again: its user name and email are taken.
		before := e.Snapshot(t)
		r = e.post(t, e.usersPath(org), e.Acme.Token, readFile(t, "add_user.json"))
		wantError(t, r, http.StatusConflict, 6, "")
		golden(t, "add_user_taken", r, nil)
		e.unchanged(t, before)

		body := strings.Replace(readFile(t, "reinvite.json"), "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxxx", out.UserID, 1)
		r = e.post(t, e.usersPath(org)+"/reinvite", e.Acme.Token, body)
		golden(t, "reinvite", r, nil)
		reinvite := e.mailTo(t, org, "ivanovivan@gmail.com")
		if reinvite.Template != castellan.MailReinvite || reinvite.Data["invitationToken"] == "" {
			t.Fatalf("got mail %+v, want the reinvitation", reinvite)
		}
		// The first link is void; the new one works.
		_, err = e.DB.Services().Users.AcceptInvitation(system, invitation.Data["invitationToken"], "Correct-Horse-7-battery")
		if castellan.ErrorCode(err) != castellan.CodeInvitationInvalid {
			t.Fatalf("the first invitation after reinvite: got %v, want %s", err, castellan.CodeInvitationInvalid)
		}
		if _, err := e.DB.Services().Users.AcceptInvitation(system, reinvite.Data["invitationToken"], "Correct-Horse-7-battery"); err != nil {
			t.Fatal(err)
		}
		// An active user has no invitation to renew.
		before = e.Snapshot(t)
		wantError(t, e.post(t, e.usersPath(org)+"/reinvite", e.Acme.Token, body), http.StatusBadRequest, 9, "")
		e.unchanged(t, before)
	})
}

// TestAddUserBadUsername answers a bad userName with the seed's body,
// byte for byte (the seed's is indented).
func TestAddUserBadUsername(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		before := e.Snapshot(t)
		body := strings.Replace(readFile(t, "add_user.json"), `"userName": "ivanovivan@gmail.com"`, `"userName": "Иван Иванов"`, 1)
		r := e.post(t, e.usersPath(e.Acme.OrganizationID), e.Acme.Token, body)
		want := compact(t, readFile(t, "add_user_bad_username.seed.json"))
		if r.status != http.StatusBadRequest || r.contentType != "application/json" || r.body != want {
			t.Fatalf("got %d %s %s, want 400 application/json %s", r.status, r.contentType, r.body, want)
		}
		e.unchanged(t, before)
	})
}

// TestAddUserValidation: each bad field in protoc-gen-validate's words,
// the first in the original's field order, and nothing changed.
func TestAddUserValidation(t *testing.T) {
	long := strings.Repeat("a", castellan.MaxLoginIDLength+1)
	regex := `value does not match regex pattern "^[-a-zA-Z0-9@._+ ]{2,255}$"`
	for _, tc := range []struct {
		name, org string
		edit      map[string]any
		message   string
	}{
		{"short user name", "", map[string]any{"userName": "a"}, "invalid AddUserRequest.Username: " + regex},
		{"long user name", "", map[string]any{"userName": long}, "invalid AddUserRequest.Username: " + regex},
		{"user name with a slash", "", map[string]any{"userName": "ann/lee"}, "invalid AddUserRequest.Username: " + regex},
		{"short first name", "", map[string]any{"firstName": "И"}, "invalid AddUserRequest.FirstName: value length must be between 2 and 255 runes, inclusive"},
		{"first name with a sign", "", map[string]any{"firstName": "Иван!"}, `invalid AddUserRequest.FirstName: value does not match regex pattern "^[\\p{L}\\p{M}\\p{N} ]+$"`},
		{"last before middle", "", map[string]any{"middleName": "x", "lastName": "y"}, "invalid AddUserRequest.LastName: value length must be between 2 and 255 runes, inclusive"},
		{"bad email", "", map[string]any{"email": "not-an-email"}, "invalid AddUserRequest.Email: value must be a valid email address"},
		{"no email", "", map[string]any{"email": ""}, "invalid AddUserRequest.Email: value must be a valid email address"},
		{"user name before email", "", map[string]any{"userName": "a", "email": "x"}, "invalid AddUserRequest.Username: " + regex},
		{"customer not a UUID", "acme", map[string]any{"userName": "a"}, "invalid AddUserRequest.CustomerId: value must be a valid UUID"},
		{"unknown account type", "", map[string]any{"accountType": "USER_ACCOUNT_TYPE_ROBOT"},
			"invalid AddUserRequest.AccountType: value must be in list [USER_ACCOUNT_TYPE_LOCAL USER_ACCOUNT_TYPE_FEDERATED]"},
		{"idpId of a local user", "", map[string]any{"idpId": "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"},
			"invalid AddUserRequest.IdpId: must be empty for USER_ACCOUNT_TYPE_LOCAL"},
		{"federated without idpId", "", map[string]any{"accountType": "USER_ACCOUNT_TYPE_FEDERATED"}, "invalid AddUserRequest.IdpId: value must be a valid UUID"},
		{"federated with a bad idpId", "", map[string]any{"accountType": "USER_ACCOUNT_TYPE_FEDERATED", "idpId": "idp-1"},
			"invalid AddUserRequest.IdpId: value must be a valid UUID"},
		{"unknown field", "", map[string]any{"nickname": "Vanya"}, `invalid AddUserRequest: unknown field "nickname"`},
		{"key in another case", "", map[string]any{"USERNAME": "ivan"}, `invalid AddUserRequest: unknown field "USERNAME"`},
		{"wrong type", "", map[string]any{"userName": 5}, "invalid AddUserRequest.Username: value must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				body := map[string]any{}
				decodeString(t, readFile(t, "add_user.json"), &body)
				for k, v := range tc.edit {
					body[k] = v
				}
				org := tc.org
				if org == "" {
					org = e.Acme.OrganizationID
				}
				before := e.Snapshot(t)
				wantError(t, e.post(t, e.usersPath(org), e.Acme.Token, jsonBody(t, body)), http.StatusBadRequest, 3, tc.message)
				e.unchanged(t, before)
			})
		})
	}
}

// TestBadBodies: what is not the request message is refused in the
// gateway's shape, the plumbing's refusals too.
func TestBadBodies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		path := e.usersPath(e.Acme.OrganizationID)
		before := e.Snapshot(t)
		for _, tc := range []struct{ body, message string }{
			{`[]`, "invalid AddUserRequest: the body must be a JSON object"},
			{`{"userName": "a",}`, "invalid AddUserRequest: the body is not valid JSON: invalid character '}' looking for beginning of object key string (at byte 18)"},
			{`{"userName": "ivan", "userName": "ivan2"}`, ""},
		} {
			wantError(t, e.post(t, path, e.Acme.Token, tc.body), http.StatusBadRequest, 3, tc.message)
		}
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/compat/cloudru"+path, strings.NewReader("userName=ivan"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.Acme.Token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("a form body: got %d %s, want 400 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// No such operation, or not with this method.
		wantError(t, e.do(t, http.MethodGet, path, e.Acme.Token, ""), http.StatusMethodNotAllowed, 12, "")
		wantError(t, e.post(t, "/api/v1/nothing", e.Acme.Token, "{}"), http.StatusNotFound, 5, "")
		e.unchanged(t, before)
	})
}

// TestAuthentication: no token, or a bad one, is UNAUTHENTICATED.
func TestAuthentication(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		before := e.Snapshot(t)
		path := e.usersPath(e.Acme.OrganizationID)
		r := e.post(t, path, "", readFile(t, "add_user.json"))
		wantError(t, r, http.StatusUnauthorized, 16, "")
		golden(t, "unauthenticated", r, nil)
		wantError(t, e.post(t, path, "cst_not-a-token", readFile(t, "add_user.json")), http.StatusUnauthorized, 16, "")
		wantError(t, e.post(t, "/api/v1/permissions", "", "{}"), http.StatusUnauthorized, 16, "")
		e.unchanged(t, before)
	})
}

// TestCrossOrganization: another organization is not found, whatever
// the caller may do in its own.
func TestCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		acme := e.Acme.OrganizationID
		idp := newFederation(t, e, acme)
		before := e.Snapshot(t)
		wantError(t, e.post(t, e.usersPath(acme), e.Globex.Token, readFile(t, "add_user.json")), http.StatusNotFound, 5,
			"organization "+acme+" not found")
		wantError(t, e.post(t, e.usersPath(acme)+"/reinvite", e.Globex.Token, `{"userId": "`+e.Acme.OwnerUserID+`"}`), http.StatusNotFound, 5, "")
		wantError(t, e.post(t, "/api/v1/customers/"+acme+"/federations/"+idp+"/users", e.Globex.Token,
			`{"emails": ["a@acme.example"]}`), http.StatusNotFound, 5, "")
		// An unknown user of the caller's own organization.
		wantError(t, e.post(t, e.usersPath(acme)+"/reinvite", e.Acme.Token, `{"userId": "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"}`),
			http.StatusNotFound, 5, "")
		wantError(t, e.post(t, e.usersPath(acme)+"/reinvite", e.Acme.Token, `{"userId": "me"}`),
			http.StatusBadRequest, 3, "invalid ReinviteUserRequest.UserId: value must be a valid UUID")
		e.unchanged(t, before)
	})
}

// newFederation creates an identity federation of org, allowing the
// emails of domains (any when none), and returns its ID.
func newFederation(t *testing.T, e *env, org string, domains ...string) string {
	t.Helper()
	f, err := e.DB.Services().Federations.CreateFederation(system, org, castellan.FederationCreate{
		Name: "idp" + nextName(), Issuer: "https://idp.example.com", ClientID: "castellan", AllowedDomains: domains})
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// TestAddFederatedUser registers a federated user through AddUser. An
// idpId that is not a federation of the organization (an unknown one,
// one of another organization) is not found, and one whose federation
// does not allow the email's domain is invalid: nothing is registered.
func TestAddFederatedUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		idp := newFederation(t, e, org)
		federated := func(federationID string) string {
			return strings.Replace(readFile(t, "add_user.json"), `"USER_ACCOUNT_TYPE_LOCAL"`,
				`"USER_ACCOUNT_TYPE_FEDERATED", "idpId": "`+strings.ToUpper(federationID)+`"`, 1)
		}
		theirs, narrow := newFederation(t, e, e.Globex.OrganizationID), newFederation(t, e, org, "corp.example")
		before := e.Snapshot(t)
		for _, tc := range []struct {
			idp          string
			status, code int
		}{
			{"0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e", http.StatusNotFound, 5},
			{theirs, http.StatusNotFound, 5},
			{narrow, http.StatusBadRequest, 3},
		} {
			wantError(t, e.post(t, e.usersPath(org), e.Acme.Token, federated(tc.idp)), tc.status, tc.code, "")
		}
		e.unchanged(t, before)

		r := e.post(t, e.usersPath(org), e.Acme.Token, federated(idp))
		var out struct {
			UserID string `json:"user_id"`
		}
		decode(t, r, &out)
		u, err := e.DB.Services().Users.FindUserByID(system, org, out.UserID, false)
		if err != nil {
			t.Fatal(err)
		}
		if u.AccountType != castellan.AccountFederated || u.FederationID != idp || u.Status != castellan.UserActive {
			t.Fatalf("got %+v", u)
		}
	})
}

// TestAddFederatedUsers registers users of a federation by their
// emails, all or none. An idpId that is not a federation of the
// organization (an unknown one, one of another organization) is not
// found, and a federation that does not allow an email's domain is
// invalid: nothing is registered.
func TestAddFederatedUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		idp := newFederation(t, e, org)
		path := "/api/v1/customers/" + org + "/federations/" + idp + "/users"
		r := e.post(t, path, e.Acme.Token, `{"emails": ["ann@acme.example", "bob@acme.example", "cy@acme.example"]}`)
		var out struct {
			UserIDs []string `json:"user_ids"`
		}
		decode(t, r, &out)
		if len(out.UserIDs) != 3 {
			t.Fatalf("got %s", r.body)
		}
		golden(t, "add_federated_users", r, map[string]string{out.UserIDs[0]: "<ann>", out.UserIDs[1]: "<bob>", out.UserIDs[2]: "<cy>"})
		for i, email := range []string{"ann@acme.example", "bob@acme.example", "cy@acme.example"} {
			u, err := e.DB.Services().Users.FindUserByID(system, org, out.UserIDs[i], false)
			if err != nil {
				t.Fatal(err)
			}
			if u.LoginID != email || u.Email != email || u.AccountType != castellan.AccountFederated || u.FederationID != idp {
				t.Fatalf("got %+v", u)
			}
		}

		const unknown = "0196f0f2-7a3c-7c2b-9d51-3f2a1b0c4d5e"
		theirs, narrow := newFederation(t, e, e.Globex.OrganizationID), newFederation(t, e, org, "corp.example")
		before := e.Snapshot(t)
		many := make([]string, castellan.MaxBatchItems+1)
		for i := range many {
			many[i] = "u" + strconv.Itoa(i) + "@acme.example"
		}
		for _, tc := range []struct {
			path, body   string
			status, code int
			message      string
		}{
			{path, `{"emails": ["dan@acme.example", "eve@acme.example", "not-an-email"]}`, http.StatusBadRequest, 3,
				"invalid AddFederatedUsersRequest.Emails[2]: value must be a valid email address"},
			{path, `{"emails": ["dan@acme.example", "o'neil@acme.example"]}`, http.StatusBadRequest, 3,
				`invalid AddFederatedUsersRequest.Emails[1]: value does not match regex pattern "^[-a-zA-Z0-9@._+ ]{2,255}$"`},
			{path, `{"emails": []}`, http.StatusBadRequest, 3, "invalid AddFederatedUsersRequest.Emails: value must contain at least 1 item(s)"},
			{path, jsonBody(t, map[string]any{"emails": many}), http.StatusBadRequest, 3,
				"invalid AddFederatedUsersRequest.Emails: value must contain no more than 100 item(s)"},
			{path, `{"emails": "dan@acme.example"}`, http.StatusBadRequest, 3, "invalid AddFederatedUsersRequest.Emails: value must be an array"},
			{path, `{"emails": ["dan@acme.example", 7]}`, http.StatusBadRequest, 3, "invalid AddFederatedUsersRequest.Emails: value must be a string"},
			{path, `{"emails": ["dan@acme.example", "ann@acme.example"]}`, http.StatusConflict, 6, ""},
			{path, `{"emails": ["dan@acme.example", "dan@acme.example"]}`, http.StatusConflict, 6, ""},
			{strings.Replace(path, idp, "idp", 1), `{"emails": ["dan@acme.example"]}`, http.StatusBadRequest, 3,
				"invalid AddFederatedUsersRequest.IdpId: value must be a valid UUID"},
			{strings.Replace(path, idp, unknown, 1), `{"emails": ["dan@acme.example"]}`, http.StatusNotFound, 5, ""},
			{strings.Replace(path, idp, theirs, 1), `{"emails": ["dan@acme.example"]}`, http.StatusNotFound, 5, ""},
			{strings.Replace(path, idp, narrow, 1), `{"emails": ["dan@corp.example", "eve@acme.example"]}`, http.StatusBadRequest, 3, ""},
		} {
			wantError(t, e.post(t, tc.path, e.Acme.Token, tc.body), tc.status, tc.code, tc.message)
		}
		e.unchanged(t, before)
	})
}

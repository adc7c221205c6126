package api_test

import (
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/storetest"
)

func init() { matrixRowSets = append(matrixRowSets, mfaRows) }

// enrol gives a user of the fixture's organization a confirmed TOTP
// factor, as the user would at sign-in.
func (f *fixture) enrol(userID string) {
	mfa := f.e.db.Services().MFA
	setup, err := mfa.BeginTOTP(system, f.org, userID)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := mfa.ConfirmTOTP(system, f.org, userID, storetest.TOTPCode(f.t, setup.Secret, f.e.clock.Now()), ""); err != nil {
		f.t.Fatal(err)
	}
}

// newEnrolledUser creates a user with a confirmed second factor.
func (f *fixture) newEnrolledUser() string {
	u := f.newUser()
	f.enrol(u)
	return u
}

// mfaRows: Organization Readers read a user's second factor; those who
// manage users reset it.
func mfaRows() []matrixRow {
	mfaPath := func(f *fixture) string { return f.orgPath() + "/users/" + f.newEnrolledUser() + "/mfa" }
	return []matrixRow{
		{op: "get-user-mfa", build: func(f *fixture) request {
			return request{method: "GET", path: mfaPath(f)}
		}, allowed: []string{owner, admin, reader, userAdmin}, verify: func(t *testing.T, _ string, resp *response) {
			var st castellan.MFAStatus
			resp.decode(t, &st)
			if !st.Enrolled || st.Required || st.RecoveryCodesLeft != castellan.RecoveryCodeCount {
				t.Fatalf("got %+v", st)
			}
		}},
		{op: "reset-user-mfa", build: func(f *fixture) request {
			return request{method: "POST", path: mfaPath(f) + ":reset"}
		}, allowed: []string{owner, admin, userAdmin}},
	}
}

// TestUserMFAAPI: a user reads its own second factor without any role;
// a reset is audited, ends the factor and applies the hierarchy
// principle as updating the user does.
func TestUserMFAAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		ann, bob := f.newEnrolledUser(), f.newUser()
		tokenOf := func(user string) string {
			token, err := e.db.Services().Tokens.CreateUserToken(system, f.org, user)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		annToken := tokenOf(ann)
		annPath := f.orgPath() + "/users/" + ann + "/mfa"

		resp := e.do(t, request{method: "GET", path: annPath, token: annToken})
		wantStatus(t, resp, http.StatusOK)
		var st castellan.MFAStatus
		resp.decode(t, &st)
		if !st.Enrolled || st.RecoveryCodesLeft != castellan.RecoveryCodeCount {
			t.Fatalf("got %+v", st)
		}
		// Not someone else's, and no reset of its own without the action.
		resp = e.do(t, request{method: "GET", path: f.orgPath() + "/users/" + bob + "/mfa", token: annToken})
		wantStatus(t, resp, http.StatusForbidden)
		before := e.state(t)
		resp = e.do(t, request{method: "POST", path: annPath + ":reset", token: annToken})
		wantStatus(t, resp, http.StatusForbidden)
		if !e.state(t).equal(before) {
			t.Fatal("a refused reset changed the store")
		}

		// A User Administrator cannot reset an owner's factor.
		userAdmin := f.newUser()
		f.grant("iam.userAdmin", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectUser, ID: userAdmin})
		adminToken := tokenOf(userAdmin)
		f.enrol(e.acme.OwnerUserID)
		before = e.state(t)
		resp = e.do(t, request{method: "POST", path: f.orgPath() + "/users/" + e.acme.OwnerUserID + "/mfa:reset", token: adminToken})
		wantStatus(t, resp, http.StatusForbidden)
		if code := resp.problem(t).Code; code != castellan.CodeEscalation {
			t.Fatalf("got %s", code)
		}
		if !e.state(t).equal(before) {
			t.Fatal("a refused reset changed the store")
		}

		// It resets a plain user's, once; the second reset writes nothing.
		resp = e.do(t, request{method: "POST", path: annPath + ":reset", token: adminToken})
		wantStatus(t, resp, http.StatusOK)
		var out struct{ Revision int64 }
		resp.decode(t, &out)
		resetAction := "iam:ResetUserMFA"
		events, _, err := e.db.Services().Audit.FindAuditEvents(system, f.org, castellan.AuditFilter{Action: &resetAction})
		if err != nil || len(events) != 1 || events[0].Revision != out.Revision || events[0].Actor.ID != userAdmin || events[0].Target.ID != ann {
			t.Fatalf("got events %+v (%v) for revision %d", events, err, out.Revision)
		}
		resp = e.do(t, request{method: "GET", path: annPath, token: annToken})
		resp.decode(t, &st)
		if st.Enrolled || st.RecoveryCodesLeft != 0 {
			t.Fatalf("after reset got %+v", st)
		}
		before = e.state(t)
		resp = e.do(t, request{method: "POST", path: annPath + ":reset", token: adminToken})
		wantStatus(t, resp, http.StatusOK)
		if !e.state(t).equal(before) {
			t.Fatal("an empty reset changed the store")
		}

		// The organization's mandate shows in every user's status.
		resp = e.do(t, request{method: "PATCH", path: f.orgPath(), token: e.acme.Token, body: map[string]any{"mfaRequired": true}})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "GET", path: annPath, token: annToken})
		resp.decode(t, &st)
		if !st.Required {
			t.Fatalf("with the organization's mandate got %+v", st)
		}
	})
}

// TestUserMFACrossOrganization: the owner of one organization can neither
// read nor reset the second factor of another's user, whichever
// organization the path names.
func TestUserMFACrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		victim := f.newEnrolledUser()
		before := e.state(t)
		for _, c := range []struct {
			org, code string
		}{
			{e.acme.OrganizationID, castellan.CodeOrgNotFound},
			{e.globex.OrganizationID, castellan.CodeUserNotFound},
		} {
			path := "/v1/organizations/" + c.org + "/users/" + victim + "/mfa"
			for _, req := range []request{{method: "GET", path: path}, {method: "POST", path: path + ":reset"}} {
				req.token = e.globex.Token
				resp := e.do(t, req)
				wantStatus(t, resp, http.StatusNotFound)
				if code := resp.problem(t).Code; code != c.code {
					t.Fatalf("%s %s: got %s, want %s", req.method, req.path, code, c.code)
				}
			}
		}
		if !e.state(t).equal(before) {
			t.Fatal("a cross-organization request changed the store")
		}
		st, err := e.db.Services().MFA.MFAStatus(system, f.org, victim)
		if err != nil || !st.Enrolled || st.RecoveryCodesLeft != castellan.RecoveryCodeCount {
			t.Fatalf("got %+v, %v", st, err)
		}
	})
}

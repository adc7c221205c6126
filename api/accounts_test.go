package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

func init() { matrixRowSets = append(matrixRowSets, orgAccountRows) }

// newOrgAccount creates an account under Acme's root, as the system.
func (f *fixture) newOrgAccount() *castellan.Account {
	email := f.unique("root") + "@acme.example"
	a, err := f.e.db.Services().Accounts.CreateAccount(system, f.org, castellan.AccountCreate{
		ParentID: f.org, Name: f.unique("acct"), Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *fixture) orgAccountPath(id string) string { return f.orgPath() + "/accounts/" + id }

func orgAccountRows() []matrixRow {
	return []matrixRow{
		{op: "create-account", build: func(f *fixture) request {
			email := f.unique("root") + "@acme.example"
			return request{method: "POST", path: f.orgPath() + "/accounts", body: map[string]string{
				"name": f.unique("acct"), "email": email, "emailConfirmation": email, "iamRoleName": "OrgAdmin"}}
		}, allowed: orgManagers},
		{op: "list-accounts", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/accounts?parent_id=" + f.org}
		}, allowed: orgReaders},
		{op: "get-account", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgAccountPath(f.newOrgAccount().ID)}
		}, allowed: orgReaders},
		{op: "update-account", build: func(f *fixture) request {
			return request{method: "PATCH", path: f.orgAccountPath(f.newOrgAccount().ID), body: map[string]string{"name": f.unique("renamed")}}
		}, allowed: orgManagers},
		{op: "move-account", build: func(f *fixture) request {
			return request{method: "POST", path: f.orgAccountPath(f.newOrgAccount().ID) + ":move", body: map[string]string{"parentId": f.org}}
		}, allowed: orgManagers},
		{op: "delete-account", build: func(f *fixture) request {
			a := f.newOrgAccount()
			return request{method: "POST", path: f.orgAccountPath(a.ID) + ":delete", body: map[string]string{"password": apitest.OwnerPassword, "name": a.Name}}
		}, allowed: []string{owner}},
		{op: "get-account-preconditions", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgAccountPath(f.newOrgAccount().ID) + "/preconditions"}
		}, allowed: orgReaders},
		{op: "get-account-attributes", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgAccountPath(f.newOrgAccount().ID) + "/attributes"}
		}, allowed: orgReaders},
		// The operator's systems alone set the attributes; no principal of
		// an organization may.
		{op: "set-account-attributes", build: func(f *fixture) request {
			return request{method: "PUT", path: f.orgAccountPath(f.newOrgAccount().ID) + "/attributes", body: map[string]any{"creditAssigned": true}}
		}},
	}
}

// wantRefusedField is wantRefused with a field error naming field with
// rule, when field is not "".
func wantRefusedField(t *testing.T, e *env, req request, status int, code, field, rule string) {
	t.Helper()
	p := wantRefused(t, e, req, status, code)
	if field != "" {
		wantFieldError(t, p, field, rule)
	}
}

// wantUnmet sends req, which must be refused with 412 and code, change
// nothing, and name code as its one unmet precondition.
func wantUnmet(t *testing.T, e *env, req request, code string) {
	t.Helper()
	p := wantRefused(t, e, req, http.StatusPreconditionFailed, code)
	if len(p.Errors) != 1 || p.Errors[0].Field != "path.account" || p.Errors[0].Rule != code {
		t.Fatalf("%s %s: got unmet preconditions %+v, want %s alone", req.method, req.path, p.Errors, code)
	}
}

func accountBody(name, email string) map[string]string {
	return map[string]string{"name": name, "email": email, "emailConfirmation": email, "iamRoleName": "OrganizationAccountAccessRole"}
}

func TestAccountsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := "/v1/organizations/" + e.acme.OrganizationID
		resp := e.do(t, request{method: "POST", path: org + "/accounts", token: e.acme.Token, body: accountBody("영업팀 (prod)", "Root@Sales.example")})
		wantStatus(t, resp, http.StatusCreated)
		var a castellan.Account
		resp.decode(t, &a)
		if a.Email != "root@sales.example" || a.AdditionType != castellan.AccountCreated || a.ParentID != e.acme.OrganizationID || len(a.Path) != 1 {
			t.Fatalf("got %+v", a)
		}
		path := org + "/accounts/" + a.ID

		for _, tc := range []struct {
			body        map[string]string
			field, rule string
		}{
			{accountBody("sales#1", "a@example.com"), "body.name", "pattern"},
			{accountBody("ab", "a@example.com"), "body.name", "minLength"},
			{accountBody("sales-dev", "a@example.com"), "body.emailConfirmation", "match"},
			{map[string]string{"name": "sales-dev", "email": "a@example.com", "emailConfirmation": "a@example.com", "iamRoleName": "Org Admin"}, "body.iamRoleName", "pattern"},
			{map[string]string{"name": "sales-dev", "email": "a@example.com", "emailConfirmation": "a@example.com", "iamRoleName": "Admin", "parentId": "root"}, "body.parentId", "format"},
		} {
			if tc.field == "body.emailConfirmation" {
				tc.body["emailConfirmation"] = "b@example.com"
			}
			code := castellan.CodeInvalidField
			if tc.field == "body.parentId" {
				code = castellan.CodeInvalidID
			}
			wantRefusedField(t, e, request{method: "POST", path: org + "/accounts", token: e.acme.Token, body: tc.body},
				http.StatusBadRequest, code, tc.field, tc.rule)
		}
		wantRefusedField(t, e, request{method: "POST", path: org + "/accounts", token: e.acme.Token, body: accountBody("영업팀 (prod)", "x@example.com")},
			http.StatusConflict, castellan.CodeAccountNameTaken, "", "")

		// Read, list by parent, rename, move.
		resp = e.do(t, request{method: "GET", path: path, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var got castellan.Account
		resp.decode(t, &got)
		if got.ID != a.ID || got.Name != a.Name || got.CreatedBy != "user:"+e.acme.OwnerUserID {
			t.Fatalf("got %+v", got)
		}
		resp = e.do(t, request{method: "GET", path: org + "/accounts?parent_id=" + e.acme.OrganizationID, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var list struct{ Accounts []castellan.Account }
		resp.decode(t, &list)
		if len(list.Accounts) != 1 || list.Accounts[0].ID != a.ID || list.Accounts[0].AdditionType != castellan.AccountCreated {
			t.Fatalf("got %s", resp.body)
		}
		wantRefusedField(t, e, request{method: "GET", path: org + "/accounts?parent_id=" + e.globex.OrganizationID, token: e.acme.Token},
			http.StatusNotFound, castellan.CodeNodeNotFound, "", "")
		resp = e.do(t, request{method: "PATCH", path: path, token: e.acme.Token, body: map[string]string{"name": "sales-prod"}})
		wantStatus(t, resp, http.StatusOK)
		resp.decode(t, &got)
		if got.Name != "sales-prod" {
			t.Fatalf("got %+v", got)
		}
		resp = e.do(t, request{method: "POST", path: path + ":move", token: e.acme.Token, body: map[string]string{"parentId": e.acme.OrganizationID}})
		wantStatus(t, resp, http.StatusOK)
		project := e.do(t, request{method: "POST", path: org + "/projects", token: e.acme.Token, body: map[string]string{"name": "web"}})
		var p castellan.Project
		project.decode(t, &p)
		wantRefusedField(t, e, request{method: "POST", path: path + ":move", token: e.acme.Token, body: map[string]string{"parentId": p.ID}},
			http.StatusBadRequest, castellan.CodeInvalidParent, "body.parentId", "parentKind")

		// A verb the API does not know, or none, is no route.
		wantRefusedField(t, e, request{method: "POST", path: path + ":explode", token: e.acme.Token, body: map[string]string{}},
			http.StatusNotFound, castellan.CodeNotFound, "", "")
		wantRefusedField(t, e, request{method: "POST", path: path, token: e.acme.Token, body: map[string]string{}},
			http.StatusNotFound, castellan.CodeNotFound, "", "")
	})
}

// TestAccountsCrossOrganization: Globex's owner, through Globex's paths,
// finds none of Acme's accounts, and changes nothing.
func TestAccountsCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		a := f.newOrgAccount()
		theirs := "/v1/organizations/" + e.globex.OrganizationID + "/accounts/" + a.ID
		for _, req := range []request{
			{method: "GET", path: theirs},
			{method: "PATCH", path: theirs, body: map[string]string{"name": "stolen"}},
			{method: "POST", path: theirs + ":move", body: map[string]string{"parentId": e.globex.OrganizationID}},
			{method: "POST", path: theirs + ":delete", body: map[string]string{"name": a.Name}},
			{method: "GET", path: theirs + "/preconditions"},
			{method: "GET", path: theirs + "/attributes"},
		} {
			req.token = e.globex.Token
			wantRefusedField(t, e, req, http.StatusNotFound, castellan.CodeAccountNotFound, "", "")
		}
		// The operator sets attributes in any organization, but only of
		// that organization's accounts.
		wantRefusedField(t, e, request{method: "PUT", path: theirs + "/attributes", token: e.operator, body: map[string]any{"creditAssigned": true}},
			http.StatusNotFound, castellan.CodeAccountNotFound, "", "")
		// Acme's paths are another organization's to Globex's owner.
		wantRefusedField(t, e, request{method: "GET", path: f.orgAccountPath(a.ID), token: e.globex.Token}, http.StatusNotFound, castellan.CodeOrgNotFound, "", "")
		// Creating under, or moving to, another organization's node finds
		// no such node.
		wantRefusedField(t, e, request{method: "POST", path: "/v1/organizations/" + e.globex.OrganizationID + "/accounts", token: e.globex.Token,
			body: map[string]string{"parentId": e.acme.OrganizationID, "name": "intruder", "email": "i@example.com", "emailConfirmation": "i@example.com", "iamRoleName": "R"}},
			http.StatusNotFound, castellan.CodeNodeNotFound, "", "")
		wantRefusedField(t, e, request{method: "POST", path: f.orgAccountPath(a.ID) + ":move", token: e.acme.Token, body: map[string]string{"parentId": e.globex.OrganizationID}},
			http.StatusNotFound, castellan.CodeNodeNotFound, "", "")
	})
}

// TestDeleteAccountAPI walks the deletion: the operator sets the facts,
// the checklist shows what is unmet, each refusal has its code and
// changes nothing, and the confirmed deletion goes through.
func TestDeleteAccountAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		a := f.newOrgAccount()
		path := f.orgAccountPath(a.ID)
		confirm := map[string]string{"password": apitest.OwnerPassword, "name": a.Name}

		wantRefusedField(t, e, request{method: "PUT", path: path + "/attributes", token: e.acme.Token, body: map[string]any{"resourcesInUse": 2}}, http.StatusForbidden, castellan.CodeOperatorRequired, "", "")
		resp := e.do(t, request{method: "PUT", path: path + "/attributes", token: e.operator,
			body: map[string]any{"resourcesInUse": 2, "creditAssigned": true, "delegates": []string{"d@partner.example"}}})
		wantStatus(t, resp, http.StatusOK)
		resp = e.do(t, request{method: "GET", path: path + "/preconditions", token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var checks castellan.AccountPreconditions
		resp.decode(t, &checks)
		var unmet []string
		for _, c := range checks.Deletion {
			if !c.Met {
				unmet = append(unmet, c.Code)
			}
		}
		if !slices.Equal(unmet, []string{castellan.CodeAccountResourcesInUse, castellan.CodeAccountCreditAssigned}) || len(checks.Exclusion) != 4 {
			t.Fatalf("got %s", resp.body)
		}

		before := e.state(t)
		p := wantRefused(t, e, request{method: "POST", path: path + ":delete", token: e.acme.Token, body: confirm},
			http.StatusPreconditionFailed, castellan.CodeAccountResourcesInUse)
		wantFieldError(t, p, "path.account", castellan.CodeAccountResourcesInUse)
		wantFieldError(t, p, "path.account", castellan.CodeAccountCreditAssigned)
		wantRefusedField(t, e, request{method: "POST", path: path + ":delete", token: e.acme.Token, body: map[string]string{"password": apitest.OwnerPassword, "name": "Sales"}},
			http.StatusBadRequest, castellan.CodeAccountNameMismatch, "body.name", "match")
		// A wrong password is counted (an audited sign-in failure), and
		// nothing else is written.
		resp = e.do(t, request{method: "POST", path: path + ":delete", token: e.acme.Token, body: map[string]string{"password": "Not-The-Pass-1", "name": a.Name}})
		wantStatus(t, resp, http.StatusForbidden)
		if p := resp.problem(t); p.Code != castellan.CodeWrongPassword {
			t.Fatalf("got %s, want %s", p.Code, castellan.CodeWrongPassword)
		}
		wantFieldError(t, resp.problem(t), "body.password", "match")
		if after := e.state(t); after.Revision != before.Revision+1 {
			t.Fatalf("got revision %d after a wrong password, want %d (the failure alone)", after.Revision, before.Revision+1)
		}

		// Each other fact of the operator's systems refuses alone, with
		// its code, changing nothing.
		for _, tc := range []struct {
			attrs map[string]any
			code  string
		}{
			{map[string]any{"identityCenterDelegated": true}, castellan.CodeAccountDelegated},
			{map[string]any{"cloudControl": "registering"}, castellan.CodeAccountUnderCloudControl},
			{map[string]any{"cloudControl": "registered"}, castellan.CodeAccountUnderCloudControl},
		} {
			wantStatus(t, e.do(t, request{method: "PUT", path: path + "/attributes", token: e.operator, body: tc.attrs}), http.StatusOK)
			wantUnmet(t, e, request{method: "POST", path: path + ":delete", token: e.acme.Token, body: confirm}, tc.code)
		}

		wantStatus(t, e.do(t, request{method: "PUT", path: path + "/attributes", token: e.operator, body: map[string]any{}}), http.StatusOK)
		// 2026-02-28T15:30Z is March 1st in Seoul: the settlement date.
		e.clock.Advance(time.Date(2026, 2, 28, 15, 30, 0, 0, time.UTC).Sub(e.clock.Now()))
		before = e.state(t)
		wantRefusedField(t, e, request{method: "POST", path: path + ":delete", token: e.acme.Token, body: confirm},
			http.StatusPreconditionFailed, castellan.CodeAccountSettlementDay, "path.account", castellan.CodeAccountSettlementDay)
		e.clock.Advance(24 * time.Hour)
		resp = e.do(t, request{method: "POST", path: path + ":delete", token: e.acme.Token, body: confirm})
		wantStatus(t, resp, http.StatusOK)
		var del struct{ Revision int64 }
		resp.decode(t, &del)
		if del.Revision <= before.Revision {
			t.Fatalf("got revision %d, want > %d", del.Revision, before.Revision)
		}
		wantRefusedField(t, e, request{method: "GET", path: path, token: e.acme.Token}, http.StatusNotFound, castellan.CodeAccountNotFound, "", "")
	})
}

// TestDeleteManagementAccountAPI: a standalone organization's account is
// its management account, which neither its Owner (the root user, with
// its password) nor the operator (with no password) may delete.
func TestDeleteManagementAccountAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		org, a, rootToken := f.standalone(t, "sales")
		path := (&fixture{t: t, e: e, org: org.ID}).orgAccountPath(a.ID)
		wantUnmet(t, e, request{method: "POST", path: path + ":delete", token: rootToken,
			body: map[string]string{"password": rootUserPassword, "name": a.Name}}, castellan.CodeAccountManagement)
		wantUnmet(t, e, request{method: "POST", path: path + ":delete", token: e.operator,
			body: map[string]string{"name": a.Name}}, castellan.CodeAccountManagement)
		if got, err := e.db.Accounts().FindAccountByID(system, org.ID, a.ID); err != nil || !got.Management {
			t.Fatalf("account after the refusals %+v, %v", got, err)
		}
	})
}

// TestDeleteInvitedAccountAPI: an account that joined by invitation (a
// standalone account whose root user accepts Acme's invitation through
// the API) cannot be deleted in Acme, by its Owner with the right
// password.
func TestDeleteInvitedAccountAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		org, a, rootToken := f.standalone(t, "sales")
		inv := f.inviteAsSystem(f.org, a.Email)[0]
		sf := &fixture{t: t, e: e, org: org.ID}
		wantStatus(t, e.do(t, request{method: "POST", path: sf.receivedPath(a.ID) + "/" + inv.ID + ":accept", token: rootToken}), http.StatusOK)
		got, err := e.db.Accounts().FindAccountByID(system, f.org, a.ID)
		if err != nil || got.AdditionType != castellan.AccountInvited || got.Management {
			t.Fatalf("account in Acme %+v, %v", got, err)
		}
		path := f.orgAccountPath(a.ID)
		wantUnmet(t, e, request{method: "POST", path: path + ":delete", token: e.acme.Token,
			body: map[string]string{"password": apitest.OwnerPassword, "name": a.Name}}, castellan.CodeAccountJoinedByInvite)
		wantStatus(t, e.do(t, request{method: "GET", path: path, token: e.acme.Token}), http.StatusOK)
	})
}

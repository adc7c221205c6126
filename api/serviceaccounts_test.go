package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func init() { matrixRowSets = append(matrixRowSets, serviceAccountRows) }

// newServiceAccount creates a service account in project, as the system.
func (f *fixture) newServiceAccount(project string) string {
	a, err := f.e.db.Services().ServiceAccounts.CreateServiceAccount(system, f.org, project, castellan.ServiceAccountCreate{Name: f.unique("sa")})
	if err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}

func (f *fixture) accountsPath(project string) string {
	return f.orgPath() + "/projects/" + project + "/serviceAccounts"
}

// serviceAccountRows are the role-matrix rows of the service account
// endpoints, all on the project the project roles are granted on.
func serviceAccountRows() []matrixRow {
	managers := []string{owner, admin, projectAdmin}
	readers := []string{owner, admin, reader, projectAdmin, projectReader}
	return []matrixRow{
		{op: "create-service-account", build: func(f *fixture) request {
			return request{method: "POST", path: f.accountsPath(f.project), body: map[string]string{"name": f.unique("sa")}}
		}, allowed: managers},
		{op: "list-service-accounts", build: func(f *fixture) request {
			return request{method: "GET", path: f.accountsPath(f.project)}
		}, allowed: readers},
		{op: "get-service-account", build: func(f *fixture) request {
			return request{method: "GET", path: f.accountsPath(f.project) + "/" + f.newServiceAccount(f.project)}
		}, allowed: readers},
		{op: "update-service-account", build: func(f *fixture) request {
			return request{method: "PATCH", path: f.accountsPath(f.project) + "/" + f.newServiceAccount(f.project), body: map[string]string{"description": "x"}}
		}, allowed: managers},
		{op: "delete-service-account", build: func(f *fixture) request {
			return request{method: "DELETE", path: f.accountsPath(f.project) + "/" + f.newServiceAccount(f.project)}
		}, allowed: managers},
	}
}

// decideFor asks the decision API, as the operator, about a principal of
// the fixture's organization.
func (f *fixture) decideFor(t *testing.T, principalType, id, action, resource string) (allowed bool, reason string) {
	t.Helper()
	resp := f.e.do(t, request{method: "POST", path: "/v1/authorize", token: f.e.operator, body: map[string]any{
		"principal": map[string]string{"type": principalType, "id": id, "organizationId": f.org},
		"action":    action, "resource": resource,
	}})
	wantStatus(t, resp, http.StatusOK)
	var out struct {
		Allowed bool
		Reason  string
	}
	resp.decode(t, &out)
	return out.Allowed, out.Reason
}

// createAccount creates a service account through the API.
func createAccount(t *testing.T, e *env, path, token, name string) castellan.ServiceAccount {
	t.Helper()
	resp := e.do(t, request{method: "POST", path: path, token: token, body: map[string]string{"name": name, "description": "for " + name}})
	wantStatus(t, resp, http.StatusCreated)
	var a castellan.ServiceAccount
	resp.decode(t, &a)
	return a
}

func TestServiceAccountLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		base, tok := f.accountsPath(f.project), e.acme.Token

		a := createAccount(t, e, base, tok, "ci-deployer")
		if a.Name != "ci-deployer" || a.Description != "for ci-deployer" || a.ProjectID != f.project || a.OrganizationID != f.org ||
			a.CreatedBy != "user:"+e.acme.OwnerUserID || !castellan.ValidID(a.ID) {
			t.Fatalf("got %+v", a)
		}
		resp := e.do(t, request{method: "GET", path: base + "/" + a.ID, token: tok})
		wantStatus(t, resp, http.StatusOK)
		var got castellan.ServiceAccount
		if resp.decode(t, &got); got != a {
			t.Fatalf("got %+v, want %+v", got, a)
		}

		resp = e.do(t, request{method: "PATCH", path: base + "/" + a.ID, token: tok, body: map[string]string{"name": "ci-pusher"}})
		wantStatus(t, resp, http.StatusOK)
		var upd castellan.ServiceAccount
		if resp.decode(t, &upd); upd.Name != "ci-pusher" || upd.Description != a.Description || upd.Revision <= a.Revision {
			t.Fatalf("got %+v", upd)
		}

		resp = e.do(t, request{method: "DELETE", path: base + "/" + a.ID, token: tok})
		wantStatus(t, resp, http.StatusOK)
		for _, method := range []string{"GET", "DELETE"} {
			resp = e.do(t, request{method: method, path: base + "/" + a.ID, token: tok})
			wantStatus(t, resp, http.StatusNotFound)
			if code := resp.problem(t).Code; code != castellan.CodeServiceAccountNotFound {
				t.Fatalf("%s after delete: got code %s", method, code)
			}
		}
		resp = e.do(t, request{method: "GET", path: f.orgPath() + "/audit-events?target=" + a.ID, token: tok})
		wantStatus(t, resp, http.StatusOK)
		var audit struct{ AuditEvents []castellan.AuditEvent }
		resp.decode(t, &audit)
		var actions []string
		for _, ev := range audit.AuditEvents {
			actions = append(actions, ev.Action)
		}
		if strings.Join(actions, ",") != "iam:DeleteServiceAccount,iam:UpdateServiceAccount,iam:CreateServiceAccount" {
			t.Fatalf("got audit actions %v", actions)
		}
	})
}

// TestServiceAccountRefused: a taken name and bad input change nothing.
func TestServiceAccountRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		base, tok := f.accountsPath(f.project), e.acme.Token
		a := createAccount(t, e, base, tok, "ci-deployer")
		createAccount(t, e, base, tok, "builder")

		before := e.state(t)
		for _, tc := range []struct {
			req    request
			status int
			code   string
		}{
			{request{method: "POST", path: base, body: map[string]string{"name": "ci-deployer"}}, http.StatusConflict, castellan.CodeServiceAccountNameTaken},
			{request{method: "PATCH", path: base + "/" + a.ID, body: map[string]string{"name": "builder"}}, http.StatusConflict, castellan.CodeServiceAccountNameTaken},
			{request{method: "POST", path: base, body: map[string]string{"name": "ci deployer"}}, http.StatusBadRequest, castellan.CodeInvalidField},
			{request{method: "POST", path: base, body: map[string]string{"name": strings.Repeat("a", 64)}}, http.StatusBadRequest, castellan.CodeInvalidField},
			{request{method: "POST", path: base, body: map[string]string{"name": "ok", "description": strings.Repeat("d", 257)}}, http.StatusBadRequest, castellan.CodeInvalidField},
			{request{method: "POST", path: base, body: map[string]string{"name": "ok", "role": "owner"}}, http.StatusBadRequest, castellan.CodeInvalidField},
			{request{method: "POST", path: base, body: map[string]string{}}, http.StatusBadRequest, castellan.CodeInvalidField},
			{request{method: "POST", path: f.accountsPath("not-a-uuid"), body: map[string]string{"name": "ok"}}, http.StatusBadRequest, castellan.CodeInvalidID},
			{request{method: "PATCH", path: base + "/" + a.ID, body: map[string]string{"name": "-x"}}, http.StatusBadRequest, castellan.CodeInvalidField},
			{request{method: "PATCH", path: base + "/not-a-uuid", body: map[string]string{"name": "x"}}, http.StatusBadRequest, castellan.CodeInvalidID},
			{request{method: "GET", path: base + "?page_token=garbage"}, http.StatusBadRequest, castellan.CodeInvalidPageToken},
		} {
			tc.req.token = tok
			resp := e.do(t, tc.req)
			wantStatus(t, resp, tc.status)
			if code := resp.problem(t).Code; code != tc.code {
				t.Fatalf("%s %s: got code %s, want %s", tc.req.method, tc.req.path, code, tc.code)
			}
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("refused requests changed the store: %+v, then %+v", before, after)
		}
	})
}

func TestServiceAccountList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		base, tok := f.accountsPath(f.project), e.acme.Token
		for _, name := range []string{"c-cron", "b-builder", "a-auditor"} {
			createAccount(t, e, base, tok, name)
		}
		createAccount(t, e, f.accountsPath(f.newProject()), tok, "elsewhere")
		var names []string
		token := ""
		for {
			resp := e.do(t, request{method: "GET", path: base + "?page_size=2&page_token=" + token, token: tok})
			wantStatus(t, resp, http.StatusOK)
			var page struct {
				ServiceAccounts []castellan.ServiceAccount
				NextPageToken   string
			}
			resp.decode(t, &page)
			for _, sa := range page.ServiceAccounts {
				names = append(names, sa.Name)
			}
			if page.NextPageToken == "" {
				break
			}
			token = page.NextPageToken
		}
		if strings.Join(names, ",") != "a-auditor,b-builder,c-cron" {
			t.Fatalf("got %v", names)
		}
	})
}

// TestServiceAccountIsolation: an account is reachable only through its
// own organization and project.
func TestServiceAccountIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		other := f.newProject()
		sa := f.newServiceAccount(f.project)
		pAdminID, pAdminToken := f.userWithToken(t)
		f.grant("project.admin", "project/"+other, userSubject(pAdminID))
		globexProject := storeProject(t, e, e.globex.OrganizationID)

		before := e.state(t)
		for _, tc := range []struct {
			name   string
			req    request
			status int
			code   string
		}{
			{"OtherOrganizationOwner", request{method: "GET", path: f.accountsPath(f.project) + "/" + sa, token: e.globex.Token},
				http.StatusNotFound, castellan.CodeOrgNotFound},
			{"OtherOrganizationOwnerDeletes", request{method: "DELETE", path: f.accountsPath(f.project) + "/" + sa, token: e.globex.Token},
				http.StatusNotFound, castellan.CodeOrgNotFound},
			{"ForeignProjectInPath", request{method: "POST", path: f.accountsPath(globexProject), token: e.acme.Token, body: map[string]string{"name": "x"}},
				http.StatusNotFound, castellan.CodeProjectNotFound},
			{"ForeignProjectList", request{method: "GET", path: f.accountsPath(globexProject), token: e.acme.Token},
				http.StatusNotFound, castellan.CodeProjectNotFound},
			// The admin of another project names its own project in the
			// path: the account is not there.
			{"OtherProjectGet", request{method: "GET", path: f.accountsPath(other) + "/" + sa, token: pAdminToken},
				http.StatusNotFound, castellan.CodeServiceAccountNotFound},
			{"OtherProjectUpdate", request{method: "PATCH", path: f.accountsPath(other) + "/" + sa, token: pAdminToken, body: map[string]string{"name": "mine"}},
				http.StatusNotFound, castellan.CodeServiceAccountNotFound},
			{"OtherProjectDelete", request{method: "DELETE", path: f.accountsPath(other) + "/" + sa, token: pAdminToken},
				http.StatusNotFound, castellan.CodeServiceAccountNotFound},
			// …and its own project is not the account's.
			{"OtherProjectAdmin", request{method: "GET", path: f.accountsPath(f.project) + "/" + sa, token: pAdminToken},
				http.StatusForbidden, castellan.CodePermissionDenied},
			{"OtherProjectAdminList", request{method: "GET", path: f.accountsPath(f.project), token: pAdminToken},
				http.StatusForbidden, castellan.CodePermissionDenied},
			// The operator names the wrong project: still not there.
			{"OperatorWrongProject", request{method: "DELETE", path: f.accountsPath(other) + "/" + sa, token: e.operator},
				http.StatusNotFound, castellan.CodeServiceAccountNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := e.do(t, tc.req)
				wantStatus(t, resp, tc.status)
				if code := resp.problem(t).Code; code != tc.code {
					t.Fatalf("got code %s, want %s", code, tc.code)
				}
			})
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("refused requests changed the store: %+v, then %+v", before, after)
		}
		got, err := e.db.Services().ServiceAccounts.FindServiceAccountByID(system, f.org, sa)
		if err != nil || got.ProjectID != f.project || got.Name == "mine" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

func storeProject(t *testing.T, e *env, org string) string {
	t.Helper()
	p, err := e.db.Services().Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// TestServiceAccountDecisions: a service account granted a bucket role is
// allowed by the decision API; deleting it takes its grants with it.
func TestServiceAccountDecisions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		pAdminID, pAdminToken := f.userWithToken(t)
		f.grant("project.admin", "project/"+f.project, userSubject(pAdminID))
		base := f.accountsPath(f.project)
		logs := "rn:s3e:" + f.project + ":bucket/logs"

		resp := e.do(t, request{method: "POST", path: base, token: pAdminToken, body: map[string]string{"name": "reader-bot"}})
		wantStatus(t, resp, http.StatusCreated)
		var sa castellan.ServiceAccount
		resp.decode(t, &sa)
		subject := map[string]string{"type": "serviceAccount", "id": sa.ID}
		resp = e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: pAdminToken, body: map[string]any{"grants": []map[string]any{
			{"roleId": "s3e.viewer", "scope": logs, "subject": subject},
		}}})
		wantStatus(t, resp, http.StatusOK)

		if ok, reason := f.decideFor(t, "serviceAccount", sa.ID, "s3e:GetObject", logs); !ok || reason != castellan.ReasonAllowed {
			t.Fatalf("got %v %s, want allowed", ok, reason)
		}
		if ok, reason := f.decideFor(t, "serviceAccount", sa.ID, "s3e:PutObject", logs); ok || reason != castellan.ReasonNoGrant {
			t.Fatalf("PutObject: got %v %s, want no_grant", ok, reason)
		}
		// The same ID as a user is no one.
		if ok, reason := f.decideFor(t, "user", sa.ID, "s3e:GetObject", logs); ok || reason != castellan.ReasonUnknownPrincipal {
			t.Fatalf("as a user: got %v %s, want unknown_principal", ok, reason)
		}
		// Explain names its grant as the near miss on another bucket.
		resp = e.do(t, request{method: "POST", path: "/v1/authorize:explain", token: e.operator, body: map[string]any{
			"principal": map[string]string{"type": "serviceAccount", "id": sa.ID, "organizationId": f.org},
			"action":    "s3e:GetObject", "resource": "rn:s3e:" + f.project + ":bucket/other",
		}})
		wantStatus(t, resp, http.StatusOK)
		var explained castellan.Decision
		if resp.decode(t, &explained); explained.Reason != castellan.ReasonScopeMismatch || len(explained.Near) != 1 || explained.Near[0].Scope != logs {
			t.Fatalf("explain: got %s", resp.body)
		}

		resp = e.do(t, request{method: "DELETE", path: base + "/" + sa.ID, token: pAdminToken})
		wantStatus(t, resp, http.StatusOK)
		if ok, reason := f.decideFor(t, "serviceAccount", sa.ID, "s3e:GetObject", logs); ok || reason != castellan.ReasonUnknownPrincipal {
			t.Fatalf("after delete: got %v %s, want unknown_principal", ok, reason)
		}
		resp = e.do(t, request{method: "GET", path: f.orgPath() + "/grants?subject_type=serviceAccount&subject_id=" + sa.ID, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var grants struct{ Grants []castellan.Grant }
		if resp.decode(t, &grants); len(grants.Grants) != 0 {
			t.Fatalf("the deleted account kept grants: %s", resp.body)
		}
	})
}

// TestServiceAccountGrantRules: grants outside the account's project and
// group membership are refused, and change nothing.
func TestServiceAccountGrantRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		other, group := f.newProject(), f.newGroup()
		sa := f.newServiceAccount(f.project)
		subject := map[string]string{"type": "serviceAccount", "id": sa}

		before := e.state(t)
		for _, scope := range []string{"organization/" + f.org, "project/" + other, "rn:s3e:" + other + ":bucket/logs"} {
			role := map[bool]string{true: "s3e.viewer", false: "services.user"}[strings.HasPrefix(scope, "rn:")]
			resp := e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: e.acme.Token, body: map[string]any{"grants": []map[string]any{
				{"roleId": role, "scope": scope, "subject": subject},
			}}})
			wantStatus(t, resp, http.StatusBadRequest)
			if p := resp.problem(t); p.Code != castellan.CodeSubjectScopeMismatch || len(p.Errors) != 1 || p.Errors[0].Field != "body.grants[0].scope" {
				t.Fatalf("on %s: got %s", scope, resp.body)
			}
		}
		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/groups/" + group + "/members:batchAdd", token: e.acme.Token,
			body: map[string][]string{"userIds": {sa}}})
		wantStatus(t, resp, http.StatusNotFound)
		if code := resp.problem(t).Code; code != castellan.CodeUserNotFound {
			t.Fatalf("got code %s, want user.not_found", code)
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("refused requests changed the store: %+v, then %+v", before, after)
		}
	})
}

// TestServiceAccountDeleteEscalation: deleting an account revokes its
// roles, so a project admin may not delete one holding a role the admin
// does not hold.
func TestServiceAccountDeleteEscalation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		pAdminID, pAdminToken := f.userWithToken(t)
		f.grant("project.admin", "project/"+f.project, userSubject(pAdminID))
		strong := f.newServiceAccount(f.project)
		role, err := e.db.Services().Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: "deleter", Kind: castellan.RoleProject, Actions: []string{"organizations:DeleteProject"}})
		if err != nil {
			t.Fatal(err)
		}
		f.grant(role.ID, "project/"+f.project, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: strong})
		weak := f.newServiceAccount(f.project)
		f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: weak})

		before := e.state(t)
		resp := e.do(t, request{method: "DELETE", path: f.accountsPath(f.project) + "/" + strong, token: pAdminToken})
		wantStatus(t, resp, http.StatusForbidden)
		if code := resp.problem(t).Code; code != castellan.CodeEscalation {
			t.Fatalf("got code %s, want grant.escalation", code)
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("refused deletion changed the store")
		}
		wantStatus(t, e.do(t, request{method: "DELETE", path: f.accountsPath(f.project) + "/" + weak, token: pAdminToken}), http.StatusOK)
		wantStatus(t, e.do(t, request{method: "DELETE", path: f.accountsPath(f.project) + "/" + strong, token: e.acme.Token}), http.StatusOK)
	})
}

// TestDeleteProjectWithServiceAccounts: the project's accounts and their
// grants go with it; the next decision denies.
func TestDeleteProjectWithServiceAccounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		sa := f.newServiceAccount(f.project)
		logs := "rn:s3e:" + f.project + ":bucket/logs"
		f.grant("s3e.viewer", logs, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: sa})
		if ok, _ := f.decideFor(t, "serviceAccount", sa, "s3e:GetObject", logs); !ok {
			t.Fatal("denied before the deletion")
		}
		wantStatus(t, e.do(t, request{method: "DELETE", path: f.orgPath() + "/projects/" + f.project, token: e.acme.Token}), http.StatusOK)
		if ok, reason := f.decideFor(t, "serviceAccount", sa, "s3e:GetObject", logs); ok || reason != castellan.ReasonNotInOrganization {
			t.Fatalf("got %v %s, want not_in_organization", ok, reason)
		}
		if _, err := e.db.Services().ServiceAccounts.FindServiceAccountByID(system, f.org, sa); castellan.ErrorCode(err) != castellan.CodeServiceAccountNotFound {
			t.Fatalf("got %v, want the account gone", err)
		}
	})
}

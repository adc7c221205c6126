package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// decide asks the decision API, as the operator, whether user may do
// action on resource.
func (f *fixture) decide(t *testing.T, user, action, resource string) (allowed bool, reason string) {
	t.Helper()
	resp := f.e.do(t, request{method: "POST", path: "/v1/authorize", token: f.e.operator, body: map[string]any{
		"principal": map[string]string{"type": "user", "id": user, "organizationId": f.org},
		"action":    action, "resource": resource,
	}})
	wantStatus(t, resp, http.StatusOK)
	var out struct {
		Allowed  bool
		Reason   string
		Revision int64
	}
	resp.decode(t, &out)
	if out.Revision <= 0 {
		t.Fatalf("got revision %d", out.Revision)
	}
	return out.Allowed, out.Reason
}

func userSubject(id string) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: id}
}

// userWithToken creates a user of the fixture's organization and a token.
func (f *fixture) userWithToken(t *testing.T) (id, token string) {
	t.Helper()
	id = f.newUser()
	token, err := f.e.db.Services().Tokens.CreateUserToken(system, f.org, id)
	if err != nil {
		t.Fatal(err)
	}
	return id, token
}

func TestEscalationRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		adminID, adminToken := f.userWithToken(t)
		f.grant("organization.admin", "organization/"+f.org, userSubject(adminID))
		pAdminID, pAdminToken := f.userWithToken(t)
		f.grant("project.admin", "project/"+f.project, userSubject(pAdminID))
		target := f.newUser()

		for _, tc := range []struct {
			name, token, role, scope string
			status                   int
			code                     string
		}{
			{"admin makes an owner", adminToken, "organization.owner", "organization/" + f.org, 403, castellan.CodeEscalation},
			{"project admin grants on the organization", pAdminToken, "organization.reader", "organization/" + f.org, 403, castellan.CodePermissionDenied},
			{"project admin makes an organization admin", pAdminToken, "organization.admin", "organization/" + f.org, 403, castellan.CodePermissionDenied},
			{"another organization's owner grants", e.globex.Token, "project.reader", "project/" + f.project, 404, castellan.CodeOrgNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t)
				resp := e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: tc.token, body: map[string]any{
					"grants": []map[string]any{{"roleId": tc.role, "scope": tc.scope, "subject": map[string]string{"type": "user", "id": target}}},
				}})
				wantStatus(t, resp, tc.status)
				if got := resp.problem(t).Code; got != tc.code {
					t.Fatalf("got %s, want %s", got, tc.code)
				}
				if after := e.state(t); !after.equal(before) {
					t.Fatalf("refused grant changed the store: %+v → %+v", before, after)
				}
			})
		}
		// What the admin does hold, it may grant.
		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: adminToken, body: map[string]any{
			"grants": []map[string]any{{"roleId": "organization.admin", "scope": "organization/" + f.org, "subject": map[string]string{"type": "user", "id": target}}},
		}})
		wantStatus(t, resp, http.StatusOK)
	})
}

func TestGrantExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		user := f.newUser()
		expires := e.clock.Now().Add(time.Hour)
		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: e.acme.Token, body: map[string]any{
			"grants": []map[string]any{{"roleId": "project.member", "scope": "project/" + f.project,
				"subject": map[string]string{"type": "user", "id": user}, "expiresAt": expires.Format(time.RFC3339)}},
		}})
		wantStatus(t, resp, http.StatusOK)
		resource := "project/" + f.project

		e.clock.Advance(time.Hour - time.Second)
		if ok, reason := f.decide(t, user, "compute:StartInstance", resource); !ok {
			t.Fatalf("one second before expiry: denied (%s)", reason)
		}
		e.clock.Advance(time.Second)
		if ok, reason := f.decide(t, user, "compute:StartInstance", resource); ok || reason != "grant_expired" {
			t.Fatalf("at expiry: got allowed=%v reason=%s, want denied, grant_expired", ok, reason)
		}

		n, err := e.db.Services().Grants.DeleteExpiredGrants(system)
		if err != nil || n != 1 {
			t.Fatalf("sweep removed %d (%v), want 1", n, err)
		}
		if ok, reason := f.decide(t, user, "compute:StartInstance", resource); ok || reason != "no_grant" {
			t.Fatalf("after the sweep: got allowed=%v reason=%s", ok, reason)
		}
		resp = e.do(t, request{method: "GET", path: f.orgPath() + "/audit-events?action=iam:DeleteExpiredGrants", token: e.acme.Token})
		var audit struct{ AuditEvents []castellan.AuditEvent }
		resp.decode(t, &audit)
		if len(audit.AuditEvents) != 1 || audit.AuditEvents[0].Actor.Type != castellan.PrincipalSystem {
			t.Fatalf("sweep audit: %s", resp.body)
		}
	})
}

func TestGroupChangesNextDecision(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		user := f.newUser()
		groups := e.db.Services().Groups
		resource := "project/" + f.project
		newGroupWithUser := func() string {
			group := f.newGroup()
			f.grant("project.member", resource, castellan.Subject{Type: castellan.SubjectGroup, ID: group})
			resp := e.do(t, request{method: "POST", path: f.orgPath() + "/groups/" + group + "/members:batchAdd", token: e.acme.Token,
				body: map[string][]string{"userIds": {user}}})
			wantStatus(t, resp, http.StatusOK)
			if ok, reason := f.decide(t, user, "s3e:PutObject", resource); !ok {
				t.Fatalf("member of the group: denied (%s)", reason)
			}
			return group
		}

		group := newGroupWithUser()
		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/groups/" + group + "/members:batchRemove", token: e.acme.Token,
			body: map[string][]string{"userIds": {user}}})
		wantStatus(t, resp, http.StatusOK)
		if ok, _ := f.decide(t, user, "s3e:PutObject", resource); ok {
			t.Fatal("removed member still allowed")
		}

		group = newGroupWithUser()
		resp = e.do(t, request{method: "DELETE", path: f.orgPath() + "/groups/" + group, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		if ok, _ := f.decide(t, user, "s3e:PutObject", resource); ok {
			t.Fatal("member of a deleted group still allowed")
		}
		if _, err := groups.FindGroupByID(system, f.org, group); castellan.ErrorCode(err) != castellan.CodeGroupNotFound {
			t.Fatalf("deleted group: %v", err)
		}
	})
}

func TestExplain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		other := f.newProject()
		user := f.newUser()
		group := f.newGroup()
		if _, err := e.db.Services().Groups.AddGroupMembers(system, f.org, group, []string{user}); err != nil {
			t.Fatal(err)
		}
		g := f.grant("project.member", "project/"+f.project, castellan.Subject{Type: castellan.SubjectGroup, ID: group})

		explain := func(action, resource string) castellan.Decision {
			t.Helper()
			resp := e.do(t, request{method: "POST", path: "/v1/authorize:explain", token: e.acme.Token, body: map[string]any{
				"principal": map[string]string{"type": "user", "id": user, "organizationId": f.org},
				"action":    action, "resource": resource,
			}})
			wantStatus(t, resp, http.StatusOK)
			var d castellan.Decision
			resp.decode(t, &d)
			return d
		}

		d := explain("s3e:PutObject", "rn:s3e:"+f.project+":bucket/logs")
		if !d.Allowed || len(d.Matches) != 1 {
			t.Fatalf("got %+v", d)
		}
		m := d.Matches[0]
		if m.Grant.ID != g.ID || m.Role != "project.member" || m.Path != "group" || m.Group == nil || m.Group.ID != group || m.Scope != "project/"+f.project {
			t.Fatalf("got match %+v", m)
		}

		d = explain("s3e:PutObject", "project/"+other)
		if d.Allowed || d.Reason != "scope_mismatch" || len(d.Near) != 1 || d.Near[0].Grant.ID != g.ID {
			t.Fatalf("other project: got %+v", d)
		}
		d = explain("iam:CreateGroup", "organization/"+f.org)
		if d.Allowed || d.Reason != "no_grant" || len(d.Near) != 0 {
			t.Fatalf("no grant: got %+v", d)
		}
		d = explain("s3e:Teleport", "project/"+f.project)
		if d.Allowed || d.Reason != "unknown_action" {
			t.Fatalf("unknown action: got %+v", d)
		}
	})
}

func TestAuthorizeBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		user := f.newUser()
		f.grant("s3e.viewer", "rn:s3e:"+f.project+":bucket/logs", userSubject(user))
		check := func(action, resource string) map[string]any {
			return map[string]any{"principal": map[string]string{"type": "user", "id": user, "organizationId": f.org}, "action": action, "resource": resource}
		}
		resp := e.do(t, request{method: "POST", path: "/v1/authorize:batch", token: e.acme.Token, body: map[string]any{"checks": []any{
			check("s3e:GetObject", "rn:s3e:"+f.project+":bucket/logs"),
			check("s3e:PutObject", "rn:s3e:"+f.project+":bucket/logs"),
			check("s3e:GetObject", "rn:s3e:"+f.project+":bucket/other"),
			check("s3e:GetObject", "project/"+f.project),
		}}})
		wantStatus(t, resp, http.StatusOK)
		var out struct{ Results []struct{ Allowed bool } }
		resp.decode(t, &out)
		want := []bool{true, false, false, false}
		if len(out.Results) != len(want) {
			t.Fatalf("got %s", resp.body)
		}
		for i, w := range want {
			if out.Results[i].Allowed != w {
				t.Errorf("check %d: got %v, want %v", i, out.Results[i].Allowed, w)
			}
		}
		// A resource role goes on resources of its service and type only.
		resp = e.do(t, request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: e.acme.Token, body: map[string]any{
			"grants": []map[string]any{{"roleId": "s3e.viewer", "scope": "rn:registry:" + f.project + ":registry/main", "subject": map[string]string{"type": "user", "id": user}}},
		}})
		wantStatus(t, resp, http.StatusBadRequest)
		if got := resp.problem(t).Code; got != castellan.CodeRoleScopeMismatch {
			t.Fatalf("got %s", got)
		}
	})
}

// TestEscalationThroughRolesAndGroups covers the indirect ways up: defining
// or widening a custom role, force-deleting one, and joining, leaving or
// deleting a group that holds roles the caller lacks.
func TestEscalationThroughRolesAndGroups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		orgScope := "organization/" + f.org
		adminID, adminToken := f.userWithToken(t)
		f.grant("organization.admin", orgScope, userSubject(adminID))
		userAdminID, userAdminToken := f.userWithToken(t)
		f.grant("iam.userAdmin", orgScope, userSubject(userAdminID))

		// A role the owner defined with everything, granted to someone.
		everything, err := e.db.Services().Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: "everything", Kind: castellan.RoleOrganization, Actions: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		f.grant(everything.ID, orgScope, userSubject(f.newUser()))
		// A modest role the admin holds itself.
		modest, err := e.db.Services().Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: "modest", Kind: castellan.RoleOrganization, Actions: []string{"iam:GetUser"}})
		if err != nil {
			t.Fatal(err)
		}
		f.grant(modest.ID, orgScope, userSubject(adminID))
		// A group that holds the owner role.
		owners := f.newGroup()
		f.grant("organization.owner", orgScope, castellan.Subject{Type: castellan.SubjectGroup, ID: owners})

		for _, tc := range []struct {
			name  string
			req   request
			field string
		}{
			{"admin defines a role with everything", request{method: "POST", path: f.orgPath() + "/roles", token: adminToken,
				body: map[string]any{"name": "mine", "kind": "organization", "actions": []string{"*"}}}, "body.actions"},
			{"admin defines a role with an owner action", request{method: "POST", path: f.orgPath() + "/roles", token: adminToken,
				body: map[string]any{"name": "mine", "kind": "organization", "actions": []string{"organizations:UpdateOrganization"}}}, "body.actions"},
			{"admin widens its own role", request{method: "PATCH", path: f.orgPath() + "/roles/" + modest.ID, token: adminToken,
				body: map[string]any{"actions": []string{"*"}}}, "body.actions"},
			{"admin force-deletes a role it does not hold", request{method: "DELETE", path: f.orgPath() + "/roles/" + everything.ID + "?force=true", token: adminToken}, "query.force"},
			{"user admin joins the owners' group", request{method: "POST", path: f.orgPath() + "/groups/" + owners + "/members:batchAdd", token: userAdminToken,
				body: map[string][]string{"userIds": {userAdminID}}}, "path.group"},
			{"admin joins the owners' group", request{method: "POST", path: f.orgPath() + "/groups/" + owners + "/members:batchAdd", token: adminToken,
				body: map[string][]string{"userIds": {adminID}}}, "path.group"},
			{"admin deletes the owners' group", request{method: "DELETE", path: f.orgPath() + "/groups/" + owners, token: adminToken}, "path.group"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t)
				resp := e.do(t, tc.req)
				wantStatus(t, resp, http.StatusForbidden)
				p := resp.problem(t)
				if p.Code != castellan.CodeEscalation || len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Rule != "hierarchy" {
					t.Fatalf("got %s", resp.body)
				}
				if after := e.state(t); !after.equal(before) {
					t.Fatalf("refused request changed the store: %+v → %+v", before, after)
				}
			})
		}
		// Within what it holds, the admin may define roles and manage groups.
		resp := e.do(t, request{method: "POST", path: f.orgPath() + "/roles", token: adminToken,
			body: map[string]any{"name": "bucket readers", "kind": "project", "actions": []string{"s3e:Get*", "s3e:List*"}}})
		wantStatus(t, resp, http.StatusCreated)
		devs := f.newGroup()
		f.grant("project.member", "project/"+f.newProject(), castellan.Subject{Type: castellan.SubjectGroup, ID: devs})
		resp = e.do(t, request{method: "POST", path: f.orgPath() + "/groups/" + devs + "/members:batchAdd", token: adminToken,
			body: map[string][]string{"userIds": {adminID}}})
		wantStatus(t, resp, http.StatusOK)
		// The owner may join the owners' group.
		resp = e.do(t, request{method: "POST", path: f.orgPath() + "/groups/" + owners + "/members:batchAdd", token: e.acme.Token,
			body: map[string][]string{"userIds": {adminID}}})
		wantStatus(t, resp, http.StatusOK)
	})
}

func TestAuthorizeUnknownPrincipal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		check := func(user string) map[string]any {
			return map[string]any{"principal": map[string]string{"type": "user", "id": user, "organizationId": f.org},
				"action": "iam:GetUser", "resource": "organization/" + f.org}
		}
		resp := e.do(t, request{method: "POST", path: "/v1/authorize:batch", token: e.acme.Token, body: map[string]any{"checks": []any{
			check(e.acme.OwnerUserID),
			check("0190d3a8-0000-7000-8000-000000000000"),
			check(e.globex.OwnerUserID), // a user, but of another organization
		}}})
		wantStatus(t, resp, http.StatusOK)
		var out struct {
			Results []struct {
				Allowed bool
				Reason  string
			}
		}
		resp.decode(t, &out)
		want := []string{castellan.ReasonAllowed, castellan.ReasonUnknownPrincipal, castellan.ReasonUnknownPrincipal}
		for i, w := range want {
			if out.Results[i].Reason != w || out.Results[i].Allowed != (w == castellan.ReasonAllowed) {
				t.Errorf("check %d: got %+v, want %s", i, out.Results[i], w)
			}
		}
	})
}

// TestRoleForAllResourcesOfType: seed 003's "one common role that acts for
// all buckets" (and registries). A resource role granted on
// rn:<service>:<project>:<type>/* applies to every resource of that type
// in the project, present and future, and nowhere else; a role granted
// where its kind may not go is refused naming the scope, and nothing
// changes; so is a malformed scope.
func TestRoleForAllResourcesOfType(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
		f.project = f.newProject()
		other := f.newProject()
		user := f.newUser()
		grant := func(role, scope string) request {
			return request{method: "POST", path: f.orgPath() + "/grants:batchCreate", token: e.acme.Token, body: map[string]any{
				"grants": []map[string]any{{"roleId": role, "scope": scope, "subject": map[string]string{"type": "user", "id": user}}},
			}}
		}
		allBuckets := "rn:s3e:" + f.project + ":bucket/*"
		wantStatus(t, e.do(t, grant("s3e.viewer", allBuckets)), http.StatusOK)
		for _, c := range []struct {
			action, resource string
			allowed          bool
		}{
			{"s3e:GetObject", "rn:s3e:" + f.project + ":bucket/logs", true},
			{"s3e:ListObjects", "rn:s3e:" + f.project + ":bucket/created-later", true},
			{"s3e:GetObject", allBuckets, true},
			{"s3e:PutObject", "rn:s3e:" + f.project + ":bucket/logs", false}, // a viewer
			{"s3e:GetObject", "rn:s3e:" + other + ":bucket/logs", false},     // another project
			{"registry:GetRegistry", "rn:registry:" + f.project + ":registry/main", false},
			{"s3e:GetObject", "project/" + f.project, false}, // not the project itself
		} {
			if ok, reason := f.decide(t, user, c.action, c.resource); ok != c.allowed {
				t.Errorf("%s on %s: got allowed %v (%s), want %v", c.action, c.resource, ok, reason, c.allowed)
			}
		}
		// Explain names the grant on every bucket.
		resp := e.do(t, request{method: "POST", path: "/v1/authorize:explain", token: e.operator, body: map[string]any{
			"principal": map[string]string{"type": "user", "id": user, "organizationId": f.org},
			"action":    "s3e:GetObject", "resource": "rn:s3e:" + f.project + ":bucket/logs",
		}})
		wantStatus(t, resp, http.StatusOK)
		var explained castellan.Decision
		resp.decode(t, &explained)
		if !explained.Allowed || len(explained.Matches) != 1 || explained.Matches[0].Scope != allBuckets {
			t.Fatalf("got %s", resp.body)
		}

		for _, c := range []struct{ role, scope, code, rule string }{
			{"s3e.viewer", "project/" + f.project, castellan.CodeRoleScopeMismatch, "roleKind"},
			{"s3e.viewer", "rn:registry:" + f.project + ":registry/*", castellan.CodeRoleScopeMismatch, "roleKind"},
			{"registry.viewer", allBuckets, castellan.CodeRoleScopeMismatch, "roleKind"},
			{"project.reader", allBuckets, castellan.CodeRoleScopeMismatch, "roleKind"},
			{"s3e.viewer", "rn:s3e:" + f.project + ":bucket/lo*", castellan.CodeInvalidScope, "format"},
		} {
			before := e.state(t)
			resp := e.do(t, grant(c.role, c.scope))
			wantStatus(t, resp, http.StatusBadRequest)
			p := resp.problem(t)
			if p.Code != c.code || len(p.Errors) != 1 || p.Errors[0].Field != "body.grants[0].scope" || p.Errors[0].Rule != c.rule {
				t.Fatalf("%s on %s: got %s", c.role, c.scope, resp.body)
			}
			if !e.state(t).equal(before) {
				t.Fatalf("%s on %s: a rejected grant changed the store", c.role, c.scope)
			}
		}
	})
}

package authz_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

// fixture is an organization with two projects, a second organization
// with a project of its own, and an Authorizer over the store.
type fixture struct {
	s            castellan.Services
	clock        *storetest.Clock
	authorizer   *authz.Authorizer
	org          *castellan.BootstrapResult
	otherOrg     *castellan.BootstrapResult
	project      *castellan.Project
	project2     *castellan.Project
	otherProject *castellan.Project
	users        int
}

// forEachBackend runs test against a fresh fixture on every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Helper()
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			test(t, newFixture(t, b))
		})
	}
}

func newFixture(tb testing.TB, b sqltest.Backend) *fixture {
	tb.Helper()
	f := &fixture{clock: storetest.NewClock()}
	f.s = sqltest.MustOpen(tb, b.URL(tb), f.clock.Now).Services()
	f.authorizer = &authz.Authorizer{
		Grants: f.s.Grants, Groups: f.s.Groups, Roles: f.s.Roles, Nodes: f.s.Nodes, Policies: f.s.ControlPolicies,
		ServiceAccounts: f.s.ServiceAccounts, Catalog: f.s.Catalog, Now: f.clock.Now,
	}
	ctx := context.Background()
	f.org = storetest.Must(f.s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(tb)
	f.otherOrg = storetest.Must(f.s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"}))(tb)
	f.project = storetest.Must(f.s.Projects.CreateProject(ctx, f.org.OrganizationID, castellan.ProjectCreate{Name: "web"}))(tb)
	f.project2 = storetest.Must(f.s.Projects.CreateProject(ctx, f.org.OrganizationID, castellan.ProjectCreate{Name: "api"}))(tb)
	f.otherProject = storetest.Must(f.s.Projects.CreateProject(ctx, f.otherOrg.OrganizationID, castellan.ProjectCreate{Name: "web"}))(tb)
	return f
}

// user creates a user of the organization and returns it as a principal.
func (f *fixture) user(tb testing.TB) castellan.Principal {
	tb.Helper()
	f.users++
	u := storetest.Must(f.s.Users.CreateUser(context.Background(), f.org.OrganizationID, castellan.UserCreate{Email: fmt.Sprintf("user-%d@acme.example", f.users)}))(tb)
	return castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: f.org.OrganizationID}
}

func (f *fixture) owner() castellan.Principal {
	return castellan.Principal{Type: castellan.PrincipalUser, ID: f.org.OwnerUserID, OrganizationID: f.org.OrganizationID}
}

// grant makes one grant and returns it.
func (f *fixture) grant(tb testing.TB, roleID, scope string, subject castellan.Subject, expiresAt *time.Time) *castellan.Grant {
	tb.Helper()
	grants, _, err := f.s.Grants.CreateGrants(context.Background(), f.org.OrganizationID, []castellan.GrantCreate{
		{RoleID: roleID, Scope: scope, Subject: subject, ExpiresAt: expiresAt},
	})
	return storetest.Must(grants, err)(tb)[0]
}

func (f *fixture) orgScope() string {
	return castellan.OrganizationScope(f.org.OrganizationID).String()
}

func projectScope(p *castellan.Project) string { return castellan.ProjectScope(p.ID).String() }

func bucket(p *castellan.Project, name string) string { return "rn:s3e:" + p.ID + ":bucket/" + name }

func userSubject(p castellan.Principal) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: p.ID}
}

// check is one authorization request and the decisions it must get.
type check struct {
	name     string
	action   string
	resource string
	allowed  bool
	reason   string // from Authorize
	// explainReason is the reason from Explain; reason when empty.
	explainReason string
	// match is the grant Explain must list in Matches (allowed) or Near
	// (scope_mismatch); nil for none.
	match *castellan.Grant
	// group is the group the match must come through; nil for direct.
	group *castellan.Subject
}

// run asks Authorize and Explain for the principal and checks both.
func (c check) run(t *testing.T, a *authz.Authorizer, p castellan.Principal) {
	t.Helper()
	ctx := context.Background()
	req := castellan.AuthzRequest{Principal: p, Action: c.action, Resource: c.resource}
	d := storetest.Must(a.Authorize(ctx, req))(t)
	if d.Allowed != c.allowed || d.Reason != c.reason {
		t.Errorf("Authorize(%s on %s): got allowed %v reason %q, want %v %q", c.action, c.resource, d.Allowed, d.Reason, c.allowed, c.reason)
	}
	if len(d.Matches) != 0 || len(d.Near) != 0 {
		t.Errorf("Authorize(%s on %s): got matches %v near %v, want none", c.action, c.resource, d.Matches, d.Near)
	}
	wantReason := c.explainReason
	if wantReason == "" {
		wantReason = c.reason
	}
	e := storetest.Must(a.Explain(ctx, req))(t)
	if e.Allowed != c.allowed || e.Reason != wantReason {
		t.Errorf("Explain(%s on %s): got allowed %v reason %q, want %v %q", c.action, c.resource, e.Allowed, e.Reason, c.allowed, wantReason)
	}
	listed := e.Near
	if c.allowed {
		listed = e.Matches
		if len(e.Near) != 0 {
			t.Errorf("Explain(%s on %s): got near %v on an allowed decision", c.action, c.resource, e.Near)
		}
	} else if len(e.Matches) != 0 {
		t.Errorf("Explain(%s on %s): got matches %v on a denied decision", c.action, c.resource, e.Matches)
	}
	if c.match == nil {
		if !c.allowed && len(e.Near) != 0 {
			t.Errorf("Explain(%s on %s): got near %v, want none", c.action, c.resource, e.Near)
		}
		return
	}
	wantPath := "direct"
	if c.group != nil {
		wantPath = "group"
	}
	for _, m := range listed {
		if m.Grant == nil || m.Grant.ID != c.match.ID {
			continue
		}
		if m.Role != c.match.RoleID || m.Scope != c.match.Scope || m.Path != wantPath || !sameSubject(m.Group, c.group) {
			t.Errorf("Explain(%s on %s): got match %+v (group %v), want role %s scope %s path %s group %v",
				c.action, c.resource, m, m.Group, c.match.RoleID, c.match.Scope, wantPath, c.group)
		}
		return
	}
	t.Errorf("Explain(%s on %s): got matches %v near %v, want grant %s listed", c.action, c.resource, e.Matches, e.Near, c.match.ID)
}

func sameSubject(a, b *castellan.Subject) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func runChecks(t *testing.T, a *authz.Authorizer, p castellan.Principal, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, a, p) })
	}
}

func TestInheritance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		t.Run("OrganizationGrant", func(t *testing.T) {
			p := f.user(t)
			g := f.grant(t, "organization.admin", f.orgScope(), userSubject(p), nil)
			runChecks(t, f.authorizer, p, []check{
				{name: "Organization", action: "organizations:GetOrganization", resource: f.orgScope(), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "Project", action: "organizations:UpdateProject", resource: projectScope(f.project), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "OtherProject", action: "compute:StartInstance", resource: projectScope(f.project2), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "Resource", action: "s3e:PutObject", resource: bucket(f.project, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "ResourceOfOtherProject", action: "s3e:DeleteBucket", resource: bucket(f.project2, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "ActionNotInRole", action: "organizations:UpdateOrganization", resource: f.orgScope(), reason: castellan.ReasonNoGrant},
			})
		})
		t.Run("ProjectGrant", func(t *testing.T) {
			p := f.user(t)
			g := f.grant(t, "project.member", projectScope(f.project), userSubject(p), nil)
			runChecks(t, f.authorizer, p, []check{
				{name: "Project", action: "s3e:ListBuckets", resource: projectScope(f.project), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "Resource", action: "s3e:PutObject", resource: bucket(f.project, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: g},
				{name: "Organization", action: "s3e:ListBuckets", resource: f.orgScope(),
					reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: g},
				{name: "OtherProject", action: "s3e:ListBuckets", resource: projectScope(f.project2),
					reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: g},
				{name: "ResourceOfOtherProject", action: "s3e:PutObject", resource: bucket(f.project2, "logs"),
					reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: g},
				{name: "ActionNotInRole", action: "organizations:UpdateProject", resource: projectScope(f.project), reason: castellan.ReasonNoGrant},
			})
		})
		t.Run("ResourceGrant", func(t *testing.T) {
			p := f.user(t)
			g := f.grant(t, "s3e.viewer", bucket(f.project, "logs"), userSubject(p), nil)
			mismatch := func(name, resource string) check {
				return check{name: name, action: "s3e:GetObject", resource: resource,
					reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: g}
			}
			runChecks(t, f.authorizer, p, []check{
				{name: "Resource", action: "s3e:GetObject", resource: bucket(f.project, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: g},
				mismatch("OtherBucket", bucket(f.project, "logs2")),
				mismatch("PrefixOfName", bucket(f.project, "log")),
				mismatch("SameNameInOtherProject", bucket(f.project2, "logs")),
				mismatch("Project", projectScope(f.project)),
				mismatch("Organization", f.orgScope()),
				{name: "OtherServiceSameName", action: "registry:GetRegistry", resource: "rn:registry:" + f.project.ID + ":registry/logs", reason: castellan.ReasonNoGrant},
				{name: "ActionNotInRole", action: "s3e:PutObject", resource: bucket(f.project, "logs"), reason: castellan.ReasonNoGrant},
			})
		})
	})
}

func TestGroups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		org := f.org.OrganizationID
		// newGroup makes a group holding project.member on the project, with
		// a member who holds nothing directly.
		newGroup := func(t *testing.T, name string) (castellan.Principal, *castellan.Group, *castellan.Grant) {
			t.Helper()
			p := f.user(t)
			group := storetest.Must(f.s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: name}))(t)
			storetest.Must(f.s.Groups.AddGroupMembers(ctx, org, group.ID, []string{p.ID}))(t)
			g := f.grant(t, "project.member", projectScope(f.project), castellan.Subject{Type: castellan.SubjectGroup, ID: group.ID}, nil)
			return p, group, g
		}
		allowedVia := func(g *castellan.Grant) check {
			return check{action: "s3e:PutObject", resource: bucket(f.project, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: g, group: &g.Subject}
		}
		denied := check{action: "s3e:PutObject", resource: bucket(f.project, "logs"), reason: castellan.ReasonNoGrant}

		t.Run("Member", func(t *testing.T) {
			p, _, g := newGroup(t, "devs")
			allowed := allowedVia(g)
			allowed.name = "Allowed"
			runChecks(t, f.authorizer, p, []check{
				allowed,
				{name: "NearThroughGroup", action: "s3e:PutObject", resource: bucket(f.project2, "logs"),
					reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: g, group: &g.Subject},
			})
			outsider := f.user(t)
			t.Run("NonMember", func(t *testing.T) { denied.run(t, f.authorizer, outsider) })
		})
		t.Run("RemoveGroupMembers", func(t *testing.T) {
			p, group, g := newGroup(t, "ops")
			allowedVia(g).run(t, f.authorizer, p)
			storetest.Must(f.s.Groups.RemoveGroupMembers(ctx, org, group.ID, []string{p.ID}))(t)
			denied.run(t, f.authorizer, p)
		})
		t.Run("DeleteGroup", func(t *testing.T) {
			p, group, g := newGroup(t, "temps")
			allowedVia(g).run(t, f.authorizer, p)
			storetest.Must(f.s.Groups.DeleteGroup(ctx, org, group.ID))(t)
			denied.run(t, f.authorizer, p)
		})
	})
}

func TestExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		p := f.user(t)
		expires := f.clock.Now().Add(time.Hour)
		g := f.grant(t, "s3e.editor", bucket(f.project, "logs"), userSubject(p), &expires)
		if g.ExpiresAt == nil || !g.ExpiresAt.Equal(expires) {
			t.Fatalf("got expiry %v, want %v", g.ExpiresAt, expires)
		}
		put := check{action: "s3e:PutObject", resource: bucket(f.project, "logs")}

		f.clock.Advance(time.Hour - time.Second)
		t.Run("SecondBefore", func(t *testing.T) {
			c := put
			c.allowed, c.reason, c.match = true, castellan.ReasonAllowed, g
			c.run(t, f.authorizer, p)
		})
		f.clock.Advance(time.Second)
		if !f.clock.Now().Equal(expires) {
			t.Fatalf("got clock %v, want %v", f.clock.Now(), expires)
		}
		t.Run("AtExpiry", func(t *testing.T) {
			c := put
			c.reason = castellan.ReasonExpired
			c.run(t, f.authorizer, p)
		})
		t.Run("AtExpiryActionNotInRole", func(t *testing.T) {
			c := check{action: "s3e:DeleteBucket", resource: bucket(f.project, "logs"), reason: castellan.ReasonNoGrant}
			c.run(t, f.authorizer, p)
		})
		t.Run("Missing", func(t *testing.T) {
			got := storetest.Must(f.authorizer.Missing(context.Background(), p, bucket(f.project, "logs"), []string{"s3e:PutObject"}))(t)
			if !slices.Equal(got, []string{"s3e:PutObject"}) {
				t.Fatalf("got missing %v, want [s3e:PutObject] once the grant expired", got)
			}
		})
	})
}

func TestCustomRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		org := f.org.OrganizationID
		role := storetest.Must(f.s.Roles.CreateRole(ctx, org, castellan.RoleCreate{Name: "Object reader", Kind: castellan.RoleServiceKind, Actions: []string{"s3e:Get*"}}))(t)
		p := f.user(t)
		g := f.grant(t, role.ID, projectScope(f.project), userSubject(p), nil)
		runChecks(t, f.authorizer, p, []check{
			{name: "GetObject", action: "s3e:GetObject", resource: bucket(f.project, "logs"), allowed: true, reason: castellan.ReasonAllowed, match: g},
			{name: "GetBucketOnProject", action: "s3e:GetBucket", resource: projectScope(f.project), allowed: true, reason: castellan.ReasonAllowed, match: g},
			{name: "PutObject", action: "s3e:PutObject", resource: bucket(f.project, "logs"), reason: castellan.ReasonNoGrant},
			{name: "OtherProject", action: "s3e:GetObject", resource: bucket(f.project2, "logs"),
				reason: castellan.ReasonNoGrant, explainReason: castellan.ReasonScopeMismatch, match: g},
		})
		storetest.Must(f.s.Roles.DeleteRole(ctx, org, role.ID, true))(t)
		t.Run("AfterDeleteRole", func(t *testing.T) {
			check{action: "s3e:GetObject", resource: bucket(f.project, "logs"), reason: castellan.ReasonNoGrant}.run(t, f.authorizer, p)
		})
	})
}

func TestReasons(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		owner := f.owner()
		runChecks(t, f.authorizer, owner, []check{
			{name: "UnknownAction", action: "s3e:LaunchRocket", resource: bucket(f.project, "logs"), reason: castellan.ReasonUnknownAction},
			{name: "UnknownService", action: "nosuch:GetThing", resource: f.orgScope(), reason: castellan.ReasonUnknownAction},
			{name: "ActionPattern", action: "s3e:*", resource: f.orgScope(), reason: castellan.ReasonUnknownAction},
			{name: "ResourceOfOtherOrganization", action: "s3e:GetObject", resource: bucket(f.otherProject, "logs"), reason: castellan.ReasonNotInOrganization},
			{name: "ProjectOfOtherOrganization", action: "s3e:ListBuckets", resource: projectScope(f.otherProject), reason: castellan.ReasonNotInOrganization},
			{name: "OtherOrganization", action: "organizations:GetOrganization", resource: castellan.OrganizationScope(f.otherOrg.OrganizationID).String(), reason: castellan.ReasonNotInOrganization},
			{name: "UnknownProject", action: "s3e:GetObject", resource: "rn:s3e:0190d3a8-0000-7000-8000-000000000000:bucket/logs", reason: castellan.ReasonNotInOrganization},
		})
		t.Run("Operator", func(t *testing.T) {
			for _, typ := range []castellan.PrincipalType{castellan.PrincipalOperator, castellan.PrincipalSystem} {
				p := castellan.Principal{Type: typ, ID: "op-1"}
				check{action: "organizations:DeleteOrganization", resource: bucket(f.otherProject, "logs"), allowed: true, reason: castellan.ReasonOperator}.run(t, f.authorizer, p)
			}
		})
		t.Run("ErrInvalidScope", func(t *testing.T) {
			for _, resource := range []string{
				"",
				"rn:s3e:nope",
				"rn:s3e:" + f.project.ID + ":bucket/",
				"rn:S3E:" + f.project.ID + ":bucket/logs",
				"bucket/logs",
				"project/not-an-id",
				"organization/" + f.org.OrganizationID + "/x",
			} {
				for _, p := range []castellan.Principal{owner, {Type: castellan.PrincipalOperator, ID: "op-1"}} {
					req := castellan.AuthzRequest{Principal: p, Action: "s3e:GetObject", Resource: resource}
					for name, decide := range map[string]func(context.Context, castellan.AuthzRequest) (castellan.Decision, error){
						"Authorize": f.authorizer.Authorize, "Explain": f.authorizer.Explain,
					} {
						d, err := decide(context.Background(), req)
						if castellan.ErrorKind(err) != castellan.EINVALID || castellan.ErrorCode(err) != castellan.CodeInvalidScope || d.Allowed {
							t.Errorf("%s(%q) as %s: got %+v, %v; want code %s", name, resource, p.Type, d, err, castellan.CodeInvalidScope)
						}
					}
				}
			}
		})
	})
}

func TestMissing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		catalog := f.s.Catalog
		expand := func(roleID string) []string {
			t.Helper()
			r := catalog.Role(roleID)
			if r == nil {
				t.Fatalf("no built-in role %s", roleID)
			}
			return catalog.Expand(r.Actions)
		}
		ownerActions, memberActions := expand("organization.owner"), expand("project.member")
		if len(ownerActions) != len(catalog.Actions()) {
			t.Fatalf("organization.owner expands to %d actions, want all %d", len(ownerActions), len(catalog.Actions()))
		}
		admin := f.user(t)
		f.grant(t, "organization.admin", f.orgScope(), userSubject(admin), nil)
		projectAdmin := f.user(t)
		f.grant(t, "project.admin", projectScope(f.project), userSubject(projectAdmin), nil)
		nobody := f.user(t)

		for _, tc := range []struct {
			name      string
			principal castellan.Principal
			scope     string
			actions   []string
			want      []string
		}{
			{"AdminOnOrgLacksOwner", admin, f.orgScope(), ownerActions,
				[]string{"organizations:BootstrapOrganization", "organizations:CreateOrganization", "organizations:DeleteAccount",
					"organizations:DeleteOrganization", "organizations:ExcludeAccount",
					"organizations:RespondToAccountInvitation", "organizations:SetAccountAttributes", "organizations:UpdateOrganization"}},
			{"OwnerOnOrg", f.owner(), f.orgScope(), ownerActions, nil},
			{"OwnerOnResource", f.owner(), bucket(f.project, "logs"), ownerActions, nil},
			{"AdminOnProjectHasMember", admin, projectScope(f.project), memberActions, nil},
			{"ProjectAdminOnProjectHasMember", projectAdmin, projectScope(f.project), memberActions, nil},
			{"ProjectAdminOnResourceHasMember", projectAdmin, bucket(f.project, "logs"), memberActions, nil},
			{"ProjectAdminOnOrg", projectAdmin, f.orgScope(), memberActions, memberActions},
			{"ProjectAdminOnOtherProject", projectAdmin, projectScope(f.project2), memberActions, memberActions},
			{"OwnerOnOtherOrganization", f.owner(), projectScope(f.otherProject), memberActions, memberActions},
			{"NoGrants", nobody, projectScope(f.project), memberActions, memberActions},
			{"Operator", castellan.Principal{Type: castellan.PrincipalOperator, ID: "op-1"}, f.orgScope(), ownerActions, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := storetest.Must(f.authorizer.Missing(ctx, tc.principal, tc.scope, tc.actions))(t)
				if !slices.Equal(got, tc.want) {
					t.Fatalf("got missing %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("ErrInvalidScope", func(t *testing.T) {
			_, err := f.authorizer.Missing(ctx, admin, "rn:s3e:nope", memberActions)
			if castellan.ErrorKind(err) != castellan.EINVALID || castellan.ErrorCode(err) != castellan.CodeInvalidScope {
				t.Fatalf("got %v, want code %s", err, castellan.CodeInvalidScope)
			}
		})
	})
}

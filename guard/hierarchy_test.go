package guard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestHierarchyPrinciple makes, as a principal allowed the operation's
// action, a change that would give or take away actions the principal
// does not hold, on every path the guard checks: each is refused with
// grant.escalation naming the field, and the store is left as it was.
func TestHierarchyPrinciple(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			// organization.admin lacks organizations:UpdateOrganization,
			// which organization.owner holds; project.admin lacks
			// organizations:DeleteProject, which the custom role holds.
			ownerRole := "organization.owner"
			deleter, err := f.raw.Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: "deleter", Kind: castellan.RoleProject, Actions: []string{"organizations:DeleteProject"}})
			if err != nil {
				t.Fatal(err)
			}
			onOrg, onProject := "organization/"+f.org, "project/"+f.project
			for _, tc := range []struct {
				name, principal, field string
				// change makes the change and returns a check that it left
				// the store as it was, and the change's error.
				change func(ctx context.Context) (func() bool, error)
			}{
				{"grant a role", admin, "grants[0].roleId", func(ctx context.Context) (func() bool, error) {
					user := userSubject(f.newUser())
					_, _, err := s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{{RoleID: ownerRole, Scope: onOrg, Subject: user}})
					return func() bool { return len(f.grantsOf(user, onOrg)) == 0 }, err
				}},
				{"revoke a grant", admin, "grantIds[0]", func(ctx context.Context) (func() bool, error) {
					user := userSubject(f.newUser())
					g := f.grant(ownerRole, onOrg, user)
					_, err := s.Grants.DeleteGrants(ctx, f.org, []string{g.ID})
					return func() bool { return len(f.grantsOf(user, onOrg)) == 1 }, err
				}},
				{"set roles, adding one", projectAdmin, "roleIds[0]", func(ctx context.Context) (func() bool, error) {
					user := userSubject(f.newUser())
					_, _, err := s.Grants.SetRoles(ctx, f.org, user, onProject, []string{deleter.ID})
					return func() bool { return len(f.grantsOf(user, onProject)) == 0 }, err
				}},
				{"set roles, revoking one held", projectAdmin, "subjectId", func(ctx context.Context) (func() bool, error) {
					user := userSubject(f.newUser())
					f.grant(deleter.ID, onProject, user)
					_, _, err := s.Grants.SetRoles(ctx, f.org, user, onProject, []string{"project.reader"})
					return func() bool { g := f.grantsOf(user, onProject); return len(g) == 1 && g[0].RoleID == deleter.ID }, err
				}},
				{"remove all roles", projectAdmin, "subjectId", func(ctx context.Context) (func() bool, error) {
					group := castellan.Subject{Type: castellan.SubjectGroup, ID: f.newGroup()}
					f.grant(deleter.ID, onProject, group)
					_, err := s.Grants.RemoveRoles(ctx, f.org, group, onProject, nil, true)
					return func() bool { return len(f.grantsOf(group, onProject)) == 1 }, err
				}},
				{"define a role", admin, "actions", func(ctx context.Context) (func() bool, error) {
					name := f.unique("r")
					_, err := s.Roles.CreateRole(ctx, f.org, castellan.RoleCreate{Name: name, Kind: castellan.RoleOrganization, Actions: []string{"organizations:UpdateOrganization"}})
					return func() bool { return f.roleNamed(name) == nil }, err
				}},
				{"widen a role", admin, "actions", func(ctx context.Context) (func() bool, error) {
					role := f.newRole()
					_, err := s.Roles.UpdateRole(ctx, f.org, role, castellan.RoleUpdate{Actions: []string{"s3e:Get*", "organizations:UpdateOrganization"}})
					return func() bool { r, _ := f.raw.Roles.FindRoleByID(system, f.org, role); return len(r.Actions) == 1 }, err
				}},
				{"force the deletion of a role", admin, "force", func(ctx context.Context) (func() bool, error) {
					updater, err := f.raw.Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: f.unique("updater"), Kind: castellan.RoleOrganization, Actions: []string{"organizations:UpdateOrganization"}})
					if err != nil {
						t.Fatal(err)
					}
					_, err = s.Roles.DeleteRole(ctx, f.org, updater.ID, true)
					return func() bool { _, err := f.raw.Roles.FindRoleByID(system, f.org, updater.ID); return err == nil }, err
				}},
				{"delete a group", admin, "groupId", func(ctx context.Context) (func() bool, error) {
					group := f.ownerGroup()
					_, err := s.Groups.DeleteGroup(ctx, f.org, group)
					return func() bool { _, err := f.raw.Groups.FindGroupByID(system, f.org, group); return err == nil }, err
				}},
				{"add a member to a group", admin, "groupId", func(ctx context.Context) (func() bool, error) {
					group := f.ownerGroup()
					_, err := s.Groups.AddGroupMembers(ctx, f.org, group, []string{f.newUser()})
					return func() bool { return f.memberCount(group) == 0 }, err
				}},
				{"remove a member from a group", admin, "groupId", func(ctx context.Context) (func() bool, error) {
					group, user := f.ownerGroup(), f.newUser()
					if _, err := f.raw.Groups.AddGroupMembers(system, f.org, group, []string{user}); err != nil {
						t.Fatal(err)
					}
					_, err := s.Groups.RemoveGroupMembers(ctx, f.org, group, []string{user})
					return func() bool { return f.memberCount(group) == 1 }, err
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					unchanged, err := tc.change(castellan.WithPrincipal(system, principals[tc.principal]))
					wantEscalation(t, err, tc.field)
					if !unchanged() {
						t.Error("the refused change was made")
					}
				})
			}
		})
	}
}

func userSubject(id string) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectUser, ID: id}
}

// grantsOf returns subject's direct grants on scope.
func (f *fixture) grantsOf(subject castellan.Subject, scope string) []*castellan.Grant {
	grants, _, err := f.raw.Grants.FindGrants(system, f.org, castellan.GrantFilter{Subject: &subject, Scope: &scope})
	if err != nil {
		f.t.Fatal(err)
	}
	return grants
}

func (f *fixture) roleNamed(name string) *castellan.Role {
	roles, _, err := f.raw.Roles.FindRoles(system, f.org, castellan.RoleFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ownerGroup returns a new group that holds organization.owner.
func (f *fixture) ownerGroup() string {
	group := f.newGroup()
	f.grant("organization.owner", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectGroup, ID: group})
	return group
}

func (f *fixture) memberCount(group string) int {
	members, _, err := f.raw.Groups.FindGroupMembers(system, f.org, group, castellan.GroupFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(members)
}

func wantEscalation(t *testing.T, err error, field string) {
	t.Helper()
	var e *castellan.Error
	if !errors.As(err, &e) || e.Code != castellan.CodeEscalation {
		t.Fatalf("got %v, want %s", err, castellan.CodeEscalation)
	}
	if len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Fatalf("got fields %+v, want %s", e.Fields, field)
	}
}

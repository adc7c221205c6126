package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func (f *fixture) newRole() string {
	r, err := f.raw.Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: f.unique("r"), Kind: castellan.RoleProject, Actions: []string{"s3e:Get*"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.ID
}

func init() {
	// Whoever holds iam:ListRoles and iam:GetRole on the project: the
	// organization's readers above it and the project's roles.
	projectRoleReaders := []string{owner, admin, reader, projectAdmin, projectMember, projectReader, userAdmin, userAdminP, operator}
	onProject := func(ctx context.Context, f *fixture) context.Context {
		return castellan.WithReadScope(ctx, "project/"+f.project)
	}
	rowSets = append(rowSets, []row{
		{op: "Roles.FindRoles", allowed: groupReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Roles.FindRoles(ctx, f.org, castellan.RoleFilter{})
			return err
		}},
		{op: "Roles.FindRoles", variant: "read on a project", allowed: projectRoleReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Roles.FindRoles(onProject(ctx, f), f.org, castellan.RoleFilter{})
			return err
		}},
		{op: "Roles.FindRoleByID", allowed: groupReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Roles.FindRoleByID(ctx, f.org, "project.member")
			return err
		}},
		{op: "Roles.FindRoleByID", variant: "read on a project", allowed: projectRoleReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Roles.FindRoleByID(onProject(ctx, f), f.org, "project.member")
			return err
		}},
		{op: "Roles.CreateRole", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Roles.CreateRole(ctx, f.org, castellan.RoleCreate{Name: f.unique("r"), Kind: castellan.RoleProject, Actions: []string{"s3e:Get*"}})
			return err
		}},
		{op: "Roles.UpdateRole", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := f.unique("d")
			_, err := s.Roles.UpdateRole(ctx, f.org, f.newRole(), castellan.RoleUpdate{Description: &d})
			return err
		}},
		{op: "Roles.UpdateRole", variant: "actions", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Roles.UpdateRole(ctx, f.org, f.newRole(), castellan.RoleUpdate{Actions: []string{"s3e:List*"}})
			return err
		}},
		{op: "Roles.DeleteRole", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Roles.DeleteRole(ctx, f.org, f.newRole(), false)
			return err
		}},
		{op: "Roles.DeleteRole", variant: "force", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			role := f.newRole()
			f.grant(role, "project/"+f.project, castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()})
			_, err := s.Roles.DeleteRole(ctx, f.org, role, true)
			return err
		}},
	})
}

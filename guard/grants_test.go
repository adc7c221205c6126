package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func init() {
	operatorOnly := []string{operator}
	// The principals that hold iam:ListGrants, and iam:SetGrants, on the
	// project the project roles are granted on.
	projectGrantReaders := []string{owner, admin, reader, projectAdmin, projectReader, operator}
	projectManagers := []string{owner, admin, projectAdmin, operator}
	rowSets = append(rowSets, []row{
		{op: "Grants.FindGrants", variant: "organization", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{})
			return err
		}},
		{op: "Grants.FindGrants", variant: "project", allowed: projectGrantReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			scope := "project/" + f.project
			_, _, err := s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Scope: &scope})
			return err
		}},
		{op: "Grants.FindGrantsFor", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Grants.FindGrantsFor(ctx, f.org, []castellan.Subject{{Type: castellan.SubjectUser, ID: f.ids[owner]}}, []string{"organization/" + f.org})
			return err
		}},
		{op: "Grants.FindGrantsByID", allowed: projectGrantReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			g := f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()})
			_, err := s.Grants.FindGrantsByID(ctx, f.org, []string{g.ID})
			return err
		}},
		{op: "Grants.CreateGrants", allowed: projectManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{{
				RoleID: "project.reader", Scope: "project/" + f.project, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()},
			}})
			return err
		}},
		{op: "Grants.DeleteGrants", allowed: projectManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			g := f.grant("project.reader", "project/"+f.project, castellan.Subject{Type: castellan.SubjectUser, ID: f.newUser()})
			_, err := s.Grants.DeleteGrants(ctx, f.org, []string{g.ID})
			return err
		}},
		{op: "Grants.DeleteExpiredGrants", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Grants.DeleteExpiredGrants(ctx)
			return err
		}},
	})
	rowSets = append(rowSets, subjectRoleRows(projectGrantReaders, projectManagers))
}

// subjectRoleRows are the rows of the IAM-roles tab of users and groups,
// all on the project the project roles are granted on.
func subjectRoleRows(readers, managers []string) []row {
	var rows []row
	for _, kind := range []struct {
		typ    castellan.SubjectType
		create func(f *fixture) string
	}{
		{castellan.SubjectUser, (*fixture).newUser},
		{castellan.SubjectGroup, (*fixture).newGroup},
	} {
		variant := string(kind.typ)
		holding := func(f *fixture, roles ...string) castellan.Subject {
			subject := castellan.Subject{Type: kind.typ, ID: kind.create(f)}
			for _, r := range roles {
				f.grant(r, "project/"+f.project, subject)
			}
			return subject
		}
		rows = append(rows,
			row{op: "Grants.FindGrants", variant: variant + " on a project", allowed: readers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				subject, scope := holding(f, "project.reader"), "project/"+f.project
				_, _, err := s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &subject, Scope: &scope})
				return err
			}},
			row{op: "Grants.SetRoles", variant: variant, allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				_, _, err := s.Grants.SetRoles(ctx, f.org, holding(f, "project.reader"), "project/"+f.project, []string{"project.member"})
				return err
			}},
			row{op: "Grants.RemoveRoles", variant: variant, allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				_, err := s.Grants.RemoveRoles(ctx, f.org, holding(f, "project.reader", "project.member"), "project/"+f.project, []string{"project.member"}, false)
				return err
			}},
			row{op: "Grants.RemoveRoles", variant: variant + ", all", allowed: managers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
				_, err := s.Grants.RemoveRoles(ctx, f.org, holding(f, "project.reader"), "project/"+f.project, nil, true)
				return err
			}},
		)
	}
	return rows
}

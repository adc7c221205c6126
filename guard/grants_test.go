package guard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
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

// TestAnotherOrganizationsProjectNotFound checks that a project of another
// organization is "not found" wherever a scope names one, and that a
// subject's grants are read only for a subject of the organization.
func TestAnotherOrganizationsProjectNotFound(t *testing.T) {
	f, s, principals := newFixture(t, sqltest.SQLiteURL(t))
	other := principals[otherOwner].OrganizationID
	globexProject, err := f.raw.Projects.CreateProject(system, other, castellan.ProjectCreate{Name: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	scope := "project/" + globexProject.ID
	ctx := castellan.WithPrincipal(system, principals[owner])
	unknown := castellan.Subject{Type: castellan.SubjectUser, ID: principals[otherOwner].ID}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"grant there", func() error {
			_, _, err := s.Grants.CreateGrants(ctx, f.org, []castellan.GrantCreate{{RoleID: "project.reader", Scope: scope, Subject: userSubject(f.newUser())}})
			return err
		}, castellan.CodeProjectNotFound},
		{"list grants there", func() error {
			_, _, err := s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Scope: &scope})
			return err
		}, castellan.CodeProjectNotFound},
		{"read roles there", func() error {
			_, _, err := s.Roles.FindRoles(castellan.WithReadScope(ctx, scope), f.org, castellan.RoleFilter{})
			return err
		}, castellan.CodeProjectNotFound},
		{"list the grants of another organization's user", func() error {
			_, _, err := s.Grants.FindGrants(ctx, f.org, castellan.GrantFilter{Subject: &unknown})
			return err
		}, castellan.CodeUserNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *castellan.Error
			if err := tc.call(); !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
)

func init() {
	projectRoles := []string{owner, admin, reader, projectAdmin, projectMember, projectReader, projectUser, operator}
	rowSets = append(rowSets, []row{
		{op: "Projects.CreateProject", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Projects.CreateProject(ctx, f.org, castellan.ProjectCreate{Name: f.unique("p")})
			return err
		}},
		{op: "Projects.CreateProject", variant: "under an OU", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Projects.CreateProject(ctx, f.org, castellan.ProjectCreate{ParentID: f.newOU(""), Name: f.unique("p")})
			return err
		}},
		{op: "Projects.MoveProject", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Projects.MoveProject(ctx, f.org, f.newProject(), f.newOU(""))
			return err
		}},
		{op: "Projects.FindProjects", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Projects.FindProjects(ctx, f.org, castellan.ProjectFilter{})
			return err
		}},
		{op: "Projects.FindProjectByID", allowed: projectRoles, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Projects.FindProjectByID(ctx, f.org, f.project)
			return err
		}},
		{op: "Projects.UpdateProject", allowed: []string{owner, admin, projectAdmin, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			d := f.unique("d")
			_, err := s.Projects.UpdateProject(ctx, f.org, f.project, castellan.ProjectUpdate{Description: &d})
			return err
		}},
		{op: "Projects.DeleteProject", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Projects.DeleteProject(ctx, f.org, f.newProject())
			return err
		}},
	})
}

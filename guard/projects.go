package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// projects guards the projects of an organization: creating, listing and
// deleting them is authorized on the organization, reading and updating
// one on the project itself, so that project roles reach their project.
type projects struct {
	g    *guard
	next castellan.ProjectService
}

var _ castellan.ProjectService = (*projects)(nil)

func (s *projects) FindProjectByID(ctx context.Context, orgID, id string) (*castellan.Project, error) {
	if err := s.g.allowProject(ctx, orgID, id, castellan.ActionGetProject); err != nil {
		return nil, err
	}
	return s.next.FindProjectByID(ctx, orgID, id)
}

func (s *projects) FindProjects(ctx context.Context, orgID string, filter castellan.ProjectFilter) ([]*castellan.Project, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListProjects); err != nil {
		return nil, "", err
	}
	return s.next.FindProjects(ctx, orgID, filter)
}

func (s *projects) CreateProject(ctx context.Context, orgID string, create castellan.ProjectCreate) (*castellan.Project, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateProject); err != nil {
		return nil, err
	}
	return s.next.CreateProject(ctx, orgID, create)
}

func (s *projects) UpdateProject(ctx context.Context, orgID, id string, update castellan.ProjectUpdate) (*castellan.Project, error) {
	if err := s.g.allowProject(ctx, orgID, id, castellan.ActionUpdateProject); err != nil {
		return nil, err
	}
	return s.next.UpdateProject(ctx, orgID, id, update)
}

func (s *projects) DeleteProject(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.g.allowProject(ctx, orgID, id, castellan.ActionDeleteProject); err != nil {
		return 0, err
	}
	return s.next.DeleteProject(ctx, orgID, id)
}

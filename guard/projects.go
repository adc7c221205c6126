package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// projects guards the projects of an organization: listing and deleting
// them is authorized on the organization, creating one on its parent
// node (so account.admin on an account creates projects in it), reading
// and updating one on the project itself, so that project roles reach
// their project. A move needs organizations:MoveProject on the project
// and organizations:CreateProject on the destination.
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
	var err error
	if create.ParentID == "" {
		err = s.g.allowOrg(ctx, orgID, castellan.ActionCreateProject)
	} else {
		err = s.g.allowNode(ctx, orgID, "parentId", create.ParentID, castellan.ActionCreateProject)
	}
	if err != nil {
		return nil, err
	}
	return s.next.CreateProject(ctx, orgID, create)
}

func (s *projects) MoveProject(ctx context.Context, orgID, id, parentID string) (*castellan.Project, error) {
	if err := s.g.allowProject(ctx, orgID, id, castellan.ActionMoveProject); err != nil {
		return nil, err
	}
	if err := s.g.allowNode(ctx, orgID, "parentId", parentID, castellan.ActionCreateProject); err != nil {
		return nil, err
	}
	return s.next.MoveProject(ctx, orgID, id, parentID)
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

package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// ProjectPath names one project of one organization.
type ProjectPath struct {
	Org     string `path:"org" doc:"Organization ID (a UUID)."`
	Project string `path:"project" doc:"Project ID (a UUID)."`
}

type projectOutput struct {
	Body *castellan.Project
}

type projectCreateBody struct {
	ParentID    string `json:"parentId,omitempty" doc:"The root (the organization's ID), an OU or an account; the root when absent."`
	Name        string `json:"name" minLength:"1" maxLength:"63" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Name, unique among the projects of the parent (case-sensitive)." example:"web-prod"`
	Description string `json:"description,omitempty" maxLength:"256" doc:"Free text."`
}

type projectUpdateBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"63" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"New name."`
	Description *string `json:"description,omitempty" maxLength:"256" doc:"New description."`
}

type listProjectsOutput struct {
	Body struct {
		Projects      []*castellan.Project `json:"projects" nullable:"false"`
		NextPageToken string               `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerProjects() {
	const tag = "Projects"
	register(s, op{
		id: "create-project", method: http.MethodPost, path: "/v1/organizations/{org}/projects", tag: tag,
		action: castellan.ActionCreateProject, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Create a project",
		desc: "Creates a project under parentId: the root (by default), an OU or an account (node.invalid_parent under a project). " +
			"Needs organizations:CreateProject on the parent. Fails with project.name_taken when a sibling has the name.",
	}, s.createProject)

	register(s, op{
		id: "move-project", method: http.MethodPost, path: "/v1/organizations/{org}/projects/{project}:move", tag: tag,
		action: castellan.ActionMoveProject, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Move a project",
		desc: "Puts the project under the root, an OU or an account. Needs organizations:MoveProject on the project and " +
			"organizations:CreateProject on the destination; project.name_taken when a project there has the name.",
	}, s.moveProject)

	register(s, op{
		id: "list-projects", method: http.MethodGet, path: "/v1/organizations/{org}/projects", tag: tag,
		action: castellan.ActionListProjects, errors: []int{http.StatusNotFound},
		summary: "List projects", desc: "Projects of the organization by name.",
	}, s.listProjects)

	register(s, op{
		id: "get-project", method: http.MethodGet, path: "/v1/organizations/{org}/projects/{project}", tag: tag,
		action: castellan.ActionGetProject, errors: []int{http.StatusNotFound},
		summary: "Get a project", desc: "The project with its place in the organization's tree.",
	}, s.getProject)

	register(s, op{
		id: "update-project", method: http.MethodPatch, path: "/v1/organizations/{org}/projects/{project}", tag: tag,
		action: castellan.ActionUpdateProject, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Update a project", desc: "Changes the fields present in the body; an update that changes nothing writes nothing.",
	}, s.updateProject)

	register(s, op{
		id: "delete-project", method: http.MethodDelete, path: "/v1/organizations/{org}/projects/{project}", tag: tag,
		action: castellan.ActionDeleteProject, errors: []int{http.StatusNotFound},
		summary: "Delete a project", desc: "Removes the project, the grants on it and its resources, and its service accounts with their grants, in one transaction.",
	}, s.deleteProject)
}

func (s *Server) createProject(ctx context.Context, in *struct {
	OrgPath
	Body projectCreateBody
}) (*projectOutput, error) {
	p, err := s.services.Projects.CreateProject(ctx, in.Org, castellan.ProjectCreate{
		ParentID: in.Body.ParentID, Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: p}, nil
}

func (s *Server) listProjects(ctx context.Context, in *struct {
	OrgPath
	PageParams
}) (*listProjectsOutput, error) {
	projects, next, err := s.services.Projects.FindProjects(ctx, in.Org, castellan.ProjectFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listProjectsOutput{}
	out.Body.Projects, out.Body.NextPageToken = nonNil(projects), next
	return out, nil
}

func (s *Server) getProject(ctx context.Context, in *ProjectPath) (*projectOutput, error) {
	p, err := s.services.Projects.FindProjectByID(ctx, in.Org, in.Project)
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: p}, nil
}

func (s *Server) updateProject(ctx context.Context, in *struct {
	ProjectPath
	Body projectUpdateBody
}) (*projectOutput, error) {
	p, err := s.services.Projects.UpdateProject(ctx, in.Org, in.Project, castellan.ProjectUpdate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: p}, nil
}

func (s *Server) deleteProject(ctx context.Context, in *ProjectPath) (*revisionOutput, error) {
	rev, err := s.services.Projects.DeleteProject(ctx, in.Org, in.Project)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func (s *Server) moveProject(ctx context.Context, in *struct {
	ProjectPath
	Body parentBody
}) (*projectOutput, error) {
	p, err := s.services.Projects.MoveProject(ctx, in.Org, in.Project, in.Body.ParentID)
	if err != nil {
		return nil, err
	}
	return &projectOutput{Body: p}, nil
}

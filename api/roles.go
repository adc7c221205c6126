package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// RolePath names one role as seen from one organization.
type RolePath struct {
	Org  string `path:"org" doc:"Organization ID (a UUID)."`
	Role string `path:"role" doc:"Built-in role ID (organization.admin) or custom role ID (a UUID)."`
}

type roleOutput struct{ Body *castellan.Role }

type roleCreateBody struct {
	Name        string   `json:"name" minLength:"1" maxLength:"100" doc:"Unique in the organization." example:"Bucket auditor"`
	Description string   `json:"description,omitempty" maxLength:"256"`
	Kind        string   `json:"kind" enum:"organization,project,service" doc:"Where the role may be granted."`
	Actions     []string `json:"actions" minItems:"1" maxItems:"100" doc:"Action patterns from the service catalogue: service:Verb, * as wildcard." example:"[\"s3e:Get*\",\"s3e:List*\"]"`
}

type roleUpdateBody struct {
	Name        *string  `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Description *string  `json:"description,omitempty" maxLength:"256"`
	Actions     []string `json:"actions,omitempty" minItems:"1" maxItems:"100"`
}

type listRolesOutput struct {
	Body struct {
		Roles         []*castellan.Role `json:"roles" nullable:"false"`
		NextPageToken string            `json:"nextPageToken,omitempty"`
	}
}

func (s *Server) registerRoles() {
	const tag = "Roles"
	register(s, op{
		id: "list-roles", method: http.MethodGet, path: "/v1/organizations/{org}/roles", tag: tag,
		action: castellan.ActionListRoles, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List roles", desc: "The built-in roles, then the organization's custom roles by name.",
	}, s.listRoles)
	register(s, op{
		id: "create-role", method: http.MethodPost, path: "/v1/organizations/{org}/roles", tag: tag,
		action: castellan.ActionCreateRole, status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Create a custom role", desc: "A custom role is a set of action patterns from the service catalogue. The caller must hold every action it grants (grant.escalation).",
	}, s.createRole)
	register(s, op{
		id: "get-role", method: http.MethodGet, path: "/v1/organizations/{org}/roles/{role}", tag: tag,
		action: castellan.ActionGetRole, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Get a role", desc: "A built-in role or a custom role of the organization, with its actions.",
	}, s.getRole)
	register(s, op{
		id: "update-role", method: http.MethodPatch, path: "/v1/organizations/{org}/roles/{role}", tag: tag,
		action: castellan.ActionUpdateRole, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Update a custom role", desc: "Built-in roles cannot be changed (role.built_in).",
	}, s.updateRole)
	register(s, op{
		id: "delete-role", method: http.MethodDelete, path: "/v1/organizations/{org}/roles/{role}", tag: tag,
		action: castellan.ActionDeleteRole, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete a custom role", desc: "Refused with role.in_use while the role is granted, unless force=true, which revokes its grants in the same transaction.",
	}, s.deleteRole)
}

// ReadScope is the scope a role read is authorized on: the organization,
// or one where the caller grants roles (a Project Admin reads roles on its
// project).
type ReadScope struct {
	Scope string `query:"scope" doc:"Check iam:ListRoles / iam:GetRole on this scope instead of the organization: organization/<id>, project/<id> or a resource name."`
}

// readAt returns ctx with the read scope of the request, if any.
func readAt(ctx context.Context, in ReadScope) context.Context {
	if in.Scope == "" {
		return ctx
	}
	return castellan.WithReadScope(ctx, in.Scope)
}

func (s *Server) listRoles(ctx context.Context, in *struct {
	OrgPath
	PageParams
	ReadScope
	Kind string `query:"kind" enum:"organization,project,service,resource," doc:"Only roles of this kind."`
}) (*listRolesOutput, error) {
	filter := castellan.RoleFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Kind != "" {
		kind := castellan.RoleKind(in.Kind)
		filter.Kind = &kind
	}
	roles, next, err := s.services.Roles.FindRoles(readAt(ctx, in.ReadScope), in.Org, filter)
	if err != nil {
		return nil, err
	}
	out := &listRolesOutput{}
	out.Body.Roles, out.Body.NextPageToken = nonNil(roles), next
	return out, nil
}

func (s *Server) createRole(ctx context.Context, in *struct {
	OrgPath
	Body roleCreateBody
}) (*roleOutput, error) {
	r, err := s.services.Roles.CreateRole(ctx, in.Org, castellan.RoleCreate{
		Name: in.Body.Name, Description: in.Body.Description, Kind: castellan.RoleKind(in.Body.Kind), Actions: in.Body.Actions,
	})
	if err != nil {
		return nil, err
	}
	return &roleOutput{Body: r}, nil
}

func (s *Server) getRole(ctx context.Context, in *struct {
	RolePath
	ReadScope
}) (*roleOutput, error) {
	r, err := s.services.Roles.FindRoleByID(readAt(ctx, in.ReadScope), in.Org, in.Role)
	if err != nil {
		return nil, err
	}
	return &roleOutput{Body: r}, nil
}

func (s *Server) updateRole(ctx context.Context, in *struct {
	RolePath
	Body roleUpdateBody
}) (*roleOutput, error) {
	r, err := s.services.Roles.UpdateRole(ctx, in.Org, in.Role, castellan.RoleUpdate{Name: in.Body.Name, Description: in.Body.Description, Actions: in.Body.Actions})
	if err != nil {
		return nil, err
	}
	return &roleOutput{Body: r}, nil
}

func (s *Server) deleteRole(ctx context.Context, in *struct {
	RolePath
	Force bool `query:"force" doc:"Also revoke every grant of the role."`
}) (*revisionOutput, error) {
	rev, err := s.services.Roles.DeleteRole(ctx, in.Org, in.Role, in.Force)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

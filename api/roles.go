package api

import (
	"context"
	"net/http"
	"regexp"
	"slices"

	"github.com/castellan-iam/castellan"
)

// roleIDPattern accepts built-in role IDs (organization.owner) and custom
// role IDs (UUIDs).
var roleIDPattern = regexp.MustCompile(`^([a-z][a-z0-9]*(\.[a-z][a-zA-Z0-9]*)+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// RolePath names one role as seen from one organization.
type RolePath struct {
	Org  string `path:"org" doc:"Organization ID (a UUID)."`
	Role string `path:"role" doc:"Built-in role ID (organization.admin) or custom role ID (a UUID)."`
}

func (s *Server) allowRole(ctx context.Context, p RolePath) error {
	if err := s.allowOrg(ctx, p.Org); err != nil {
		return err
	}
	return checkRoleID(p.Role)
}

func checkRoleID(id string) error {
	if roleIDPattern.MatchString(id) {
		return nil
	}
	return &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeInvalidID, Message: "path.role is not a role ID",
		Fields: []castellan.FieldError{{Field: "path.role", Rule: "format", Message: "must be a built-in role ID or a UUID"}}}
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
		action: "iam:ListRoles", errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List roles", desc: "The built-in roles, then the organization's custom roles by name.",
	}, s.listRoles)
	register(s, op{
		id: "create-role", method: http.MethodPost, path: "/v1/organizations/{org}/roles", tag: tag,
		action: "iam:CreateRole", status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Create a custom role", desc: "A custom role is a set of action patterns from the service catalogue. The caller must hold every action it grants (grant.escalation).",
	}, s.createRole)
	register(s, op{
		id: "get-role", method: http.MethodGet, path: "/v1/organizations/{org}/roles/{role}", tag: tag,
		action: "iam:GetRole", errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Get a role", desc: "A built-in role or a custom role of the organization, with its actions.",
	}, s.getRole)
	register(s, op{
		id: "update-role", method: http.MethodPatch, path: "/v1/organizations/{org}/roles/{role}", tag: tag,
		action: "iam:UpdateRole", errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Update a custom role", desc: "Built-in roles cannot be changed (role.built_in).",
	}, s.updateRole)
	register(s, op{
		id: "delete-role", method: http.MethodDelete, path: "/v1/organizations/{org}/roles/{role}", tag: tag,
		action: "iam:DeleteRole", errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete a custom role", desc: "Refused with role.in_use while the role is granted, unless force=true, which revokes its grants in the same transaction.",
	}, s.deleteRole)
}

// ReadScope is the scope a role read is authorized on: the organization,
// or one where the caller grants roles (a Project Admin reads roles on its
// project).
type ReadScope struct {
	Scope string `query:"scope" doc:"Check iam:ListRoles / iam:GetRole on this scope instead of the organization: organization/<id>, project/<id> or a resource name."`
}

// allowAt is allow on the scope string, or the organization when empty.
func (s *Server) allowAt(ctx context.Context, orgID, scope string) error {
	if scope == "" {
		return s.allowOrg(ctx, orgID)
	}
	if err := castellan.CheckID("path.org", orgID); err != nil {
		return err
	}
	parsed, err := castellan.ParseScope("query.scope", scope)
	if err != nil {
		return err
	}
	return s.allow(ctx, orgID, parsed, scopeNotFound(parsed))
}

func (s *Server) listRoles(ctx context.Context, in *struct {
	OrgPath
	PageParams
	ReadScope
	Kind string `query:"kind" enum:"organization,project,service,resource," doc:"Only roles of this kind."`
}) (*listRolesOutput, error) {
	if err := s.allowAt(ctx, in.Org, in.Scope); err != nil {
		return nil, err
	}
	filter := castellan.RoleFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Kind != "" {
		kind := castellan.RoleKind(in.Kind)
		filter.Kind = &kind
	}
	roles, next, err := s.services.Roles.FindRoles(ctx, in.Org, filter)
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
	if err := s.allowOrg(ctx, in.Org); err != nil {
		return nil, err
	}
	// Whoever may grant a role may only define what it holds itself;
	// otherwise defining a role and granting it would escalate.
	if err := s.holds(ctx, castellan.OrganizationScope(in.Org).String(), "the role", in.Body.Actions, "body.actions"); err != nil {
		return nil, err
	}
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
	if err := s.allowAt(ctx, in.Org, in.Scope); err != nil {
		return nil, err
	}
	if err := checkRoleID(in.Role); err != nil {
		return nil, err
	}
	r, err := s.services.Roles.FindRoleByID(ctx, in.Org, in.Role)
	if err != nil {
		return nil, err
	}
	return &roleOutput{Body: r}, nil
}

func (s *Server) updateRole(ctx context.Context, in *struct {
	RolePath
	Body roleUpdateBody
}) (*roleOutput, error) {
	if err := s.allowRole(ctx, in.RolePath); err != nil {
		return nil, err
	}
	if in.Body.Actions != nil {
		// Changing the actions grants or revokes them wherever the role is
		// granted: the caller must hold the old and the new ones.
		if err := s.holdsRole(ctx, in.RolePath, in.Body.Actions, "body.actions"); err != nil {
			return nil, err
		}
	}
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
	if err := s.allowRole(ctx, in.RolePath); err != nil {
		return nil, err
	}
	if in.Force {
		// Forcing revokes the role's grants: hierarchy principle.
		if err := s.holdsRole(ctx, in.RolePath, nil, "query.force"); err != nil {
			return nil, err
		}
	}
	rev, err := s.services.Roles.DeleteRole(ctx, in.Org, in.Role, in.Force)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

// holdsRole checks that the caller holds, on the organization, every
// action of the role and of extra (the actions it is about to get). A
// role that does not exist is left for the store to report.
func (s *Server) holdsRole(ctx context.Context, p RolePath, extra []string, field string) error {
	role, err := s.services.Roles.FindRoleByID(ctx, p.Org, p.Role)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return s.holds(ctx, castellan.OrganizationScope(p.Org).String(), "role "+role.ID, append(slices.Clone(role.Actions), extra...), field)
}

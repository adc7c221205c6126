package guard

import (
	"context"
	"regexp"
	"slices"

	"github.com/castellan-iam/castellan"
)

// roles guards the organization's roles: reading them is authorized on
// the organization, or on the read scope of the context
// (castellan.WithReadScope) where the caller grants roles; defining or
// changing one follows the hierarchy principle, since granting it
// afterwards would otherwise escalate.
type roles struct {
	g    *guard
	next castellan.RoleService
}

var _ castellan.RoleService = (*roles)(nil)

// roleIDPattern accepts built-in role IDs (organization.owner) and custom
// role IDs (UUIDs).
var roleIDPattern = regexp.MustCompile(`^([a-z][a-z0-9]*(\.[a-z][a-zA-Z0-9]*)+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

func checkRoleID(id string) error {
	if roleIDPattern.MatchString(id) {
		return nil
	}
	return &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeInvalidID, Message: "roleId is not a role ID",
		Fields: []castellan.FieldError{{Field: "roleId", Rule: "format", Message: "must be a built-in role ID or a UUID"}}}
}

// allowRead is allow on the read scope of ctx, or the organization.
func (s *roles) allowRead(ctx context.Context, orgID string, action castellan.Action) error {
	if scope := castellan.ReadScopeFrom(ctx); scope != "" {
		return s.g.allowAt(ctx, orgID, action, "scope", scope)
	}
	return s.g.allowOrg(ctx, orgID, action)
}

// allowRole is allowOrg followed by the check of the role ID.
func (s *roles) allowRole(ctx context.Context, orgID, id string, action castellan.Action) error {
	if err := s.g.allowOrg(ctx, orgID, action); err != nil {
		return err
	}
	return checkRoleID(id)
}

func (s *roles) FindRoleByID(ctx context.Context, orgID, id string) (*castellan.Role, error) {
	if err := s.allowRead(ctx, orgID, castellan.ActionGetRole); err != nil {
		return nil, err
	}
	if err := checkRoleID(id); err != nil {
		return nil, err
	}
	return s.next.FindRoleByID(ctx, orgID, id)
}

func (s *roles) FindRoles(ctx context.Context, orgID string, filter castellan.RoleFilter) ([]*castellan.Role, string, error) {
	if err := s.allowRead(ctx, orgID, castellan.ActionListRoles); err != nil {
		return nil, "", err
	}
	return s.next.FindRoles(ctx, orgID, filter)
}

// CreateRole lets the caller define only actions it holds itself on the
// organization.
func (s *roles) CreateRole(ctx context.Context, orgID string, create castellan.RoleCreate) (*castellan.Role, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateRole); err != nil {
		return nil, err
	}
	if err := s.g.holds(ctx, castellan.OrganizationScope(orgID).String(), "the role", create.Actions, "actions"); err != nil {
		return nil, err
	}
	return s.next.CreateRole(ctx, orgID, create)
}

// UpdateRole: changing the actions grants or revokes them wherever the
// role is granted, so the caller must hold the old and the new ones.
func (s *roles) UpdateRole(ctx context.Context, orgID, id string, update castellan.RoleUpdate) (*castellan.Role, error) {
	if err := s.allowRole(ctx, orgID, id, castellan.ActionUpdateRole); err != nil {
		return nil, err
	}
	if update.Actions != nil {
		if err := s.holdsRole(ctx, orgID, id, update.Actions, "actions"); err != nil {
			return nil, err
		}
	}
	return s.next.UpdateRole(ctx, orgID, id, update)
}

// DeleteRole: forcing revokes the role's grants, so the caller must hold
// the role.
func (s *roles) DeleteRole(ctx context.Context, orgID, id string, force bool) (int64, error) {
	if err := s.allowRole(ctx, orgID, id, castellan.ActionDeleteRole); err != nil {
		return 0, err
	}
	if force {
		if err := s.holdsRole(ctx, orgID, id, nil, "force"); err != nil {
			return 0, err
		}
	}
	return s.next.DeleteRole(ctx, orgID, id, force)
}

// holdsRole checks that the caller holds, on the organization, every
// action of the role and of extra (the actions it is about to get). A
// role that does not exist is left for the store to report.
func (s *roles) holdsRole(ctx context.Context, orgID, id string, extra []string, field string) error {
	role, err := s.g.raw.Roles.FindRoleByID(ctx, orgID, id)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return s.g.holds(ctx, castellan.OrganizationScope(orgID).String(), "role "+role.ID, append(slices.Clone(role.Actions), extra...), field)
}

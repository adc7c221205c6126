package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// roleIdentities guards the role identities of an organization and their
// sessions, authorized on the organization.
type roleIdentities struct {
	g    *guard
	next castellan.RoleIdentityService
}

var _ castellan.RoleIdentityService = (*roleIdentities)(nil)

// allowID checks the action on the organization, then the ID argument
// named field.
func (s *roleIdentities) allowID(ctx context.Context, orgID, field, id string, action castellan.Action) error {
	if err := s.g.allowOrg(ctx, orgID, action); err != nil {
		return err
	}
	return castellan.CheckID(field, id)
}

func (s *roleIdentities) CreateRoleIdentity(ctx context.Context, orgID string, c castellan.RoleIdentityCreate) (*castellan.RoleIdentity, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateRoleIdentity); err != nil {
		return nil, err
	}
	return s.next.CreateRoleIdentity(ctx, orgID, c)
}

func (s *roleIdentities) FindRoleIdentityByID(ctx context.Context, orgID, id string) (*castellan.RoleIdentity, error) {
	if err := s.allowID(ctx, orgID, "roleIdentityId", id, castellan.ActionGetRoleIdentity); err != nil {
		return nil, err
	}
	return s.next.FindRoleIdentityByID(ctx, orgID, id)
}

func (s *roleIdentities) FindRoleIdentities(ctx context.Context, orgID string, f castellan.RoleIdentityFilter) ([]*castellan.RoleIdentity, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListRoleIdentities); err != nil {
		return nil, "", err
	}
	return s.next.FindRoleIdentities(ctx, orgID, f)
}

func (s *roleIdentities) DeleteRoleIdentity(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.allowID(ctx, orgID, "roleIdentityId", id, castellan.ActionDeleteRoleIdentity); err != nil {
		return 0, err
	}
	return s.next.DeleteRoleIdentity(ctx, orgID, id)
}

// AssumeRoleIdentity needs iam:AssumeRoleIdentity for every kind. An
// account role is assumed by the calling user, whatever src says: the
// source identity is the user (IamUser, its ID, the organization as the
// original's member number), so only a user of the organization can
// assume one; the operator, service accounts and users of other
// organizations are EFORBIDDEN. Other kinds take src as given.
func (s *roleIdentities) AssumeRoleIdentity(ctx context.Context, orgID, roleID string, src castellan.SourceIdentity) (*castellan.RoleSession, error) {
	if err := s.allowID(ctx, orgID, "roleIdentityId", roleID, castellan.ActionAssumeRoleIdentity); err != nil {
		return nil, err
	}
	r, err := s.next.FindRoleIdentityByID(ctx, orgID, roleID)
	if err != nil {
		return nil, err
	}
	if r.Kind == castellan.RoleKindAccount {
		p, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if p.Type != castellan.PrincipalUser || p.OrganizationID != orgID {
			return nil, castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied,
				"only a user of the organization can assume the account role %s", roleID)
		}
		src = castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: p.ID, Provider: orgID}
	}
	return s.next.AssumeRoleIdentity(ctx, orgID, roleID, src)
}

func (s *roleIdentities) FindRoleSessionByID(ctx context.Context, orgID, id string, includeDeleted bool) (*castellan.RoleSession, error) {
	if err := s.allowID(ctx, orgID, "roleSessionId", id, castellan.ActionGetRoleSession); err != nil {
		return nil, err
	}
	return s.next.FindRoleSessionByID(ctx, orgID, id, includeDeleted)
}

func (s *roleIdentities) EndRoleSession(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.allowID(ctx, orgID, "roleSessionId", id, castellan.ActionEndRoleSession); err != nil {
		return 0, err
	}
	return s.next.EndRoleSession(ctx, orgID, id)
}

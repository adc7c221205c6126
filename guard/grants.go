package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// grants guards the grants of an organization: listing is authorized on
// the scope listed (or the organization), every grant made or revoked
// needs iam:SetGrants on its scope and follows the hierarchy principle,
// and the reads the authorizer and the sweep make are the operator's.
type grants struct {
	g    *guard
	next castellan.GrantService
}

var _ castellan.GrantService = (*grants)(nil)

// FindGrants is authorized on the filter's scope, or the organization. A
// filter by subject also needs the subject to be a user or group of the
// organization, as the IAM-roles tab of users and groups reads it.
func (s *grants) FindGrants(ctx context.Context, orgID string, filter castellan.GrantFilter) ([]*castellan.Grant, string, error) {
	scope := castellan.OrganizationScope(orgID).String()
	if filter.Scope != nil {
		scope = *filter.Scope
	}
	if err := s.g.allowAt(ctx, orgID, castellan.ActionListGrants, "scope", scope); err != nil {
		return nil, "", err
	}
	if filter.Subject != nil {
		if err := s.g.subjectExists(ctx, orgID, *filter.Subject); err != nil {
			return nil, "", err
		}
	}
	return s.next.FindGrants(ctx, orgID, filter)
}

// FindGrantsFor serves the authorizer, which reads the store itself.
func (s *grants) FindGrantsFor(ctx context.Context, orgID string, subjects []castellan.Subject, scopes []string) ([]*castellan.Grant, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return s.next.FindGrantsFor(ctx, orgID, subjects, scopes)
}

// FindGrantsByID is authorized with iam:ListGrants on each grant's scope.
func (s *grants) FindGrantsByID(ctx context.Context, orgID string, ids []string) ([]*castellan.Grant, error) {
	if _, err := member(ctx, orgID); err != nil {
		return nil, err
	}
	if err := checkIDs("grantIds", ids); err != nil {
		return nil, err
	}
	found, err := s.next.FindGrantsByID(ctx, orgID, ids)
	if err != nil {
		return nil, err
	}
	for _, grant := range found {
		if err := s.g.allowAt(ctx, orgID, castellan.ActionListGrants, "scope", grant.Scope); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func (s *grants) CreateGrants(ctx context.Context, orgID string, creates []castellan.GrantCreate) ([]*castellan.Grant, int64, error) {
	if err := s.g.allowGrantChanges(ctx, orgID, creates, indexed("grants[%d].roleId")); err != nil {
		return nil, 0, err
	}
	return s.next.CreateGrants(ctx, orgID, creates)
}

// DeleteGrants revokes under the rules of granting: the caller may revoke
// only what it could grant.
func (s *grants) DeleteGrants(ctx context.Context, orgID string, ids []string) (int64, error) {
	if _, err := member(ctx, orgID); err != nil {
		return 0, err
	}
	if err := checkIDs("grantIds", ids); err != nil {
		return 0, err
	}
	found, err := s.g.raw.Grants.FindGrantsByID(ctx, orgID, ids)
	if err != nil {
		return 0, err
	}
	changes := make([]castellan.GrantCreate, len(found))
	for i, grant := range found {
		changes[i] = castellan.GrantCreate{RoleID: grant.RoleID, Scope: grant.Scope, Subject: grant.Subject}
	}
	if err := s.g.allowGrantChanges(ctx, orgID, changes, indexed("grantIds[%d]")); err != nil {
		return 0, err
	}
	return s.next.DeleteGrants(ctx, orgID, ids)
}

func (s *grants) SetRoles(ctx context.Context, orgID string, subject castellan.Subject, scope string, roleIDs []string) ([]*castellan.Grant, int64, error) {
	if err := s.g.allowRoleChanges(ctx, orgID, subject, scope, roleIDs); err != nil {
		return nil, 0, err
	}
	return s.next.SetRoles(ctx, orgID, subject, scope, roleIDs)
}

func (s *grants) RemoveRoles(ctx context.Context, orgID string, subject castellan.Subject, scope string, roleIDs []string, all bool) (int64, error) {
	changed := roleIDs
	if all {
		changed = nil // every role the subject holds there counts below
	}
	if err := s.g.allowRoleChanges(ctx, orgID, subject, scope, changed); err != nil {
		return 0, err
	}
	return s.next.RemoveRoles(ctx, orgID, subject, scope, roleIDs, all)
}

// DeleteExpiredGrants is background work: the sweep of cmd/castellan
// calls the store itself.
func (s *grants) DeleteExpiredGrants(ctx context.Context) (int, error) {
	if err := requireOperator(ctx); err != nil {
		return 0, err
	}
	return s.next.DeleteExpiredGrants(ctx)
}

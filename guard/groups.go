package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// groups guards the groups of an organization, authorized on the
// organization. Changes that give or take away the group's roles (its
// members, its deletion) follow the hierarchy principle for each role the
// group holds.
type groups struct {
	g    *guard
	next castellan.GroupService
}

var _ castellan.GroupService = (*groups)(nil)

// allowGroup checks the action on the organization, then the group ID.
func (s *groups) allowGroup(ctx context.Context, orgID, id string, action castellan.Action) error {
	if err := s.g.allowOrg(ctx, orgID, action); err != nil {
		return err
	}
	return castellan.CheckID("groupId", id)
}

// allowGroupChange is allowGroup for changes that give or take away the
// group's roles.
func (s *groups) allowGroupChange(ctx context.Context, orgID, id string, action castellan.Action) error {
	if err := s.allowGroup(ctx, orgID, id, action); err != nil {
		return err
	}
	return s.g.holdsRolesOf(ctx, orgID, castellan.Subject{Type: castellan.SubjectGroup, ID: id}, "groupId")
}

func (s *groups) FindGroupByID(ctx context.Context, orgID, id string) (*castellan.Group, error) {
	if err := s.allowGroup(ctx, orgID, id, castellan.ActionGetGroup); err != nil {
		return nil, err
	}
	return s.next.FindGroupByID(ctx, orgID, id)
}

func (s *groups) FindGroups(ctx context.Context, orgID string, filter castellan.GroupFilter) ([]*castellan.Group, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListGroups); err != nil {
		return nil, "", err
	}
	return s.next.FindGroups(ctx, orgID, filter)
}

func (s *groups) CreateGroup(ctx context.Context, orgID string, create castellan.GroupCreate) (*castellan.Group, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateGroup); err != nil {
		return nil, err
	}
	// A new group holds no role: adding its first members needs the
	// action only.
	if len(create.MemberIDs) > 0 {
		if err := s.g.allowOrg(ctx, orgID, castellan.ActionAddGroupMembers); err != nil {
			return nil, err
		}
	}
	return s.next.CreateGroup(ctx, orgID, create)
}

func (s *groups) UpdateGroup(ctx context.Context, orgID, id string, update castellan.GroupUpdate) (*castellan.Group, error) {
	if err := s.allowGroup(ctx, orgID, id, castellan.ActionUpdateGroup); err != nil {
		return nil, err
	}
	// Members come and go with the group's roles: the rules of
	// AddGroupMembers and RemoveGroupMembers apply.
	set := update.SetMemberIDs != nil
	for _, m := range []struct {
		change bool
		action castellan.Action
	}{{len(update.AddMemberIDs) > 0 || set, castellan.ActionAddGroupMembers}, {len(update.RemoveMemberIDs) > 0 || set, castellan.ActionRemoveGroupMembers}} {
		if m.change {
			if err := s.allowGroupChange(ctx, orgID, id, m.action); err != nil {
				return nil, err
			}
		}
	}
	return s.next.UpdateGroup(ctx, orgID, id, update)
}

// DeleteGroup takes the group's roles away from its members.
func (s *groups) DeleteGroup(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.allowGroupChange(ctx, orgID, id, castellan.ActionDeleteGroup); err != nil {
		return 0, err
	}
	return s.next.DeleteGroup(ctx, orgID, id)
}

// AddGroupMembers gives the new members the group's roles.
func (s *groups) AddGroupMembers(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error) {
	if err := s.allowMembersChange(ctx, orgID, groupID, castellan.ActionAddGroupMembers, userIDs); err != nil {
		return 0, err
	}
	return s.next.AddGroupMembers(ctx, orgID, groupID, userIDs)
}

// RemoveGroupMembers takes the group's roles away from the members.
func (s *groups) RemoveGroupMembers(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error) {
	if err := s.allowMembersChange(ctx, orgID, groupID, castellan.ActionRemoveGroupMembers, userIDs); err != nil {
		return 0, err
	}
	return s.next.RemoveGroupMembers(ctx, orgID, groupID, userIDs)
}

func (s *groups) allowMembersChange(ctx context.Context, orgID, groupID string, action castellan.Action, userIDs []string) error {
	if err := s.allowGroupChange(ctx, orgID, groupID, action); err != nil {
		return err
	}
	return checkIDs("userIds", userIDs)
}

func (s *groups) FindGroupMembers(ctx context.Context, orgID, groupID string, filter castellan.GroupFilter) ([]*castellan.GroupMember, string, error) {
	if err := s.allowGroup(ctx, orgID, groupID, castellan.ActionListGroupMembers); err != nil {
		return nil, "", err
	}
	return s.next.FindGroupMembers(ctx, orgID, groupID, filter)
}

// FindUserGroups needs the user to be one of the organization.
func (s *groups) FindUserGroups(ctx context.Context, orgID, userID string) ([]*castellan.Group, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListUserGroups); err != nil {
		return nil, err
	}
	if err := castellan.CheckID("userId", userID); err != nil {
		return nil, err
	}
	if _, err := s.g.raw.Users.FindUserByID(ctx, orgID, userID, false); err != nil {
		return nil, err
	}
	return s.next.FindUserGroups(ctx, orgID, userID)
}

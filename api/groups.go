package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// GroupPath names one group of one organization.
type GroupPath struct {
	Org   string `path:"org" doc:"Organization ID (a UUID)."`
	Group string `path:"group" doc:"Group ID (a UUID)."`
}

type groupOutput struct{ Body *castellan.Group }

type groupCreateBody struct {
	Name        string `json:"name" minLength:"1" maxLength:"100" doc:"Unique in the organization (case-sensitive)." example:"platform-team"`
	Description string `json:"description,omitempty" maxLength:"100"`
}

type groupUpdateBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Description *string `json:"description,omitempty" maxLength:"100"`
}

type listGroupsOutput struct {
	Body struct {
		Groups        []*castellan.Group `json:"groups" nullable:"false"`
		NextPageToken string             `json:"nextPageToken,omitempty"`
	}
}

type membersBody struct {
	UserIDs []string `json:"userIds" minItems:"1" maxItems:"100" doc:"IDs of registered users of the organization (not service accounts); all or nothing."`
}

type listMembersOutput struct {
	Body struct {
		Members       []*castellan.GroupMember `json:"members" nullable:"false"`
		NextPageToken string                   `json:"nextPageToken,omitempty"`
	}
}

func (s *Server) registerGroups() {
	const tag = "Groups"
	register(s, op{
		id: "create-group", method: http.MethodPost, path: "/v1/organizations/{org}/groups", tag: tag,
		action: castellan.ActionCreateGroup, status: http.StatusCreated, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Create a group", desc: "Group names are unique in the organization (group.name_taken); the description holds at most 100 characters.",
	}, s.createGroup)
	register(s, op{
		id: "list-groups", method: http.MethodGet, path: "/v1/organizations/{org}/groups", tag: tag,
		action: castellan.ActionListGroups, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List groups", desc: "Groups by name, with member and grant counts.",
	}, s.listGroups)
	register(s, op{
		id: "get-group", method: http.MethodGet, path: "/v1/organizations/{org}/groups/{group}", tag: tag,
		action: castellan.ActionGetGroup, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Get a group", desc: "The group with its member and grant counts.",
	}, s.getGroup)
	register(s, op{
		id: "update-group", method: http.MethodPatch, path: "/v1/organizations/{org}/groups/{group}", tag: tag,
		action: castellan.ActionUpdateGroup, errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
		summary: "Update a group", desc: "Changes the fields present in the body; the new name must be free in the organization (group.name_taken).",
	}, s.updateGroup)
	register(s, op{
		id: "delete-group", method: http.MethodDelete, path: "/v1/organizations/{org}/groups/{group}", tag: tag,
		action: castellan.ActionDeleteGroup, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Delete a group", desc: "Removes the group's grants and memberships in the same transaction: its members lose what they held through it at once.",
	}, s.deleteGroup)
	s.registerGroupMembers(tag)
}

func (s *Server) registerGroupMembers(tag string) {
	register(s, op{
		id: "add-group-members", method: http.MethodPost, path: "/v1/organizations/{org}/groups/{group}/members:batchAdd", tag: tag,
		action: castellan.ActionAddGroupMembers, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Add members to a group", desc: "Up to 100 users at once, all or nothing. Users already in the group stay.",
	}, s.changeMembers(s.services.Groups.AddGroupMembers))
	register(s, op{
		id: "remove-group-members", method: http.MethodPost, path: "/v1/organizations/{org}/groups/{group}/members:batchRemove", tag: tag,
		action: castellan.ActionRemoveGroupMembers, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "Remove members from a group", desc: "Up to 100 users at once, all or nothing. They lose what they held through the group at once.",
	}, s.changeMembers(s.services.Groups.RemoveGroupMembers))
	register(s, op{
		id: "list-group-members", method: http.MethodGet, path: "/v1/organizations/{org}/groups/{group}/members", tag: tag,
		action: castellan.ActionListGroupMembers, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List the members of a group", desc: "The group's users, by login ID.",
	}, s.listGroupMembers)
	register(s, op{
		id: "list-user-groups", method: http.MethodGet, path: "/v1/organizations/{org}/users/{user}/groups", tag: tag,
		action: castellan.ActionListUserGroups, errors: []int{http.StatusForbidden, http.StatusNotFound},
		summary: "List the groups of a user", desc: "The groups the user is a member of, by name.",
	}, s.listUserGroups)
}

func (s *Server) createGroup(ctx context.Context, in *struct {
	OrgPath
	Body groupCreateBody
}) (*groupOutput, error) {
	g, err := s.services.Groups.CreateGroup(ctx, in.Org, castellan.GroupCreate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &groupOutput{Body: g}, nil
}

func (s *Server) listGroups(ctx context.Context, in *struct {
	OrgPath
	PageParams
}) (*listGroupsOutput, error) {
	groups, next, err := s.services.Groups.FindGroups(ctx, in.Org, castellan.GroupFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listGroupsOutput{}
	out.Body.Groups, out.Body.NextPageToken = nonNil(groups), next
	return out, nil
}

func (s *Server) getGroup(ctx context.Context, in *GroupPath) (*groupOutput, error) {
	g, err := s.services.Groups.FindGroupByID(ctx, in.Org, in.Group)
	if err != nil {
		return nil, err
	}
	return &groupOutput{Body: g}, nil
}

func (s *Server) updateGroup(ctx context.Context, in *struct {
	GroupPath
	Body groupUpdateBody
}) (*groupOutput, error) {
	g, err := s.services.Groups.UpdateGroup(ctx, in.Org, in.Group, castellan.GroupUpdate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &groupOutput{Body: g}, nil
}

func (s *Server) deleteGroup(ctx context.Context, in *GroupPath) (*revisionOutput, error) {
	rev, err := s.services.Groups.DeleteGroup(ctx, in.Org, in.Group)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

type membersInput struct {
	GroupPath
	Body membersBody
}

// changeMembers returns the handler of a change of a group's members made
// by change (the store's AddGroupMembers or RemoveGroupMembers).
func (s *Server) changeMembers(change func(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error)) func(context.Context, *membersInput) (*revisionOutput, error) {
	return func(ctx context.Context, in *membersInput) (*revisionOutput, error) {
		rev, err := change(ctx, in.Org, in.Group, in.Body.UserIDs)
		if err != nil {
			return nil, err
		}
		return revisionOf(rev), nil
	}
}

func (s *Server) listGroupMembers(ctx context.Context, in *struct {
	GroupPath
	PageParams
}) (*listMembersOutput, error) {
	members, next, err := s.services.Groups.FindGroupMembers(ctx, in.Org, in.Group, castellan.GroupFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listMembersOutput{}
	out.Body.Members, out.Body.NextPageToken = nonNil(members), next
	return out, nil
}

func (s *Server) listUserGroups(ctx context.Context, in *struct {
	OrgPath
	User string `path:"user" doc:"User ID (a UUID)."`
}) (*listGroupsOutput, error) {
	groups, err := s.services.Groups.FindUserGroups(ctx, in.Org, in.User)
	if err != nil {
		return nil, err
	}
	out := &listGroupsOutput{}
	out.Body.Groups = nonNil(groups)
	return out, nil
}

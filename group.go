package castellan

import (
	"context"
	"time"
)

// Group is a named set of users of one organization. Roles granted to the
// group apply to every member; removing a member or deleting the group
// takes them away at once.
type Group struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	MemberCount    int       `json:"memberCount"`
	GrantCount     int       `json:"grantCount" doc:"Number of roles granted to the group, on any scope."`
	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	UpdatedAt      time.Time `json:"updatedAt"`
	UpdatedBy      string    `json:"updatedBy"`
	Revision       int64     `json:"revision"`
}

// Group limits, from the user and group management seed.
const (
	MaxGroupNameLength        = 100
	MaxGroupDescriptionLength = 100
	MaxBatchItems             = 100
	// MaxGroupMembersAtOnce bounds the members one group creation or
	// update names: a provisioning client replaces a group's whole
	// member list at once.
	MaxGroupMembersAtOnce = 1000
)

// ValidateGroupName checks a group name: 1–100 characters, no control
// characters, no surrounding white space; unique in the organization,
// case-sensitively.
func ValidateGroupName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxGroupNameLength) {
		c.printable(field, name)
	}
	return c.fields
}

func validateGroupDescription(field, s string) []FieldError {
	var c fieldChecker
	if c.length(field, s, 0, MaxGroupDescriptionLength) {
		c.fields = append(c.fields, ValidateDescription(field, s)...)
	}
	return c.fields
}

// GroupCreate is the input of CreateGroup.
type GroupCreate struct {
	Name        string
	Description string
	// MemberIDs are users to add at once, in the same transaction.
	MemberIDs []string
}

// Validate checks every field.
func (gc *GroupCreate) Validate() error {
	if len(gc.MemberIDs) > MaxGroupMembersAtOnce {
		return TooManyItems("memberIds", len(gc.MemberIDs), MaxGroupMembersAtOnce)
	}
	extra := validateGroupDescription("description", gc.Description)
	return validateNamed(ValidateGroupName, &gc.Name, nil, append(extra, validateMemberIDs("memberIds", gc.MemberIDs)...)...)
}

// validateMemberIDs checks the IDs of a list of users to add or remove.
func validateMemberIDs(field string, ids []string) []FieldError {
	var fields []FieldError
	for i, id := range ids {
		fields = append(fields, checkIDField(field+"["+itoa(i)+"]", id)...)
	}
	return fields
}

// GroupUpdate changes the non-nil fields of a group, and adds and
// removes members, in one transaction. Removing a user that is not a
// member changes nothing. SetMemberIDs, when not nil, makes the members
// exactly those users (read and changed in the same transaction), and
// AddMemberIDs and RemoveMemberIDs must then be empty.
type GroupUpdate struct {
	Name            *string
	Description     *string
	AddMemberIDs    []string
	RemoveMemberIDs []string
	SetMemberIDs    *[]string
}

// Validate checks the fields being changed.
func (gu *GroupUpdate) Validate() error {
	set := []string{}
	if gu.SetMemberIDs != nil {
		set = *gu.SetMemberIDs
		if len(gu.AddMemberIDs)+len(gu.RemoveMemberIDs) > 0 {
			return Invalid([]FieldError{{Field: "setMemberIds", Rule: "exclusive", Message: "must come without addMemberIds and removeMemberIds"}})
		}
	}
	for field, ids := range map[string][]string{"addMemberIds": gu.AddMemberIDs, "removeMemberIds": gu.RemoveMemberIDs, "setMemberIds": set} {
		if len(ids) > MaxGroupMembersAtOnce {
			return TooManyItems(field, len(ids), MaxGroupMembersAtOnce)
		}
	}
	var extra []FieldError
	if gu.Description != nil {
		extra = validateGroupDescription("description", *gu.Description)
	}
	extra = append(extra, validateMemberIDs("addMemberIds", gu.AddMemberIDs)...)
	extra = append(extra, validateMemberIDs("removeMemberIds", gu.RemoveMemberIDs)...)
	extra = append(extra, validateMemberIDs("setMemberIds", set)...)
	return validateNamed(ValidateGroupName, gu.Name, nil, extra...)
}

// GroupFilter selects groups of one organization.
type GroupFilter struct {
	PageSize  int
	PageToken string
}

// GroupMember is a user in a group.
type GroupMember struct {
	UserID  string    `json:"userId"`
	Email   string    `json:"email"`
	AddedAt time.Time `json:"addedAt"`
	AddedBy string    `json:"addedBy"`
}

// GroupService manages groups and their members. Every method takes the
// organization; groups and users of another organization are not found.
type GroupService interface {
	// FindGroupByID returns ENOTFOUND (group.not_found).
	FindGroupByID(ctx context.Context, orgID, id string) (*Group, error)
	// FindGroups lists groups by name.
	FindGroups(ctx context.Context, orgID string, filter GroupFilter) ([]*Group, string, error)
	// CreateGroup returns EINVALID or ECONFLICT (group.name_taken).
	CreateGroup(ctx context.Context, orgID string, gc GroupCreate) (*Group, error)
	// UpdateGroup returns ENOTFOUND, EINVALID or ECONFLICT.
	UpdateGroup(ctx context.Context, orgID, id string, upd GroupUpdate) (*Group, error)
	// DeleteGroup removes the group with its memberships and grants in one
	// transaction and returns the revision. In the same transaction it
	// signs its members out (their API tokens, including those of their
	// access keys, and console sessions end; the keys stay), except
	// members who belong to another group that holds at least one
	// unexpired grant (seed 000: "unless they have separately assigned
	// group permissions"); a grant to the user alone does not keep them.
	// Returns ENOTFOUND or EPRECONDITION (grant.last_owner) when the group
	// makes the last owner (OrganizationOwnerRoleID).
	DeleteGroup(ctx context.Context, orgID, id string) (int64, error)
	// AddGroupMembers adds up to 100 users, all or nothing. Returns
	// ENOTFOUND (user.not_found) naming the first user that is not a user
	// of the organization (deleted users are not; invited and disabled
	// ones are); users already in the group are left as they are.
	AddGroupMembers(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error)
	// RemoveGroupMembers removes up to 100 users, all or nothing, and
	// signs them out in the same transaction (their API tokens and console
	// sessions end, whatever other access they hold); a user who is not a
	// member is ENOTFOUND (user.not_found). Removing the member through
	// whom the organization has its last owner is EPRECONDITION
	// (grant.last_owner).
	RemoveGroupMembers(ctx context.Context, orgID, groupID string, userIDs []string) (int64, error)
	// FindGroupMembers lists members by user ID.
	FindGroupMembers(ctx context.Context, orgID, groupID string, filter GroupFilter) ([]*GroupMember, string, error)
	// FindUserGroups lists the groups of a user, by name.
	FindUserGroups(ctx context.Context, orgID, userID string) ([]*Group, error)
}

package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// users guards the users of an organization. Every operation is
// authorized on the organization; those that take away a user's roles or
// hand them to someone else (update, delete, a new invitation link)
// apply the hierarchy principle to every role the user holds. Accepting
// an invitation authenticates by the invitation's token.
type users struct {
	g    *guard
	next castellan.UserService
}

var _ castellan.UserService = (*users)(nil)

func (s *users) FindUserByID(ctx context.Context, orgID, id string, includeDeleted bool) (*castellan.User, error) {
	if err := s.g.allowUser(ctx, orgID, id, castellan.ActionGetUser); err != nil {
		return nil, err
	}
	return s.next.FindUserByID(ctx, orgID, id, includeDeleted)
}

func (s *users) FindUsers(ctx context.Context, orgID string, filter castellan.UserFilter) ([]*castellan.User, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListUsers); err != nil {
		return nil, "", err
	}
	return s.next.FindUsers(ctx, orgID, filter)
}

func (s *users) CreateUser(ctx context.Context, orgID string, uc castellan.UserCreate) (*castellan.User, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateUser); err != nil {
		return nil, err
	}
	return s.next.CreateUser(ctx, orgID, uc)
}

func (s *users) RegisterUser(ctx context.Context, orgID string, reg castellan.UserRegistration) (*castellan.RegisteredUser, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateUser); err != nil {
		return nil, err
	}
	return s.next.RegisterUser(ctx, orgID, reg)
}

func (s *users) RegisterUsers(ctx context.Context, orgID string, regs []castellan.UserRegistration) ([]*castellan.RegisteredUser, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCreateUser); err != nil {
		return nil, err
	}
	return s.next.RegisterUsers(ctx, orgID, regs)
}

// UpdateUser applies the hierarchy principle to every update: a new email
// receives the next invitation or reset, and disabling, access flags and
// allow lists take the user's roles away.
func (s *users) UpdateUser(ctx context.Context, orgID, id string, upd castellan.UserUpdate) (*castellan.User, error) {
	if err := s.allowUserChange(ctx, orgID, id, castellan.ActionUpdateUser); err != nil {
		return nil, err
	}
	return s.next.UpdateUser(ctx, orgID, id, upd)
}

func (s *users) DeleteUser(ctx context.Context, orgID, id, confirm string) (int64, error) {
	if err := s.allowUserChange(ctx, orgID, id, castellan.ActionDeleteUser); err != nil {
		return 0, err
	}
	return s.next.DeleteUser(ctx, orgID, id, confirm)
}

// ResendInvitation and Reinvite apply the hierarchy principle: a new link
// to a user holding roles is a way into those roles.
func (s *users) ResendInvitation(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.allowUserChange(ctx, orgID, id, castellan.ActionResendUserInvitation); err != nil {
		return 0, err
	}
	return s.next.ResendInvitation(ctx, orgID, id)
}

func (s *users) Reinvite(ctx context.Context, orgID, id string) (int64, error) {
	if err := s.allowUserChange(ctx, orgID, id, castellan.ActionReinviteUser); err != nil {
		return 0, err
	}
	return s.next.Reinvite(ctx, orgID, id)
}

// AcceptInvitation authenticates by the invitation's token.
func (s *users) AcceptInvitation(ctx context.Context, token, password string) (*castellan.User, error) {
	return s.next.AcceptInvitation(ctx, token, password)
}

// allowUserChange is allowUser for a change that takes away or hands on
// what the user holds.
func (s *users) allowUserChange(ctx context.Context, orgID, id string, action castellan.Action) error {
	if err := s.g.allowUser(ctx, orgID, id, action); err != nil {
		return err
	}
	return s.g.holdsUserRoles(ctx, orgID, id)
}

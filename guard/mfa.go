package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// mfa guards the users' second factors. A user enrols its own factor
// and, during its sign-in, verifies it for its own session; it reads its
// own status without any role. Reading another user's needs
// iam:GetUserMFA, and resetting one (for a lost device) iam:ResetUserMFA
// and every role the user holds.
type mfa struct {
	g    *guard
	next castellan.MFAService
}

var _ castellan.MFAService = (*mfa)(nil)

func (s *mfa) BeginTOTP(ctx context.Context, orgID, userID string) (*castellan.TOTPSetup, error) {
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionBeginTOTPEnrolment); err != nil {
		return nil, err
	}
	return s.next.BeginTOTP(ctx, orgID, userID)
}

func (s *mfa) PendingTOTP(ctx context.Context, orgID, userID string) (*castellan.TOTPSetup, error) {
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionBeginTOTPEnrolment); err != nil {
		return nil, err
	}
	return s.next.PendingTOTP(ctx, orgID, userID)
}

func (s *mfa) ConfirmTOTP(ctx context.Context, orgID, userID, code string) ([]string, error) {
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionConfirmTOTPEnrolment); err != nil {
		return nil, err
	}
	return s.next.ConfirmTOTP(ctx, orgID, userID, code)
}

// VerifyMFA is the second step of the caller's own sign-in: the session
// must be the caller's.
func (s *mfa) VerifyMFA(ctx context.Context, orgID, userID, sessionID, code string, policy castellan.SignInPolicy) error {
	if err := ownSession(ctx, orgID, sessionID, castellan.ActionVerifyMFA); err != nil {
		return err
	}
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionVerifyMFA); err != nil {
		return err
	}
	return s.next.VerifyMFA(ctx, orgID, userID, sessionID, code, policy)
}

func (s *mfa) MFAStatus(ctx context.Context, orgID, userID string) (*castellan.MFAStatus, error) {
	if _, err := inOrg(ctx, orgID, userID); err != nil {
		return nil, err
	}
	if !isSelf(ctx, orgID, userID) {
		if err := s.g.allowOrg(ctx, orgID, castellan.ActionGetUserMFA); err != nil {
			return nil, err
		}
	}
	return s.next.MFAStatus(ctx, orgID, userID)
}

// ResetMFA takes away what guards the user's roles: only someone who
// holds them all may, as for updating the user. There is no self rule: a
// user that lost its device asks an administrator.
func (s *mfa) ResetMFA(ctx context.Context, orgID, userID string) (int64, error) {
	if err := s.g.allowUser(ctx, orgID, userID, castellan.ActionResetUserMFA); err != nil {
		return 0, err
	}
	if err := s.g.holdsUserRoles(ctx, orgID, userID); err != nil {
		return 0, err
	}
	return s.next.ResetMFA(ctx, orgID, userID)
}

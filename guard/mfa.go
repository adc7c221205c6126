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
	if _, err := s.mayEnrol(ctx, orgID, userID, castellan.ActionBeginTOTPEnrolment); err != nil {
		return nil, err
	}
	return s.next.BeginTOTP(ctx, orgID, userID)
}

func (s *mfa) PendingTOTP(ctx context.Context, orgID, userID string) (*castellan.TOTPSetup, error) {
	if _, err := s.mayEnrol(ctx, orgID, userID, castellan.ActionBeginTOTPEnrolment); err != nil {
		return nil, err
	}
	return s.next.PendingTOTP(ctx, orgID, userID)
}

// ConfirmTOTP confirms the caller's own enrolment; a first one made at
// the second-factor step of a sign-in also passes that step. From a
// signed-in session it needs the user's password, as a voluntary
// password change does: a borrowed session must not put its own factor
// (and its recovery codes) on the account.
func (s *mfa) ConfirmTOTP(ctx context.Context, orgID, userID, code, password string) ([]string, error) {
	state, err := s.mayEnrol(ctx, orgID, userID, castellan.ActionConfirmTOTPEnrolment)
	if err != nil {
		return nil, err
	}
	if state == castellan.SessionComplete && password == "" {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: "password", Rule: "required",
			Message: "give your current password to change your second factor"}})
	}
	codes, err := s.next.ConfirmTOTP(ctx, orgID, userID, code, password)
	if err != nil {
		return nil, err
	}
	return codes, s.passSecondFactor(ctx, orgID, userID)
}

// VerifyMFA is the second step of the caller's own sign-in: the session
// must be the caller's, and a right code moves it past that step.
func (s *mfa) VerifyMFA(ctx context.Context, orgID, userID, sessionID, code string, policy castellan.SignInPolicy) error {
	if err := ownSession(ctx, orgID, sessionID, castellan.ActionVerifyMFA); err != nil {
		return err
	}
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionVerifyMFA); err != nil {
		return err
	}
	if err := s.next.VerifyMFA(ctx, orgID, userID, sessionID, code, policy); err != nil {
		return err
	}
	return s.passSecondFactor(ctx, orgID, userID)
}

// mayEnrol lets the operator, and the user itself from its own console
// session, enrol a second factor: from a complete session, or at the
// second-factor step of a sign-in only while the user has no factor yet
// (the first enrolment a policy asks for). A token, or a session that
// knows only the password of a user who has a factor, cannot replace it.
// It returns the state of the caller's session ("" for the operator).
func (s *mfa) mayEnrol(ctx context.Context, orgID, userID string, action castellan.Action) (castellan.SessionState, error) {
	if err := selfOrOperator(ctx, orgID, userID, action); err != nil {
		return "", err
	}
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type == castellan.PrincipalOperator {
		return "", nil
	}
	if p.SessionID == "" {
		return "", denied(action, "user/"+userID)
	}
	state, err := s.g.sessionState(ctx, orgID, userID, p.SessionID)
	if err != nil || state == castellan.SessionComplete {
		return state, err
	}
	if state == castellan.SessionMFAPending {
		st, err := s.g.raw.MFA.MFAStatus(ctx, orgID, userID)
		if err != nil || !st.Enrolled {
			return state, err
		}
	}
	return "", denied(action, "user/"+userID)
}

// passSecondFactor moves the caller's own session, when it waits for its
// second factor, to the next step: the forced password change, or
// complete.
func (s *mfa) passSecondFactor(ctx context.Context, orgID, userID string) error {
	p, _ := castellan.PrincipalFrom(ctx)
	if p.SessionID == "" {
		return nil
	}
	state, err := s.g.sessionState(ctx, orgID, userID, p.SessionID)
	if err != nil || state != castellan.SessionMFAPending {
		return err
	}
	u, err := s.g.raw.Users.FindUserByID(ctx, orgID, userID, false)
	if err != nil {
		return err
	}
	next := castellan.SessionComplete
	if u.PasswordResetRequired {
		next = castellan.SessionPasswordChange
	}
	return s.g.raw.Sessions.AdvanceSession(ctx, orgID, p.SessionID, next)
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

package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// sessions guards console sessions. Signing in, checking a session's
// cookie and reading the sign-in form's key authenticate by their own
// secret and pass through. A user manages its own sessions and password
// without any role, and only the user of a session advances or ends it;
// listing or revoking another user's sessions needs the action on the
// organization, and revoking one also every role that user holds.
type sessions struct {
	g    *guard
	next castellan.SessionService
}

var _ castellan.SessionService = (*sessions)(nil)

// VerifySignIn authenticates by the password.
func (s *sessions) VerifySignIn(ctx context.Context, in castellan.SignIn) (*castellan.User, error) {
	return s.next.VerifySignIn(ctx, in)
}

// FindSignInFederation serves the sign-in page, before anyone is
// known: it reads what the sign-in needs of one federation.
func (s *sessions) FindSignInFederation(ctx context.Context, ref string) (*castellan.FederationClient, error) {
	return s.next.FindSignInFederation(ctx, ref)
}

// SignInFederated authenticates by the identity provider's ID token,
// which the caller (the console's single sign-on) has verified against
// the provider's keys, issuer, audience, expiry and nonce, as
// VerifySignIn authenticates by the password.
func (s *sessions) SignInFederated(ctx context.Context, id castellan.FederatedIdentity) (*castellan.User, error) {
	return s.next.SignInFederated(ctx, id)
}

// RefuseFederatedSignIn records a refused single sign-on; it grants
// nothing.
func (s *sessions) RefuseFederatedSignIn(ctx context.Context, federationID, reason, detail string) error {
	return s.next.RefuseFederatedSignIn(ctx, federationID, reason, detail)
}

// CreateSession starts a session for the caller itself, right after its
// password (or its identity provider's ID token) was verified: the
// console makes the user VerifySignIn or SignInFederated returned the
// principal, marked PasswordVerified. A principal of a token, of an
// access key or of another session may not: a leaked API key must not
// become a console session.
func (s *sessions) CreateSession(ctx context.Context, orgID, userID string, state castellan.SessionState, userAgent string, policy castellan.SignInPolicy) (*castellan.NewSession, error) {
	p, err := inOrg(ctx, orgID, userID)
	if err != nil {
		return nil, err
	}
	if p.Type != castellan.PrincipalOperator &&
		(!isSelf(ctx, orgID, userID) || !p.PasswordVerified || p.KeyID != "" || p.SessionID != "" || p.SCIMTokenID != "") {
		return nil, denied(castellan.ActionSignIn, "user/"+userID)
	}
	return s.next.CreateSession(ctx, orgID, userID, state, userAgent, policy)
}

// AuthenticateSession authenticates by the session's secret.
func (s *sessions) AuthenticateSession(ctx context.Context, token string) (*castellan.Session, *castellan.User, error) {
	return s.next.AuthenticateSession(ctx, token)
}

// AdvanceSession moves the caller's own session one way only: from the
// password change to complete; asking for the state it is in changes
// nothing. A session leaves its second factor only through VerifyMFA or
// a first ConfirmTOTP (see mfa.passSecondFactor), never by asking.
func (s *sessions) AdvanceSession(ctx context.Context, orgID, sessionID string, state castellan.SessionState) error {
	if err := ownSession(ctx, orgID, sessionID, castellan.ActionSignIn); err != nil {
		return err
	}
	if p, _ := castellan.PrincipalFrom(ctx); p.Type != castellan.PrincipalOperator {
		from, err := s.g.sessionState(ctx, orgID, p.ID, sessionID)
		if err != nil {
			return err
		}
		if !forward(from, state) {
			return denied(castellan.ActionSignIn, "session/"+sessionID)
		}
	}
	return s.next.AdvanceSession(ctx, orgID, sessionID, state)
}

// forward reports whether the session's user may step its sign-in from
// one state to the next (or stay).
func forward(from, to castellan.SessionState) bool {
	return from == to || from == castellan.SessionPasswordChange && to == castellan.SessionComplete
}

// sessionState returns the state of sessionID, a live session of the
// user, or refuses.
func (g *guard) sessionState(ctx context.Context, orgID, userID, sessionID string) (castellan.SessionState, error) {
	list, err := g.raw.Sessions.FindSessions(ctx, orgID, userID)
	if err != nil {
		return "", err
	}
	for _, sess := range list {
		if sess.ID == sessionID {
			return sess.State, nil
		}
	}
	return "", denied(castellan.ActionSignIn, "session/"+sessionID)
}

func (s *sessions) RecordMFAFailure(ctx context.Context, orgID, userID string, policy castellan.SignInPolicy) (bool, error) {
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionVerifyMFA); err != nil {
		return false, err
	}
	return s.next.RecordMFAFailure(ctx, orgID, userID, policy)
}

// ChangePassword changes the caller's own password from its own session.
// Without the current password only a session at the forced change may:
// a borrowed signed-in session must not take the account.
func (s *sessions) ChangePassword(ctx context.Context, orgID, userID, sessionID, current, next string, requireCurrent bool, policy castellan.SignInPolicy) error {
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionChangePassword); err != nil {
		return err
	}
	if p, _ := castellan.PrincipalFrom(ctx); p.Type != castellan.PrincipalOperator {
		if err := ownSession(ctx, orgID, sessionID, castellan.ActionChangePassword); err != nil {
			return err
		}
		if !requireCurrent {
			if err := s.atPasswordChange(ctx, orgID, userID, sessionID); err != nil {
				return err
			}
		}
	}
	return s.next.ChangePassword(ctx, orgID, userID, sessionID, current, next, requireCurrent, policy)
}

// atPasswordChange refuses unless sessionID is a live session of the
// user waiting for its forced password change.
func (s *sessions) atPasswordChange(ctx context.Context, orgID, userID, sessionID string) error {
	state, err := s.g.sessionState(ctx, orgID, userID, sessionID)
	if err != nil || state == castellan.SessionPasswordChange {
		return err
	}
	return denied(castellan.ActionChangePassword, "session/"+sessionID)
}

// SignInKey is what the sign-in form, before anyone is signed in, is
// protected with.
func (s *sessions) SignInKey(ctx context.Context) ([]byte, error) {
	return s.next.SignInKey(ctx)
}

// FindSessions lists the user's sessions to the user itself or to a
// caller allowed on the organization, for a user that exists.
func (s *sessions) FindSessions(ctx context.Context, orgID, userID string) ([]*castellan.Session, error) {
	if _, err := inOrg(ctx, orgID, userID); err != nil {
		return nil, err
	}
	if !isSelf(ctx, orgID, userID) {
		if err := s.g.allowOrg(ctx, orgID, castellan.ActionListUserSessions); err != nil {
			return nil, err
		}
	}
	if _, err := s.g.raw.Users.FindUserByID(ctx, orgID, userID, false); err != nil {
		return nil, err
	}
	return s.next.FindSessions(ctx, orgID, userID)
}

// RevokeSession ends a session of the caller itself, or of another user
// when the caller may and holds every role that user holds.
func (s *sessions) RevokeSession(ctx context.Context, orgID, userID, sessionID string) (int64, error) {
	if _, err := inOrg(ctx, orgID, userID); err != nil {
		return 0, err
	}
	if err := castellan.CheckID("sessionId", sessionID); err != nil {
		return 0, err
	}
	if !isSelf(ctx, orgID, userID) {
		if err := s.g.allowOrg(ctx, orgID, castellan.ActionRevokeUserSession); err != nil {
			return 0, err
		}
		// Ending someone's session takes their access away for a while:
		// the hierarchy principle applies as to disabling them.
		if err := s.g.holdsUserRoles(ctx, orgID, userID); err != nil {
			return 0, err
		}
	}
	return s.next.RevokeSession(ctx, orgID, userID, sessionID)
}

// RevokeOtherSessions signs the user out everywhere but keep, the
// caller's own session, which must be complete: a session still at its
// second factor must not sign the real user out.
func (s *sessions) RevokeOtherSessions(ctx context.Context, orgID, userID, keep string) (int64, error) {
	if err := selfOrOperator(ctx, orgID, userID, castellan.ActionRevokeUserSession); err != nil {
		return 0, err
	}
	if p, _ := castellan.PrincipalFrom(ctx); p.Type != castellan.PrincipalOperator {
		if err := ownSession(ctx, orgID, keep, castellan.ActionRevokeUserSession); err != nil {
			return 0, err
		}
		state, err := s.g.sessionState(ctx, orgID, userID, keep)
		if err != nil {
			return 0, err
		}
		if state != castellan.SessionComplete {
			return 0, denied(castellan.ActionRevokeUserSession, "session/"+keep)
		}
	}
	return s.next.RevokeOtherSessions(ctx, orgID, userID, keep)
}

func (s *sessions) SignOut(ctx context.Context, orgID, sessionID string) error {
	if err := ownSession(ctx, orgID, sessionID, castellan.ActionSignOut); err != nil {
		return err
	}
	return s.next.SignOut(ctx, orgID, sessionID)
}

// DeleteExpiredSessions is background housekeeping.
func (s *sessions) DeleteExpiredSessions(ctx context.Context) (int, error) {
	if err := requireOperator(ctx); err != nil {
		return 0, err
	}
	return s.next.DeleteExpiredSessions(ctx)
}

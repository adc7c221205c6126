package api

import (
	"context"
	"github.com/castellan-iam/castellan"
	"net/http"
)

type acceptInvitationBody struct {
	Token    string `json:"token" maxLength:"100" doc:"The token of the invitation link (csti_…)."`
	Password string `json:"password" doc:"The initial password, under the password policy (else user.unsafe_password)."`
}

type acceptInvitationOutput struct {
	Body struct {
		UserID         string `json:"userId"`
		OrganizationID string `json:"organizationId"`
		LoginID        string `json:"loginId" doc:"Sign in with this login ID and the password."`
		Status         string `json:"status" enum:"active"`
	}
}

// registerInvitations adds resend and reinvite, which issue a new link and
// void the old ones, and the public accept.
func (s *Server) registerInvitations(tag string) {
	register(s, op{
		id: "resend-user-invitation", method: http.MethodPost, path: "/v1/organizations/{org}/users/{user}/invitation:resend", tag: tag,
		action: castellan.ActionResendUserInvitation, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Resend the invitation mail",
		desc:    "A new link valid 7 days; earlier links stop working. Only for users with a pending invitation (else user.not_pending_invitation).",
	}, s.reissueInvitation(s.services.Users.ResendInvitation))
	register(s, op{
		id: "reinvite-user", method: http.MethodPost, path: "/v1/organizations/{org}/users/{user}/invitation:reinvite", tag: tag,
		action: castellan.ActionReinviteUser, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Invite a user again",
		desc:    "As resend, with the reinvitation mail: for a user who let the invitation lapse or lost it.",
	}, s.reissueInvitation(s.services.Users.Reinvite))
	register(s, op{
		id: "accept-invitation", method: http.MethodPost, path: "/v1/invitations:accept", tag: tag,
		action: castellan.ActionAcceptUserInvitation, public: true, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Accept an invitation (no token needed)",
		desc: "Sets the initial password of the invited user, who becomes active. A link works once (invitation.used), " +
			"for 7 days (invitation.expired); an unknown link, or one a newer invitation replaced, is invitation.invalid.",
	}, s.acceptInvitation)
}

// reissueInvitation returns the handler of resend or reinvite, made by
// reissue (the store's ResendInvitation or Reinvite).
func (s *Server) reissueInvitation(reissue func(ctx context.Context, orgID, userID string) (int64, error)) func(context.Context, *UserPath) (*revisionOutput, error) {
	return func(ctx context.Context, in *UserPath) (*revisionOutput, error) {
		rev, err := reissue(ctx, in.Org, in.User)
		if err != nil {
			return nil, err
		}
		return revisionOf(rev), nil
	}
}

func (s *Server) acceptInvitation(ctx context.Context, in *struct{ Body acceptInvitationBody }) (*acceptInvitationOutput, error) {
	u, err := s.services.Users.AcceptInvitation(ctx, in.Body.Token, in.Body.Password)
	if err != nil {
		return nil, err
	}
	out := &acceptInvitationOutput{}
	out.Body.UserID, out.Body.OrganizationID, out.Body.LoginID, out.Body.Status = u.ID, u.OrganizationID, u.LoginID, u.Status
	return out, nil
}

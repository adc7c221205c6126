package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

type mfaStatusOutput struct{ Body *castellan.MFAStatus }

// registerMFA adds the administration of users' second factors;
// enrolment and verification happen in the console's sign-in.
func (s *Server) registerMFA() {
	const tag = "Users"
	register(s, op{
		id: "get-user-mfa", method: http.MethodGet, path: "/v1/organizations/{org}/users/{user}/mfa", tag: tag,
		action: castellan.ActionGetUserMFA, errors: []int{http.StatusNotFound},
		summary: "Get a user's second factor",
		desc: "Whether the user has confirmed a TOTP factor, whether one is required of it (its mfaMandatory or the organization's " +
			"mfaRequired) and how many recovery codes it has left. A user may read its own; for another, the caller needs iam:GetUserMFA.",
	}, s.getUserMFA)

	register(s, op{
		id: "reset-user-mfa", method: http.MethodPost, path: "/v1/organizations/{org}/users/{user}/mfa:reset", tag: tag,
		action: castellan.ActionResetUserMFA, errors: []int{http.StatusNotFound},
		summary: "Reset a user's second factor",
		desc: "Removes the user's TOTP secret, any enrolment in progress and its recovery codes, for a lost device; a user that " +
			"must use a second factor enrols again at its next sign-in. As for updating a user, the caller must hold every role " +
			"the user holds (hierarchy principle), else grant.escalation. A user without a factor is left as it is.",
	}, s.resetUserMFA)
}

func (s *Server) getUserMFA(ctx context.Context, in *UserPath) (*mfaStatusOutput, error) {
	st, err := s.services.MFA.MFAStatus(ctx, in.Org, in.User)
	if err != nil {
		return nil, err
	}
	return &mfaStatusOutput{Body: st}, nil
}

func (s *Server) resetUserMFA(ctx context.Context, in *UserPath) (*revisionOutput, error) {
	rev, err := s.services.MFA.ResetMFA(ctx, in.Org, in.User)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

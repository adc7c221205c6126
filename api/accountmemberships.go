package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// MembershipAccountPath names one account of one organization, for the
// operations that move accounts into and out of organizations.
type MembershipAccountPath struct {
	Org     string `path:"org" doc:"Organization ID (a UUID)."`
	Account string `path:"account" doc:"Account ID (a UUID)."`
}

// AccountInvitationPath names one invitation an organization sent.
type AccountInvitationPath struct {
	Org        string `path:"org" doc:"Organization ID (a UUID)."`
	Invitation string `path:"invitation" doc:"Account invitation ID (a UUID)."`
}

// ReceivedInvitationPath names one invitation an account received.
type ReceivedInvitationPath struct {
	MembershipAccountPath
	Invitation string `path:"invitation" doc:"Account invitation ID (a UUID)."`
}

type accountInvitationOutput struct{ Body *castellan.AccountInvitation }

type accountInvitationsBody struct {
	Emails []string `json:"emails" minItems:"1" maxItems:"10" doc:"Root user emails of the accounts to invite, at most 10 distinct ones at once; stored lower-cased."`
}

type accountInvitationsOutput struct {
	Body struct {
		Invitations   []*castellan.AccountInvitation `json:"invitations" nullable:"false"`
		NextPageToken string                         `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerAccountMemberships() {
	const tag = "Organizations"
	const org = "/v1/organizations/{org}"
	register(s, op{
		id: "exclude-account", method: http.MethodPost, path: org + "/accounts/{account}:exclude", tag: tag,
		action: castellan.ActionExcludeAccount, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Exclude an account",
		desc: "Makes the account standalone: a new organization, named after the account (followed by the start of its ID when the name is taken), " +
			"holds it with its projects, their service accounts and access keys; this organization's grants, keys and custom control policies on it are removed. " +
			"Its root user is invited to the new organization as its Owner. Refused with the code of the first unmet precondition: " +
			"account.no_payment_method, account.credit_assigned, account.settlement_day (the 1st of the month, Asia/Seoul time), " +
			"account.management_account. Mails a notice to the organization's creating administrator, the root user and the delegates.",
	}, s.excludeAccount)
	register(s, op{
		id: "invite-accounts", method: http.MethodPost, path: org + "/account-invitations", tag: tag,
		action: castellan.ActionInviteAccount, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Invite existing accounts",
		desc: "Invites accounts of other organizations by their root user emails, each by mail. " +
			"An email with a pending invitation of this organization fails with account_invitation.pending.",
	}, s.inviteAccounts)
	register(s, op{
		id: "list-account-invitations", method: http.MethodGet, path: org + "/account-invitations", tag: tag,
		action: castellan.ActionListAccountInvitations, errors: []int{http.StatusNotFound},
		summary: "List account invitations", desc: "The organization's invitations, newest first.",
	}, s.listAccountInvitations)
	register(s, op{
		id: "cancel-account-invitation", method: http.MethodPost, path: org + "/account-invitations/{invitation}:cancel", tag: tag,
		action: castellan.ActionCancelAccountInvitation, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Cancel an account invitation", desc: "Cancels a pending invitation; account_invitation.not_pending otherwise.",
	}, s.cancelAccountInvitation)
	register(s, op{
		id: "list-received-account-invitations", method: http.MethodGet, path: org + "/accounts/{account}/received-invitations", tag: tag,
		action: castellan.ActionListReceivedAccountInvitations, errors: []int{http.StatusNotFound},
		summary: "List the invitations an account received",
		desc:    "Pending invitations of other organizations addressed to the account's root user email. Only the account's root user may list them.",
	}, s.listReceivedAccountInvitations)
	for _, answer := range []struct {
		verb, summary string
		accept        bool
	}{{"accept", "Accept an invitation", true}, {"decline", "Decline an invitation", false}} {
		register(s, op{
			id: answer.verb + "-account-invitation", method: http.MethodPost, path: org + "/accounts/{account}/received-invitations/{invitation}:" + answer.verb, tag: tag,
			action: castellan.ActionRespondToAccountInvitation, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
			summary: answer.summary,
			desc: "Only the account's root user may answer, and only a pending invitation (account_invitation.not_pending). " +
				"Accepting moves the account with its projects under the inviting organization's root; only a standalone account may " +
				"(account.not_standalone), within the inviter's account limit (account.limit_reached) and user limit (user.limit_reached).",
		}, func(ctx context.Context, in *ReceivedInvitationPath) (*accountInvitationOutput, error) {
			inv, err := s.services.AccountMemberships.RespondToAccountInvitation(ctx, in.Org, in.Account, in.Invitation, answer.accept)
			if err != nil {
				return nil, err
			}
			return &accountInvitationOutput{Body: inv}, nil
		})
	}
}

func (s *Server) excludeAccount(ctx context.Context, in *MembershipAccountPath) (*organizationOutput, error) {
	org, err := s.services.AccountMemberships.ExcludeAccount(ctx, in.Org, in.Account)
	if err != nil {
		return nil, err
	}
	return &organizationOutput{Body: org}, nil
}

func (s *Server) inviteAccounts(ctx context.Context, in *struct {
	OrgPath
	Body accountInvitationsBody
}) (*accountInvitationsOutput, error) {
	invitations, err := s.services.AccountMemberships.InviteAccounts(ctx, in.Org, in.Body.Emails)
	if err != nil {
		return nil, err
	}
	out := &accountInvitationsOutput{}
	out.Body.Invitations = invitations
	return out, nil
}

func (s *Server) listAccountInvitations(ctx context.Context, in *struct {
	OrgPath
	PageParams
	Status string `query:"status" enum:"pending,accepted,declined,cancelled" doc:"Only invitations in this state."`
}) (*accountInvitationsOutput, error) {
	filter := castellan.AccountInvitationFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Status != "" {
		status := castellan.AccountInvitationStatus(in.Status)
		filter.Status = &status
	}
	invitations, next, err := s.services.AccountMemberships.FindAccountInvitations(ctx, in.Org, filter)
	if err != nil {
		return nil, err
	}
	out := &accountInvitationsOutput{}
	out.Body.Invitations, out.Body.NextPageToken = nonNil(invitations), next
	return out, nil
}

func (s *Server) cancelAccountInvitation(ctx context.Context, in *AccountInvitationPath) (*accountInvitationOutput, error) {
	inv, err := s.services.AccountMemberships.CancelAccountInvitation(ctx, in.Org, in.Invitation)
	if err != nil {
		return nil, err
	}
	return &accountInvitationOutput{Body: inv}, nil
}

func (s *Server) listReceivedAccountInvitations(ctx context.Context, in *MembershipAccountPath) (*accountInvitationsOutput, error) {
	invitations, err := s.services.AccountMemberships.FindReceivedAccountInvitations(ctx, in.Org, in.Account)
	if err != nil {
		return nil, err
	}
	out := &accountInvitationsOutput{}
	out.Body.Invitations = nonNil(invitations)
	return out, nil
}

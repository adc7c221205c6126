package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// accountMemberships guards exclusion and invitations of accounts.
// Excluding is authorized on the account, the organization's own
// invitations on the organization. The invitations an account received
// are its root user's alone to see and answer (and the operator's): no
// role of the organization stands in for the person the invitation is
// addressed to, not even the Owner's.
type accountMemberships struct {
	g    *guard
	next castellan.AccountMembershipService
}

var _ castellan.AccountMembershipService = (*accountMemberships)(nil)

func (s *accountMemberships) ExcludeAccount(ctx context.Context, orgID, id string) (*castellan.Organization, error) {
	if err := s.g.allowNode(ctx, orgID, "accountId", id, castellan.ActionExcludeAccount); err != nil {
		return nil, err
	}
	return s.next.ExcludeAccount(ctx, orgID, id)
}

func (s *accountMemberships) InviteAccounts(ctx context.Context, orgID string, emails []string) ([]*castellan.AccountInvitation, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionInviteAccount); err != nil {
		return nil, err
	}
	// An accepted invitation hangs the account under the root.
	if err := s.g.holdsAccountAdmin(ctx, castellan.OrganizationScope(orgID), "emails"); err != nil {
		return nil, err
	}
	return s.next.InviteAccounts(ctx, orgID, emails)
}

func (s *accountMemberships) FindAccountInvitations(ctx context.Context, orgID string, filter castellan.AccountInvitationFilter) ([]*castellan.AccountInvitation, string, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListAccountInvitations); err != nil {
		return nil, "", err
	}
	return s.next.FindAccountInvitations(ctx, orgID, filter)
}

func (s *accountMemberships) CancelAccountInvitation(ctx context.Context, orgID, id string) (*castellan.AccountInvitation, error) {
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionCancelAccountInvitation); err != nil {
		return nil, err
	}
	if err := castellan.CheckID("invitationId", id); err != nil {
		return nil, err
	}
	return s.next.CancelAccountInvitation(ctx, orgID, id)
}

func (s *accountMemberships) FindReceivedAccountInvitations(ctx context.Context, orgID, accountID string) ([]*castellan.AccountInvitation, error) {
	if err := s.g.rootUserOf(ctx, orgID, accountID, castellan.ActionListReceivedAccountInvitations); err != nil {
		return nil, err
	}
	return s.next.FindReceivedAccountInvitations(ctx, orgID, accountID)
}

func (s *accountMemberships) RespondToAccountInvitation(ctx context.Context, orgID, accountID, invitationID string, accept bool) (*castellan.AccountInvitation, error) {
	if err := s.g.rootUserOf(ctx, orgID, accountID, castellan.ActionRespondToAccountInvitation); err != nil {
		return nil, err
	}
	if err := castellan.CheckID("invitationId", invitationID); err != nil {
		return nil, err
	}
	return s.next.RespondToAccountInvitation(ctx, orgID, accountID, invitationID, accept)
}

// rootUserOf lets the operator and the root user of the account act on
// what is addressed to the account (the self rule, self.go): a token of
// the root user's access key is bound to one project and may not.
func (g *guard) rootUserOf(ctx context.Context, orgID, accountID string, action castellan.Action) error {
	p, err := member(ctx, orgID)
	if err != nil {
		return err
	}
	if err := castellan.CheckID("accountId", accountID); err != nil || p.Type == castellan.PrincipalOperator {
		return err
	}
	a, err := g.raw.Accounts.FindAccountByID(ctx, orgID, accountID)
	if err != nil {
		return err
	}
	if !isSelf(ctx, orgID, a.RootUserID) || p.ProjectID != "" {
		return denied(action, castellan.NodeScope(castellan.NodeAccount, accountID).String())
	}
	return nil
}

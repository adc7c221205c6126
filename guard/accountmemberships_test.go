package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// excludableAccount creates an account whose attributes meet every
// precondition of exclusion.
func (f *fixture) excludableAccount() string {
	a := f.newAccount()
	if _, err := f.raw.Accounts.SetAccountAttributes(system, f.org, a.ID, castellan.AccountAttributes{PaymentMethodRegistered: true}); err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}

// newAccountInvitation invites a new email to Acme through the raw store.
func (f *fixture) newAccountInvitation() string {
	inv, err := f.raw.AccountMemberships.InviteAccounts(system, f.org, []string{f.unique("invited") + "@example.com"})
	if err != nil {
		f.t.Fatal(err)
	}
	return inv[0].ID
}

// receivedInvitation has a new organization invite the root user email
// of the account and returns the invitation.
func (f *fixture) receivedInvitation(accountID string) string {
	a, err := f.raw.Accounts.FindAccountByID(system, f.org, accountID)
	if err != nil {
		f.t.Fatal(err)
	}
	org, err := f.raw.Organizations.CreateOrganization(system, castellan.OrganizationCreate{Name: f.unique("inviter")})
	if err != nil {
		f.t.Fatal(err)
	}
	inv, err := f.raw.AccountMemberships.InviteAccounts(system, org.ID, []string{a.Email})
	if err != nil {
		f.t.Fatal(err)
	}
	return inv[0].ID
}

func init() {
	rowSets = append(rowSets, []row{
		{op: "AccountMemberships.ExcludeAccount", allowed: []string{owner, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.AccountMemberships.ExcludeAccount(ctx, f.org, f.excludableAccount())
			return err
		}},
		{op: "AccountMemberships.InviteAccounts", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.AccountMemberships.InviteAccounts(ctx, f.org, []string{f.unique("invited") + "@example.com"})
			return err
		}},
		{op: "AccountMemberships.FindAccountInvitations", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.AccountMemberships.FindAccountInvitations(ctx, f.org, castellan.AccountInvitationFilter{})
			return err
		}},
		{op: "AccountMemberships.CancelAccountInvitation", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.AccountMemberships.CancelAccountInvitation(ctx, f.org, f.newAccountInvitation())
			return err
		}},
		// What an account received is its root user's; the matrix holds
		// no root user, so only the operator passes (see
		// TestReceivedInvitationsRootUserOnly).
		{op: "AccountMemberships.FindReceivedAccountInvitations", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.AccountMemberships.FindReceivedAccountInvitations(ctx, f.org, f.sharedAccount())
			return err
		}},
		{op: "AccountMemberships.RespondToAccountInvitation", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			id := f.sharedAccount()
			_, err := s.AccountMemberships.RespondToAccountInvitation(ctx, f.org, id, f.receivedInvitation(id), false)
			return err
		}},
	})
}

// TestReceivedInvitationsRootUserOnly: the account's root user sees and
// answers what its account received; the Owner, another account's root
// user and the root user's own access-key token do not.
func TestReceivedInvitationsRootUserOnly(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			a, other := f.newAccount(), f.newAccount()
			inv := f.receivedInvitation(a.ID)
			root := castellan.Principal{Type: castellan.PrincipalUser, ID: a.RootUserID, OrganizationID: f.org}
			keyToken := root
			keyToken.ProjectID = f.project
			for name, p := range map[string]castellan.Principal{
				"owner":                     principals[owner],
				"another account's root":    {Type: castellan.PrincipalUser, ID: other.RootUserID, OrganizationID: f.org},
				"the root user's key token": keyToken,
			} {
				ctx := castellan.WithPrincipal(system, p)
				if _, err := s.AccountMemberships.FindReceivedAccountInvitations(ctx, f.org, a.ID); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
					t.Errorf("%s listed: %v", name, err)
				}
				if _, err := s.AccountMemberships.RespondToAccountInvitation(ctx, f.org, a.ID, inv, false); castellan.ErrorKind(err) != castellan.EFORBIDDEN {
					t.Errorf("%s answered: %v", name, err)
				}
			}
			ctx := castellan.WithPrincipal(system, root)
			received, err := s.AccountMemberships.FindReceivedAccountInvitations(ctx, f.org, a.ID)
			if err != nil || len(received) != 1 || received[0].ID != inv {
				t.Fatalf("root user's received invitations %+v, %v", received, err)
			}
			got, err := s.AccountMemberships.RespondToAccountInvitation(ctx, f.org, a.ID, inv, false)
			if err != nil || got.Status != castellan.InvitationDeclined {
				t.Fatalf("root user's answer %+v, %v", got, err)
			}
		})
	}
}

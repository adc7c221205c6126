package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
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

// standaloneAccount makes a new account of Acme standalone (excluded
// into an organization of its own, whose root user accepted the mailed
// invitation) and returns its organization and the account.
func (f *fixture) standaloneAccount() (string, *castellan.Account) {
	a := f.newAccount()
	org := storetest.MakeStandalone(f.t, f.raw, f.org, a.ID)
	a, err := f.raw.Accounts.FindAccountByID(system, org.ID, a.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return org.ID, a
}

// receivedInvitation has a new organization invite the root user email
// of the account of orgID and returns the invitation.
func (f *fixture) receivedInvitation(orgID, accountID string) string {
	a, err := f.raw.Accounts.FindAccountByID(system, orgID, accountID)
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
		// What a standalone account received is its root user's; the
		// matrix holds no root user, so only the operator passes (see
		// TestReceivedInvitationsRootUserOnly).
		{op: "AccountMemberships.FindReceivedAccountInvitations", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			org, a := f.standaloneAccount()
			_, err := s.AccountMemberships.FindReceivedAccountInvitations(ctx, org, a.ID)
			return err
		}},
		{op: "AccountMemberships.RespondToAccountInvitation", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			org, a := f.standaloneAccount()
			_, err := s.AccountMemberships.RespondToAccountInvitation(ctx, org, a.ID, f.receivedInvitation(org, a.ID), false)
			return err
		}},
	})
}

// TestReceivedInvitationsRootUserOnly: the standalone account's root
// user sees and answers what its account received; the Owner of the
// organization it left, another Owner of its own organization and the
// root user's own access-key token do not.
func TestReceivedInvitationsRootUserOnly(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			org, a := f.standaloneAccount()
			inv := f.receivedInvitation(org, a.ID)
			coOwner, err := f.raw.Users.CreateUser(system, org, castellan.UserCreate{Email: f.unique("co") + "@acme.example"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.raw.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: castellan.OrganizationOwnerRoleID,
				Scope: "organization/" + org, Subject: userSubject(coOwner.ID)}}); err != nil {
				t.Fatal(err)
			}
			root := castellan.Principal{Type: castellan.PrincipalUser, ID: a.RootUserID, OrganizationID: org}
			keyToken := root
			keyToken.ProjectID = f.project
			for name, p := range map[string]castellan.Principal{
				"the Owner of the organization it left": principals[owner],
				"another Owner of its organization":     {Type: castellan.PrincipalUser, ID: coOwner.ID, OrganizationID: org},
				"the root user's key token":             keyToken,
			} {
				ctx := castellan.WithPrincipal(system, p)
				if _, err := s.AccountMemberships.FindReceivedAccountInvitations(ctx, org, a.ID); castellan.ErrorKind(err) != castellan.EFORBIDDEN && castellan.ErrorKind(err) != castellan.ENOTFOUND {
					t.Errorf("%s listed: %v", name, err)
				}
				if _, err := s.AccountMemberships.RespondToAccountInvitation(ctx, org, a.ID, inv, false); castellan.ErrorKind(err) != castellan.EFORBIDDEN && castellan.ErrorKind(err) != castellan.ENOTFOUND {
					t.Errorf("%s answered: %v", name, err)
				}
			}
			ctx := castellan.WithPrincipal(system, root)
			received, err := s.AccountMemberships.FindReceivedAccountInvitations(ctx, org, a.ID)
			if err != nil || len(received) != 1 || received[0].ID != inv {
				t.Fatalf("root user's received invitations %+v, %v", received, err)
			}
			got, err := s.AccountMemberships.RespondToAccountInvitation(ctx, org, a.ID, inv, false)
			if err != nil || got.Status != castellan.InvitationDeclined {
				t.Fatalf("root user's answer %+v, %v", got, err)
			}
		})
	}
}

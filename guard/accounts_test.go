package guard_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// newAccount creates an account under the root through the raw store.
func (f *fixture) newAccount() *castellan.Account {
	email := f.unique("root") + "@acme.example"
	a, err := f.raw.Accounts.CreateAccount(system, f.org, castellan.AccountCreate{
		ParentID: f.org, Name: f.unique("acct"), Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// sharedAccount returns the fixture's account for the rows that only
// read, creating it on the first call, so that rows leave few accounts
// behind under the organization's limit.
func (f *fixture) sharedAccount() string {
	if f.account == "" {
		f.account = f.newAccount().ID
	}
	return f.account
}

func init() {
	rowSets = append(rowSets, []row{
		{op: "Accounts.FindAccountByID", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Accounts.FindAccountByID(ctx, f.org, f.sharedAccount())
			return err
		}},
		{op: "Accounts.FindAccounts", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Accounts.FindAccounts(ctx, f.org, castellan.AccountFilter{})
			return err
		}},
		{op: "Accounts.FindAccounts", variant: "children of a node", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Accounts.FindAccounts(ctx, f.org, castellan.AccountFilter{ParentID: &f.org})
			return err
		}},
		{op: "Accounts.CreateAccount", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			email := f.unique("root") + "@acme.example"
			_, err := s.Accounts.CreateAccount(ctx, f.org, castellan.AccountCreate{
				ParentID: f.org, Name: f.unique("acct"), Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
			return err
		}},
		{op: "Accounts.UpdateAccount", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			name := f.unique("renamed")
			_, err := s.Accounts.UpdateAccount(ctx, f.org, f.sharedAccount(), castellan.AccountUpdate{Name: &name})
			return err
		}},
		{op: "Accounts.MoveAccount", allowed: orgManagers, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Accounts.MoveAccount(ctx, f.org, f.sharedAccount(), f.org)
			return err
		}},
		{op: "Accounts.DeleteAccount", allowed: []string{owner, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			a := f.newAccount()
			_, err := s.Accounts.DeleteAccount(ctx, f.org, a.ID, castellan.AccountDeletion{Password: ownerPassword, Name: a.Name})
			return err
		}},
		{op: "Accounts.FindAccountPreconditions", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Accounts.FindAccountPreconditions(ctx, f.org, f.sharedAccount())
			return err
		}},
		{op: "Accounts.FindAccountAttributes", allowed: orgReaders, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Accounts.FindAccountAttributes(ctx, f.org, f.sharedAccount())
			return err
		}},
		{op: "Accounts.SetAccountAttributes", allowed: []string{operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Accounts.SetAccountAttributes(ctx, f.org, f.sharedAccount(), castellan.AccountAttributes{PaymentMethodRegistered: true})
			return err
		}},
	})
}

// TestAccountAdminScope: a grant on an account reaches that account and
// no other, and account.admin (the root user's) reads the account but
// neither renames, moves nor deletes it.
func TestAccountAdminScope(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, _ := newFixture(t, b.URL(t))
			mine, other := f.newAccount(), f.newAccount()
			ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: mine.RootUserID, OrganizationID: f.org})
			if _, err := s.Accounts.FindAccountByID(ctx, f.org, mine.ID); err != nil {
				t.Fatalf("reading its own account: %v", err)
			}
			if _, err := s.Accounts.FindAccountPreconditions(ctx, f.org, mine.ID); err != nil {
				t.Fatalf("reading its own account's preconditions: %v", err)
			}
			name := f.unique("renamed")
			for what, err := range map[string]error{
				"read another account": second(s.Accounts.FindAccountByID(ctx, f.org, other.ID)),
				"list the root":        third(s.Accounts.FindAccounts(ctx, f.org, castellan.AccountFilter{})),
				"rename":               second(s.Accounts.UpdateAccount(ctx, f.org, mine.ID, castellan.AccountUpdate{Name: &name})),
				"move":                 second(s.Accounts.MoveAccount(ctx, f.org, mine.ID, f.org)),
				"delete":               second(s.Accounts.DeleteAccount(ctx, f.org, mine.ID, castellan.AccountDeletion{Name: mine.Name})),
			} {
				if castellan.ErrorCode(err) != castellan.CodePermissionDenied {
					t.Errorf("%s: got %v, want %s", what, err, castellan.CodePermissionDenied)
				}
			}
			// A node that is no account is no account to the guard.
			if _, err := s.Accounts.FindAccountByID(castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"}), f.org, f.project); castellan.ErrorCode(err) != castellan.CodeAccountNotFound {
				t.Errorf("a project as an account: got %v, want %s", err, castellan.CodeAccountNotFound)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }

// TestCreateAccountHierarchy: making an account gives its root user
// account.admin on it, so a caller who may create accounts under an OU
// but lacks that role's actions there is refused (the hierarchy
// principle), and so is one who may invite accounts but lacks them on
// the root; the Admin, who holds them, is not.
func TestCreateAccountHierarchy(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			ou := f.ouIn(f.org, f.org)
			role, err := f.raw.Roles.CreateRole(system, f.org, castellan.RoleCreate{Name: f.unique("account-maker"), Kind: castellan.RoleServiceKind,
				Actions: []string{"organizations:CreateAccount", "organizations:InviteAccount", "organizations:GetNode"}})
			if err != nil {
				t.Fatal(err)
			}
			maker := f.newUser()
			f.grant(role.ID, "ou/"+ou, userSubject(maker))
			f.grant(role.ID, "organization/"+f.org, userSubject(maker))
			ctx := castellan.WithPrincipal(system, castellan.Principal{Type: castellan.PrincipalUser, ID: maker, OrganizationID: f.org})
			create := func(ctx context.Context) error {
				name := f.unique("acct")
				email := name + "@accounts.example"
				_, err := s.Accounts.CreateAccount(ctx, f.org, castellan.AccountCreate{ParentID: ou, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"})
				return err
			}
			before, _, err := f.raw.Accounts.FindAccounts(system, f.org, castellan.AccountFilter{})
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, "create without account.admin's actions", create(ctx), castellan.CodeEscalation)
			_, err = s.AccountMemberships.InviteAccounts(ctx, f.org, []string{"root@elsewhere.example"})
			wantCode(t, "invite without account.admin's actions", err, castellan.CodeEscalation)
			after, _, err := f.raw.Accounts.FindAccounts(system, f.org, castellan.AccountFilter{})
			if err != nil {
				t.Fatal(err)
			}
			invited, _, err := f.raw.AccountMemberships.FindAccountInvitations(system, f.org, castellan.AccountInvitationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) || len(invited) != 0 {
				t.Fatalf("refusals changed something: %d accounts before, %d after, %d invitations", len(before), len(after), len(invited))
			}
			if err := create(castellan.WithPrincipal(system, principals[admin])); err != nil {
				t.Fatalf("the Admin creates an account: %v", err)
			}
		})
	}
}

package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
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

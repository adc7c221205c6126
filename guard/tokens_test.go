package guard_test

import (
	"context"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// newMail puts a mail in the outbox (an invitation) and returns its ID.
func (f *fixture) newMail() string {
	u := f.newInvitee()
	mails, _, err := f.raw.Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &f.org, To: &u.Email})
	if err != nil || len(mails) == 0 {
		f.t.Fatalf("no mail to %s: %v", u.Email, err)
	}
	return mails[0].ID
}

func init() {
	operatorOnly := []string{operator}
	userToken := func(f *fixture) string {
		token, err := f.raw.Tokens.CreateUserToken(system, f.org, f.newUser())
		if err != nil {
			f.t.Fatal(err)
		}
		return token
	}
	rowSets = append(rowSets, []row{
		{op: "Tokens.BootstrapOrganization", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: f.unique("Boot"), OwnerEmail: f.unique("o") + "@boot.example"})
			return err
		}},
		{op: "Tokens.CreateOperatorToken", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Tokens.CreateOperatorToken(ctx)
			return err
		}},
		// No edge issues a token without the user's own secret.
		{op: "Tokens.CreateUserToken", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Tokens.CreateUserToken(ctx, f.org, f.newUser())
			return err
		}},
		{op: "Tokens.Authenticate", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Tokens.Authenticate(ctx, userToken(f))
			return err
		}},
		{op: "Tokens.FindCredential", public: true, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Tokens.FindCredential(ctx, userToken(f))
			return err
		}},
		// The mails carry invitation and reset links: the owner reads its
		// organization's, not the admin (who may not manage owners); only
		// the operator reads every organization's. The sender works on the
		// raw store.
		{op: "Outbox.FindMail", allowed: []string{owner, operator}, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Outbox.FindMail(ctx, castellan.MailFilter{OrganizationID: &f.org})
			return err
		}},
		{op: "Outbox.FindMail", variant: "every organization's", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, _, err := s.Outbox.FindMail(ctx, castellan.MailFilter{})
			return err
		}},
		{op: "Outbox.ClaimDueMail", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			_, err := s.Outbox.ClaimDueMail(ctx, 1, time.Minute)
			return err
		}},
		{op: "Outbox.MarkMailSent", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			return s.Outbox.MarkMailSent(ctx, f.newMail())
		}},
		{op: "Outbox.MarkMailFailed", allowed: operatorOnly, call: func(ctx context.Context, f *fixture, s castellan.Services) error {
			return s.Outbox.MarkMailFailed(ctx, f.newMail(), "test", nil)
		}},
	})
}

// TestIntrospectOtherOrganization: a token of another organization is
// inactive to its caller, with nothing else said; the operator sees it.
func TestIntrospectOtherOrganization(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f, s, principals := newFixture(t, b.URL(t))
			k := f.newKey(f.newServiceAccount())
			token, err := f.raw.AccessKeys.ExchangeAccessKey(system, k.ID, k.Secret)
			if err != nil {
				t.Fatal(err)
			}
			for principal, active := range map[string]bool{otherOwner: false, owner: true, operator: true} {
				info, err := s.AccessKeys.IntrospectToken(castellan.WithPrincipal(system, principals[principal]), token.Token)
				if err != nil {
					t.Fatal(err)
				}
				if info.Active != active || !active && *info != (castellan.TokenIntrospection{}) {
					t.Errorf("%s: got %+v, want active %v", principal, info, active)
				}
			}
		})
	}
}

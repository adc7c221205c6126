package mail_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/mail"
)

// TestExclusionNoticesDelivered excludes an account through the store
// and delivers the outbox to a real SMTP server: the notice reaches
// Acme's Owner (the operator created Acme), the account's root user and
// its delegate, each address once, and the root user also gets the
// invitation to its new organization.
func TestExclusionNoticesDelivered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		ctx := castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})
		services := s.db.Services()
		acme, err := services.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		org := acme.OrganizationID
		a, err := services.Accounts.CreateAccount(ctx, org, castellan.AccountCreate{ParentID: org, Name: "sales",
			Email: "root@sales.example", EmailConfirmation: "root@sales.example", IAMRoleName: "OrgAdmin"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = services.Accounts.SetAccountAttributes(ctx, org, a.ID, castellan.AccountAttributes{PaymentMethodRegistered: true,
			Delegates: []string{"delegate@sales.example", "Owner@Acme.example"}})
		if err != nil {
			t.Fatal(err)
		}
		srv := startSMTP(t, smtpOptions{})
		sender := s.sender(t, s.db.Outbox(), smtpTransport(t, srv), mail.Options{From: "Acme IAM <iam@acme.example>"})
		drain := func() {
			for {
				n, err := sender.RunOnce(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return
				}
			}
		}
		drain() // what the setup sent
		before := len(srv.messages())

		standalone, err := services.AccountMemberships.ExcludeAccount(ctx, org, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		drain()
		var notices, invitations []string
		for _, r := range srv.messages()[before:] {
			m := parse(t, r.data)
			switch {
			case strings.HasPrefix(m.subject, "The account sales left Acme"):
				notices = append(notices, r.to...)
				if !strings.Contains(m.text, "its own organization, "+standalone.Name) || !strings.Contains(m.text, a.ID) {
					t.Errorf("notice text lacks the new organization or the account:\n%s", m.text)
				}
			default:
				invitations = append(invitations, r.to...)
			}
		}
		slices.Sort(notices)
		if want := []string{"delegate@sales.example", "owner@acme.example", "root@sales.example"}; !slices.Equal(notices, want) {
			t.Fatalf("notices delivered to %v, want %v", notices, want)
		}
		if !slices.Equal(invitations, []string{"root@sales.example"}) {
			t.Fatalf("other mails delivered to %v, want the root user's invitation", invitations)
		}
	})
}

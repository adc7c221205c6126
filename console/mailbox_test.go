package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/mail"
)

// TestConsoleDevMailbox: on a server without SMTP, an owner reads its
// organization's mails with their links; an admin is refused (the links
// would give it an owner's account); another organization's mails never
// show; a server with SMTP has no such page.
func TestConsoleDevMailbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		templates, err := mail.NewTemplates("https://castellan.test")
		if err != nil {
			t.Fatal(err)
		}
		withoutMailbox := e.srv
		e.srv = e.serveWith(t, func(o *apitest.Options) { o.DevMailbox = templates })

		owner := e.ConsoleUser(t, org, "own", nil)
		e.grantOrg(t, owner, "organization.owner")
		e.ConsoleUser(t, org, "zoe", func(r *castellan.UserRegistration) {
			r.Mode, r.Password, r.Email = castellan.ModeInvitation, "", "zoe@acme.example"
		})
		e.ConsoleUser(t, e.Globex.OrganizationID, "gil", func(r *castellan.UserRegistration) {
			r.Mode, r.Password, r.Email = castellan.ModeInvitation, "", "gil@globex.example"
		})

		b := e.signedIn(t, owner)
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, `<a href="/console/mailbox">Dev mailbox</a>`)
		p := b.Get("/console/mailbox")
		apitest.WantPage(t, p, http.StatusOK, "Dev mailbox")
		for _, want := range []string{
			`<a href="/console/mailbox" aria-current="page">Dev mailbox</a>`,
			"To <strong>zoe@acme.example</strong>",
			"You are invited to Acme on Castellan",
			`<a href="https://castellan.test/invitations/accept?token=csti_`,
			// The footer's link ends before the sentence's ")."
			`(<a href="https://castellan.test">https://castellan.test</a>).`,
		} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("mailbox lacks %q:\n%s", want, p.Body)
			}
		}
		if strings.Contains(p.Body, "gil@globex.example") {
			t.Error("Acme's mailbox shows Globex's mail")
		}
		p = b.Get("/console/mailbox?to=nobody%40acme.example")
		apitest.WantPage(t, p, http.StatusOK, "No mails to nobody@acme.example.")
		if strings.Contains(p.Body, "zoe@acme.example</strong>") {
			t.Error("the recipient filter kept zoe's mail")
		}

		// An admin may manage users but not owners: the mails' links
		// would give it their accounts.
		_, admin := e.acmeAdmin(t, "adm")
		p = admin.Get("/console/mailbox")
		apitest.WantPage(t, p, http.StatusForbidden, "")
		if strings.Contains(p.Body, "csti_") {
			t.Error("the refusal shows a link")
		}
		if p := admin.Get("/console"); strings.Contains(p.Body, `href="/console/mailbox"`) {
			t.Error("the admin's navigation links to a mailbox it may not read")
		}

		// Without the dev mailbox (a server with SMTP) there is no page
		// and no link to it.
		e.srv = withoutMailbox
		b = e.signedIn(t, owner)
		apitest.WantPage(t, b.Get("/console/mailbox"), http.StatusNotFound, "")
		if p := b.Get("/console"); strings.Contains(p.Body, "/console/mailbox") {
			t.Error("the navigation links to a mailbox the server does not have")
		}
	})
}

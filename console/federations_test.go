package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestConsoleFederations: an owner adds a federation (a bad issuer is
// refused next to its field and adds nothing), adds federated users by
// emails separated by commas and spaces (each mailed the federation ID;
// a bad one named and nothing added), cannot delete the federation while
// it has users, makes a SCIM token whose secret shows once, and deletes
// it. Another organization's admin reaches none of it; a reader may not
// add one.
func TestConsoleFederations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		// An owner: allowed domains decide who is sent to the provider.
		owner := e.ConsoleUser(t, org, "boss", nil)
		e.grantOrg(t, owner, "organization.owner")
		b := e.signedIn(t, owner)
		apitest.WantPage(t, b.Get("/console/federations"), http.StatusOK, "The organization has no federations yet.")
		apitest.WantPage(t, b.Get("/console/federations/new"), http.StatusOK, "/console/sso/callback")

		before := e.Snapshot(t)
		form := url.Values{"name": {"Entra"}, "issuer": {"http://login.example.com"}, "clientId": {"castellan"}, "scopes": {"email profile"},
			"allowedDomains": {"acme.example, corp.acme.example"}, "mfaByIdp": {"on"}}
		apitest.WantPage(t, b.Post("/console/federations/new", form), http.StatusBadRequest, `id="issuer-error"`)
		if !e.Snapshot(t).Equal(before) {
			t.Fatal("a refused federation changed the store")
		}
		form.Set("issuer", "https://login.example.com")
		p := b.Post("/console/federations/new", form)
		if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location, "?created=1") {
			t.Fatalf("create: %d %s\n%s", p.Status, p.Location, p.Body)
		}
		page := strings.TrimSuffix(p.Location, "?created=1")
		id := strings.TrimPrefix(page, "/console/federations/")
		f, err := s.Federations.FindFederationByID(system, org, id)
		if err != nil || strings.Join(f.AllowedDomains, " ") != "acme.example corp.acme.example" || !f.MFAByIdP || f.AutoProvision {
			t.Fatalf("got %+v, %v", f, err)
		}
		apitest.WantPage(t, b.Get(page), http.StatusOK, "<code>"+id+"</code>")

		// Settings: the owner changes the provider and turns on
		// provisioning; an admin may rename, not repoint it.
		settings := url.Values{"name": {"Entra"}, "issuer": {"https://login2.example.com"}, "clientId": {"castellan"}, "scopes": {"email profile"},
			"allowedDomains": {"acme.example corp.acme.example"}, "mfaByIdp": {"on"}, "autoProvision": {"on"}}
		apitest.WantRedirect(t, b.Post(page+"/settings", settings), page+"?saved=1")
		if f, err = s.Federations.FindFederationByID(system, org, id); err != nil || f.Issuer != "https://login2.example.com" || !f.AutoProvision || !f.MFAByIdP {
			t.Fatalf("after settings: %+v, %v", f, err)
		}
		before = e.Snapshot(t)
		settings.Set("allowedDomains", "")
		apitest.WantPage(t, b.Post(page+"/settings", settings), http.StatusBadRequest, `id="allowedDomains-error"`)
		if !e.Snapshot(t).Equal(before) {
			t.Fatal("refused settings changed the store")
		}
		_, ab := e.acmeAdmin(t, "admin")
		apitest.WantPage(t, ab.Get(page), http.StatusOK, "Save settings")
		settings.Set("allowedDomains", "acme.example corp.acme.example")
		settings.Set("name", "Entra ID")
		settings.Del("csrf") // the owner's, which Post put there
		apitest.WantRedirect(t, ab.Post(page+"/settings", settings), page+"?saved=1")
		settings.Set("issuer", "https://admins-own-idp.example.com")
		apitest.WantPage(t, ab.Post(page+"/settings", settings), http.StatusForbidden, "only what you hold yourself")
		if f, _ = s.Federations.FindFederationByID(system, org, id); f.Name != "Entra ID" || f.Issuer != "https://login2.example.com" {
			t.Fatalf("an admin's settings: %+v", f)
		}

		// A bad email is named, and nobody is added.
		before = e.Snapshot(t)
		p = b.Post(page+"/users", url.Values{"emails": {"ann@acme.example, bob@evil.example"}})
		apitest.WantPage(t, p, http.StatusBadRequest, "bob@evil.example")
		if !e.Snapshot(t).Equal(before) {
			t.Fatal("a refused batch changed the store")
		}
		apitest.WantRedirect(t, b.Post(page+"/users", url.Values{"emails": {"ann@acme.example, bob@acme.example\ncy@corp.acme.example"}}), page+"?added=1")
		for _, email := range []string{"ann@acme.example", "bob@acme.example", "cy@corp.acme.example"} {
			mails, _, err := s.Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &org, To: &email})
			if err != nil || len(mails) != 1 || mails[0].Template != castellan.MailFederatedWelcome || mails[0].Data["federationId"] != id {
				t.Fatalf("%s: got mails %+v, %v", email, mails, err)
			}
		}
		apitest.WantPage(t, b.Post(page+"/delete", url.Values{"confirm": {"on"}}), http.StatusPreconditionFailed, "still has 3 users")

		// A SCIM token: its secret once, then only its name.
		p = b.Post("/console/scim-tokens", url.Values{"name": {"Entra provisioning"}, "federationId": {id}, "validDays": {"90"}})
		secret := regexp.MustCompile(`cscim_[A-Za-z0-9_-]{43}`).FindString(p.Body)
		if p.Status != http.StatusCreated || secret == "" {
			t.Fatalf("token: %d\n%s", p.Status, p.Body)
		}
		tokens, err := s.SCIMTokens.FindSCIMTokens(system, org)
		if err != nil || len(tokens) != 1 || tokens[0].FederationID != id {
			t.Fatalf("got tokens %+v, %v", tokens, err)
		}
		p = b.Get("/console/federations")
		if strings.Contains(p.Body, secret) || !strings.Contains(p.Body, "Entra provisioning") {
			t.Fatalf("the list shows the secret or lacks the token:\n%s", p.Body)
		}

		// Another organization's admin: not found, nothing deleted.
		gadmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, gadmin, "organization.admin")
		g := e.signedIn(t, gadmin)
		apitest.WantPage(t, g.Get(page), http.StatusNotFound, "")
		if strings.Contains(g.Get("/console/federations").Body, id) {
			t.Fatal("Globex's admin lists Acme's federation")
		}
		apitest.WantPage(t, g.Post("/console/scim-tokens/delete", url.Values{"token": {tokens[0].ID}, "confirm": {"on"}}), http.StatusNotFound, "")
		apitest.WantPage(t, g.Post(page+"/users", url.Values{"emails": {"spy@acme.example"}}), http.StatusNotFound, "")

		// An admin may not route the organization's emails to a
		// provider: allowed domains are an owner's.
		apitest.WantPage(t, ab.Post("/console/federations/new", url.Values{"name": {"Mine"}, "issuer": {"https://idp.example.com"}, "clientId": {"c"},
			"allowedDomains": {"acme.example"}}), http.StatusForbidden, "")

		// A reader sees, and may not add.
		reader := e.ConsoleUser(t, org, "reader", nil)
		e.grantOrg(t, reader, "organization.reader")
		rb := e.signedIn(t, reader)
		apitest.WantPage(t, rb.Get("/console/federations"), http.StatusOK, "Entra")
		apitest.WantPage(t, rb.Post("/console/federations/new", url.Values{"name": {"Mine"}, "issuer": {"https://idp.example.com"}, "clientId": {"c"}}),
			http.StatusForbidden, "")

		apitest.WantRedirect(t, b.Post("/console/scim-tokens/delete", url.Values{"token": {tokens[0].ID}, "confirm": {"on"}}), "/console/federations?revoked=1")
		if tokens, _ := s.SCIMTokens.FindSCIMTokens(system, org); len(tokens) != 0 {
			t.Fatalf("the token is still there: %+v", tokens)
		}
	})
}

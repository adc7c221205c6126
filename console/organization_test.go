package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestConsoleOrganization: OUs and accounts are created under a picked
// parent with their rules next to the fields; an account's deletion
// shows its unmet preconditions as a checklist, its button disabled, and
// a deletion sent anyway is refused by the service and changes nothing;
// a control policy with a syntax error comes back with the error on its
// line, a valid one is created and attached; another organization's
// admin finds none of it.
func TestConsoleOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		b := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b.SignIn("Acme", "owner@acme.example", apitest.OwnerPassword), "/console")
		apitest.WantPage(t, b.Get("/console/organization"), http.StatusOK, "Root")

		// An OU: a missing name is refused next to the field.
		b.Get("/console/ous/new")
		before := e.Snapshot(t)
		p := b.Post("/console/ous/new", url.Values{"parentId": {org}, "name": {""}, "description": {"West"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="name-error"`) || !strings.Contains(p.Body, ">West</textarea>") {
			t.Fatalf("OU without a name: got %d:\n%s", p.Status, p.Body)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("a refused OU changed the store")
		}
		p = b.Post("/console/ous/new", url.Values{"parentId": {org}, "name": {"Sales"}, "policyIds": {castellan.FullAccessPolicyID}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/nodes/") {
			t.Fatalf("create OU: got %d to %q:\n%s", p.Status, p.Location, p.Body)
		}
		ouPage := strings.TrimSuffix(p.Location, "?created=1")
		ou := strings.TrimPrefix(ouPage, "/console/nodes/")
		if p := b.Get(p.Location); !strings.Contains(p.Body, "FullAccess") || !strings.Contains(p.Body, "Direct") {
			t.Errorf("the new OU's page lacks its FullAccess policy:\n%s", p.Body)
		}

		// An account under it.
		b.Get("/console/accounts/new?parentId=" + ou)
		p = b.Post("/console/accounts/new", url.Values{"parentId": {ou}, "name": {"x"}, "email": {"root@shop.example"}, "emailConfirmation": {"other@shop.example"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="name-error"`) || !strings.Contains(p.Body, `id="emailConfirmation-error"`) {
			t.Fatalf("bad account: got %d:\n%s", p.Status, p.Body)
		}
		p = b.Post("/console/accounts/new", url.Values{"parentId": {ou}, "name": {"Shop"}, "email": {"root@shop.example"}, "emailConfirmation": {"root@shop.example"}, "iamRoleName": {"OrgAdmin"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("create account: got %d:\n%s", p.Status, p.Body)
		}
		accountPage := strings.TrimSuffix(p.Location, "?created=1")
		account := strings.TrimPrefix(accountPage, "/console/nodes/")
		if p := b.Get("/console/organization"); !strings.Contains(p.Body, `class="depth-2"`) || !strings.Contains(p.Body, ">Shop</a>") {
			t.Errorf("the hierarchy lacks the account two levels down:\n%s", p.Body)
		}
		if p := b.Get("/console/accounts"); !strings.Contains(p.Body, ">Shop</a>") || !strings.Contains(p.Body, "root@shop.example") || !strings.Contains(p.Body, " › Sales</td>") {
			t.Errorf("the account list lacks the account with its place:\n%s", p.Body)
		}

		// Its deletion, with resources in use: the checklist says so, the
		// button is disabled, and a deletion sent anyway is refused.
		if _, err := s.Accounts.SetAccountAttributes(system, org, account, castellan.AccountAttributes{ResourcesInUse: 3, CloudControl: castellan.CloudControlNone}); err != nil {
			t.Fatal(err)
		}
		p = b.Get(accountPage)
		if !strings.Contains(p.Body, `<li class="unmet"><span aria-hidden="true">✘</span> The account has no resources in use.`) ||
			!strings.Contains(p.Body, `class="danger" disabled>Delete account`) {
			t.Fatalf("account page lacks the unmet deletion precondition:\n%s", p.Body)
		}
		before = e.Snapshot(t)
		p = b.Post(accountPage+"/delete-account", url.Values{"confirm": {"Shop"}, "password": {apitest.OwnerPassword}})
		if p.Status != http.StatusPreconditionFailed || !strings.Contains(p.Body, "resources in use") {
			t.Errorf("deletion with resources in use: got %d:\n%s", p.Status, p.Body)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("a refused deletion changed the store")
		}
		if _, err := s.Accounts.SetAccountAttributes(system, org, account, castellan.AccountAttributes{CloudControl: castellan.CloudControlNone}); err != nil {
			t.Fatal(err)
		}
		b.Get(accountPage)
		if p := b.Post(accountPage+"/delete-account", url.Values{"confirm": {"shop"}, "password": {apitest.OwnerPassword}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="confirm-error"`) {
			t.Errorf("wrong name: got %d:\n%s", p.Status, p.Body)
		}

		// A control policy: a syntax error on line 3, then a valid one.
		b.Get("/console/policies/new")
		bad := "forbid (\n  principal,\n  action === Action::\"compute:DeleteInstance\",\n  resource\n);"
		p = b.Post("/console/policies/new", url.Values{"name": {"No deletes"}, "document": {bad}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `<li value="3" class="bad">`) || !strings.Contains(p.Body, "line 3") {
			t.Fatalf("policy with a syntax error: got %d:\n%s", p.Status, p.Body)
		}
		good := strings.Replace(bad, "===", "==", 1)
		p = b.Post("/console/policies/new", url.Values{"name": {"No deletes"}, "document": {good}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("valid policy: got %d:\n%s", p.Status, p.Body)
		}
		policy := strings.TrimSuffix(strings.TrimPrefix(p.Location, "/console/policies/"), "?created=1")
		// An OU created with that policy picked has it, and not
		// FullAccess, attached.
		b.Get("/console/ous/new")
		p = b.Post("/console/ous/new", url.Values{"parentId": {org}, "name": {"Support"}, "policyIds": {policy}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("OU with a policy: got %d:\n%s", p.Status, p.Body)
		}
		attached, err := s.ControlPolicies.FindNodePolicies(system, org, strings.TrimSuffix(strings.TrimPrefix(p.Location, "/console/nodes/"), "?created=1"))
		if err != nil {
			t.Fatal(err)
		}
		var direct []string
		for _, a := range attached {
			if a.Method == castellan.AttachedDirect {
				direct = append(direct, a.Policy.ID)
			}
		}
		if len(direct) != 1 || direct[0] != policy {
			t.Errorf("the new OU's direct policies: %v, want only %s", direct, policy)
		}

		b.Get(ouPage)
		apitest.WantRedirect(t, b.Post(ouPage+"/attach", url.Values{"policyId": {policy}}), ouPage+"?attached=1")
		if p := b.Get(accountPage); !strings.Contains(p.Body, "Inherited from Sales") || !strings.Contains(p.Body, "No deletes") ||
			!strings.Contains(p.Body, `› <a href="`+ouPage+`">Sales</a> › <strong>Shop</strong>`) {
			t.Errorf("the account does not show the policy inherited from its OU:\n%s", p.Body)
		}

		// Another organization's admin finds nothing.
		globexAdmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, globexAdmin, "organization.admin")
		g := e.signedIn(t, globexAdmin)
		apitest.WantPage(t, g.Get(accountPage), http.StatusNotFound, "")
		apitest.WantPage(t, g.Get("/console/policies/"+policy), http.StatusNotFound, "")
		g.Get("/console")
		apitest.WantPage(t, g.Post(ouPage+"/delete-ou", url.Values{"confirm": {"on"}}), http.StatusNotFound, "")
		if p := g.Get("/console/organization"); strings.Contains(p.Body, "Sales") {
			t.Error("Globex's hierarchy shows Acme's OU")
		}
		if p := g.Get("/console/accounts"); strings.Contains(p.Body, "Shop") {
			t.Error("Globex's account list shows Acme's account")
		}

		// An OU with an account under it is not deleted; once empty it is.
		b.Get(ouPage)
		if p := b.Post(ouPage+"/delete-ou", url.Values{"confirm": {"on"}}); p.Status < 400 {
			t.Errorf("deleting a non-empty OU: got %d", p.Status)
		}
		apitest.WantRedirect(t, b.Post(accountPage+"/move", url.Values{"parentId": {org}}), accountPage+"?moved=1")
		before = e.Snapshot(t)
		if p := b.Post(ouPage+"/delete-ou", url.Values{}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "tick the box") {
			t.Errorf("deleting the OU unconfirmed: got %d", p.Status)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("an unconfirmed deletion changed the store")
		}
		apitest.WantRedirect(t, b.Post(ouPage+"/delete-ou", url.Values{"confirm": {"on"}}), "/console/organization?deleted=1")
	})
}

// TestConsoleAccountInvitations: up to 10 accounts are invited at once by
// their root users' emails; more are refused with what was typed kept
// and nothing sent; a pending invitation is cancelled; a user without
// roles and another organization's admin can do neither.
func TestConsoleAccountInvitations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		_, b := e.acmeAdmin(t, "admin")
		apitest.WantPage(t, b.Get("/console/accounts/invitations"), http.StatusOK, "No invitations sent yet.")
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		plain.Get("/console")
		globexAdmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, globexAdmin, "organization.admin")
		g := e.signedIn(t, globexAdmin)
		g.Get("/console")

		before := e.Snapshot(t)
		var eleven []string
		for i := range 11 {
			eleven = append(eleven, fmt.Sprintf("root%d@far.example", i))
		}
		typed := strings.Join(eleven, ", ")
		p := b.Post("/console/accounts/invitations", url.Values{"emails": {typed}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="emails-error"`) || !strings.Contains(p.Body, ">"+typed+"</textarea>") {
			t.Fatalf("eleven invitations: got %d:\n%s", p.Status, p.Body)
		}
		apitest.WantPage(t, plain.Post("/console/accounts/invitations", url.Values{"emails": {"x@far.example"}}), http.StatusForbidden, "")
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused invitations changed the store")
		}

		apitest.WantRedirect(t, b.Post("/console/accounts/invitations", url.Values{"emails": {"one@far.example\ntwo@far.example"}}), "/console/accounts/invitations?invited=1")
		list, _, err := e.DB.Services().AccountMemberships.FindAccountInvitations(system, org, castellan.AccountInvitationFilter{PageSize: 10})
		if err != nil || len(list) != 2 {
			t.Fatalf("invitations: %v, %v", list, err)
		}
		p = b.Get("/console/accounts/invitations?invited=1")
		if strings.Count(p.Body, `>pending</span>`) != 2 {
			t.Errorf("the page does not list two pending invitations:\n%s", p.Body)
		}
		apitest.WantPage(t, g.Post("/console/accounts/invitations/cancel", url.Values{"invitation": {list[0].ID}}), http.StatusNotFound, "")
		apitest.WantRedirect(t, b.Post("/console/accounts/invitations/cancel", url.Values{"invitation": {list[0].ID}}), "/console/accounts/invitations?cancelled=1")
		if p := b.Get("/console/accounts/invitations"); strings.Count(p.Body, `>pending</span>`) != 1 || !strings.Contains(p.Body, ">cancelled</span>") {
			t.Errorf("after cancelling one:\n%s", p.Body)
		}
	})
}

package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestConsoleGroups: create a group (its rules next to the fields), add
// members by login ID or email, remove them (they are signed out at
// once), delete the group once its name is typed; a user without roles
// and another organization's admin get nothing.
func TestConsoleGroups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		_, b := e.acmeAdmin(t, "admin")
		ann, bob := e.ConsoleUser(t, org, "ann", nil), e.ConsoleUser(t, org, "bob", nil)
		globexUser := e.ConsoleUser(t, e.Globex.OrganizationID, "gus", nil)
		apitest.WantPage(t, b.Get("/console/groups"), http.StatusOK, "The organization has no groups yet.")

		before := e.Snapshot(t)
		b.Get("/console/groups/new")
		if p := b.Post("/console/groups/new", url.Values{"name": {""}, "description": {"Operations"}}); p.Status != http.StatusBadRequest ||
			!strings.Contains(p.Body, `id="name-error"`) || !strings.Contains(p.Body, `value="Operations"`) {
			t.Fatalf("group without a name: got %d:\n%s", p.Status, p.Body)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("a refused group changed the store")
		}
		p := b.Post("/console/groups/new", url.Values{"name": {"ops"}, "description": {"Operations"}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/groups/") {
			t.Fatalf("create: got %d to %q:\n%s", p.Status, p.Location, p.Body)
		}
		page := strings.TrimSuffix(p.Location, "?created=1")
		group := strings.TrimPrefix(page, "/console/groups/")
		apitest.WantPage(t, b.Get(p.Location), http.StatusOK, "The group is created.")
		if p := b.Post("/console/groups/new", url.Values{"name": {"ops"}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, `id="name-error"`) {
			t.Errorf("duplicate name: got %d:\n%s", p.Status, p.Body)
		}

		b.Get(page)
		apitest.WantRedirect(t, b.Post(page+"/members/add", url.Values{"users": {"ANN, bob@example.com"}}), page+"?added=1")
		members := func() []string {
			list, _, err := s.Groups.FindGroupMembers(system, org, group, castellan.GroupFilter{PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range list {
				ids = append(ids, m.UserID)
			}
			return ids
		}
		if got := members(); len(got) != 2 {
			t.Fatalf("members %v, want ann and bob", got)
		}
		p = b.Get(page)
		if !strings.Contains(p.Body, "ann@example.com") || !strings.Contains(p.Body, "Members (2)") {
			t.Errorf("group page lacks its members:\n%s", p.Body)
		}
		// A name no user of the organization has, Globex's included:
		// nothing is added and the typed names stay in the field.
		before = e.Snapshot(t)
		for _, typed := range []string{"ann nobody", globexUser.LoginID} {
			p = b.Post(page+"/members/add", url.Values{"users": {typed}})
			if p.Status != http.StatusNotFound || !strings.Contains(p.Body, `id="users-error"`) || !strings.Contains(p.Body, ">"+typed+"</textarea>") {
				t.Errorf("adding %q: got %d:\n%s", typed, p.Status, p.Body)
			}
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused additions changed the store")
		}

		// Another organization's admin and a user without roles.
		globexAdmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, globexAdmin, "organization.admin")
		g := e.signedIn(t, globexAdmin)
		apitest.WantPage(t, g.Get(page), http.StatusNotFound, "")
		g.Get("/console")
		apitest.WantPage(t, g.Post(page+"/delete", url.Values{"confirm": {"ops"}}), http.StatusNotFound, "")
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		apitest.WantPage(t, plain.Get("/console/groups"), http.StatusForbidden, "")
		plain.Get("/console")
		apitest.WantPage(t, plain.Post("/console/groups/new", url.Values{"name": {"rogue"}}), http.StatusForbidden, "")
		apitest.WantPage(t, plain.Post(page+"/members/add", url.Values{"users": {"plain"}}), http.StatusForbidden, "")

		// Removing a member signs it out at once.
		annBrowser := e.signedIn(t, ann)
		apitest.WantRedirect(t, b.Post(page+"/members/remove", url.Values{"member": {ann.ID}, "confirm": {"on"}}), page+"?removed=1")
		if got := members(); len(got) != 1 || got[0] != bob.ID {
			t.Errorf("members after removing ann: %v", got)
		}
		apitest.WantRedirect(t, annBrowser.Get("/console"), "/console/sign-in")

		b.Get(page)
		if p := b.Post(page+"/delete", url.Values{"confirm": {"OPS"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="confirm-error"`) {
			t.Errorf("wrong name: got %d:\n%s", p.Status, p.Body)
		}
		apitest.WantRedirect(t, b.Post(page+"/delete", url.Values{"confirm": {"ops"}}), "/console/groups?deleted=1")
		if _, err := s.Groups.FindGroupByID(system, org, group); castellan.ErrorKind(err) != castellan.ENOTFOUND {
			t.Errorf("deleted group: %v", err)
		}
		apitest.WantPage(t, b.Get("/console/groups?deleted=1"), http.StatusOK, "The group is deleted")
	})
}

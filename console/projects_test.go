package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestConsoleProjects: an admin creates a project (a bad name is refused
// next to its field and creates nothing), sees its members and access
// keys, works in it (the top bar shows it, the grant form and explain
// pick it first) and deletes it once the box is ticked. Another
// organization's admin reaches none of it, not even as its current
// project; a user without roles may not create one.
func TestConsoleProjects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		_, b := e.acmeAdmin(t, "admin")
		ann := e.ConsoleUser(t, org, "ann", nil)

		apitest.WantPage(t, b.Get("/console/projects"), http.StatusOK, "The organization has no projects yet.")
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, `<a href="/console/projects">No project chosen</a>`)
		apitest.WantPage(t, b.Get("/console/projects/new"), http.StatusOK, "Create project")
		before := e.Snapshot(t)
		p := b.Post("/console/projects/new", url.Values{"name": {"-shop"}, "parentId": {org}})
		apitest.WantPage(t, p, http.StatusBadRequest, `id="name-error"`)
		if !strings.Contains(p.Body, html.EscapeString(castellan.ProjectNameRule)) || !strings.Contains(p.Body, `value="-shop"`) {
			t.Errorf("the refused form lacks the rule or the typed name:\n%s", p.Body)
		}
		apitest.WantPage(t, b.Post("/console/projects/new", url.Values{"name": {"shop"}, "parentId": {org}, "csrf": {""}}), http.StatusForbidden, "")
		if !e.Snapshot(t).Equal(before) {
			t.Fatal("refused creations changed the store")
		}
		p = b.Post("/console/projects/new", url.Values{"name": {"shop"}, "description": {"The web shop"}, "parentId": {org}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/projects/") || !strings.HasSuffix(p.Location, "?created=1") {
			t.Fatalf("create: %d %s\n%s", p.Status, p.Location, p.Body)
		}
		page := strings.TrimSuffix(p.Location, "?created=1")
		id := strings.TrimPrefix(page, "/console/projects/")
		apitest.WantPage(t, b.Post("/console/projects/new", url.Values{"name": {"shop"}, "parentId": {org}}), http.StatusConflict, `id="name-error"`)

		// Members and keys.
		annSubject := castellan.Subject{Type: castellan.SubjectUser, ID: ann.ID}
		if _, _, err := s.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member", Scope: "project/" + id, Subject: annSubject}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccessKeys.CreateAccessKey(system, org, castellan.AccessKeyCreate{Owner: annSubject, ProjectID: id, Name: "deploy"}); err != nil {
			t.Fatal(err)
		}
		p = b.Get(page)
		for _, want := range []string{"The web shop", `<a href="/console/users/` + ann.ID + `">ann</a>`, "<code>project.member</code>", "deploy", "Work in this project"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("project page lacks %q:\n%s", want, p.Body)
			}
		}
		apitest.WantPage(t, b.Get("/console/projects"), http.StatusOK, `<a href="`+page+`">shop</a>`)

		// Working in it.
		apitest.WantRedirect(t, b.Post("/console/project", url.Values{"project": {id}, "next": {page}}), page)
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, `Project <a href="`+page+`"><strong>shop</strong></a>`)
		apitest.WantPage(t, b.Get("/console/users/"+ann.ID), http.StatusOK, `<option value="project/`+id+`" selected>`)
		apitest.WantPage(t, b.Get("/console/explain"), http.StatusOK, `value="project/`+id+`"`)
		// A project ID that is not one is refused, and the current
		// project stays.
		apitest.WantPage(t, b.Post("/console/project", url.Values{"project": {"shop"}, "next": {page}}), http.StatusBadRequest, "")
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, `Project <a href="`+page+`"><strong>shop</strong></a>`)
		// An outside next goes to the projects page instead.
		apitest.WantRedirect(t, b.Post("/console/project", url.Values{"project": {id}, "next": {"https://evil.example/"}}), "/console/projects")

		// Another organization's admin: not found, and it cannot make it
		// its current project.
		gadmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, gadmin, "organization.admin")
		g := e.signedIn(t, gadmin)
		apitest.WantPage(t, g.Get(page), http.StatusNotFound, "not found")
		g.Get("/console")
		apitest.WantPage(t, g.Post("/console/project", url.Values{"project": {id}}), http.StatusNotFound, "not found")
		apitest.WantPage(t, g.Post(page+"/delete", url.Values{"confirm": {"on"}}), http.StatusNotFound, "not found")
		if p := g.Get("/console"); strings.Contains(p.Body, "shop") {
			t.Errorf("Globex's console shows Acme's project:\n%s", p.Body)
		}

		// A user without roles may not create one.
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		plain.Get("/console")
		before = e.Snapshot(t)
		apitest.WantPage(t, plain.Post("/console/projects/new", url.Values{"name": {"side"}, "parentId": {org}}), http.StatusForbidden, "")
		apitest.WantPage(t, plain.Post(page+"/delete", url.Values{"confirm": {"on"}}), http.StatusForbidden, "")

		// Deletion needs the box ticked.
		apitest.WantPage(t, b.Post(page+"/delete", url.Values{}), http.StatusBadRequest, "tick the box")
		if !e.Snapshot(t).Equal(before) {
			t.Fatal("refused deletions changed the store")
		}
		apitest.WantRedirect(t, b.Post(page+"/delete", url.Values{"confirm": {"on"}}), "/console/projects?deleted=1")
		if _, err := s.Projects.FindProjectByID(system, org, id); castellan.ErrorKind(err) != castellan.ENOTFOUND {
			t.Fatalf("after deletion: %v", err)
		}
		// The deleted project leaves the top bar.
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, "No project chosen")
	})
}

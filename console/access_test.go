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

// TestConsoleGrantsAndExplain: roles are listed with their actions; a
// role is granted to a user or a group on a picked scope and removed;
// explain says why access is allowed (directly, through a group) or not;
// a grant the hierarchy principle or the role's kind forbids, or a bad
// date, is refused next to its field and changes nothing; another
// organization's admin and a user without roles get nothing.
func TestConsoleGrantsAndExplain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		_, b := e.acmeAdmin(t, "admin")
		ann := e.ConsoleUser(t, org, "ann", nil)
		web, err := s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		webScope := "project/" + web.ID

		p := b.Get("/console/roles")
		apitest.WantPage(t, p, http.StatusOK, "Organization Owner")
		apitest.WantPage(t, b.Get("/console/roles/project.reader"), http.StatusOK, "compute:GetInstance")

		annPage := "/console/users/" + ann.ID
		p = b.Get(annPage)
		if !strings.Contains(p.Body, `<option value="`+webScope+`">Project web</option>`) || !strings.Contains(p.Body, `action="`+annPage+`/grants"`) {
			t.Fatalf("ann's page has no grant form with the project:\n%s", p.Body)
		}
		explain := func(b *apitest.Browser, action, resource string) *apitest.Page {
			return b.Get("/console/explain?" + url.Values{"user": {"ann"}, "action": {action}, "resource": {resource}}.Encode())
		}
		apitest.WantPage(t, explain(b, "compute:GetInstance", webScope), http.StatusOK, "Denied")

		// Refused grants, each next to its field; nothing changes.
		before := e.Snapshot(t)
		for _, c := range []struct {
			form   url.Values
			status int
			field  string
		}{
			{url.Values{"roleId": {"organization.owner"}, "scope": {castellan.OrganizationScope(org).String()}}, http.StatusForbidden, "roleId-error"},
			{url.Values{"roleId": {"organization.reader"}, "scope": {webScope}}, http.StatusBadRequest, "scope-error"},
			{url.Values{"roleId": {"project.reader"}, "scope": {webScope}, "expires": {"2026-13-45"}}, http.StatusBadRequest, "expires-error"},
			{url.Values{"roleId": {"project.reader"}, "scope": {webScope}, "otherScope": {"project/not-an-id"}}, http.StatusBadRequest, "scope-error"},
		} {
			p := b.Post(annPage+"/grants", c.form)
			if p.Status != c.status || !strings.Contains(p.Body, `id="`+c.field+`"`) {
				t.Errorf("grant %v: got %d, want %d with %s:\n%s", c.form, p.Status, c.status, c.field, regexp.MustCompile(`id="[a-zA-Z]+-error">[^<]*`).FindAllString(p.Body, -1))
			}
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused grants changed the store")
		}

		apitest.WantRedirect(t, b.Post(annPage+"/grants", url.Values{"roleId": {"project.reader"}, "scope": {webScope}}), annPage+"?granted=1")
		p = explain(b, "compute:GetInstance", webScope)
		if !strings.Contains(p.Body, "Allowed") || !strings.Contains(p.Body, "granted to the user") || !strings.Contains(p.Body, webScope) {
			t.Errorf("explain after the grant:\n%s", p.Body)
		}
		// Not everything: the near miss is named.
		other, err := s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "db"})
		if err != nil {
			t.Fatal(err)
		}
		if p := explain(b, "compute:GetInstance", "project/"+other.ID); !strings.Contains(p.Body, "Denied") || !strings.Contains(p.Body, "Near misses") {
			t.Errorf("explain elsewhere:\n%s", p.Body)
		}

		// Through a group.
		ops, err := s.Groups.CreateGroup(system, org, castellan.GroupCreate{Name: "ops"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Groups.AddGroupMembers(system, org, ops.ID, []string{ann.ID}); err != nil {
			t.Fatal(err)
		}
		opsPage := "/console/groups/" + ops.ID
		b.Get(opsPage)
		apitest.WantRedirect(t, b.Post(opsPage+"/grants", url.Values{"roleId": {"project.member"}, "scope": {webScope}}), opsPage+"?granted=1")
		if p := explain(b, "compute:StartInstance", webScope); !strings.Contains(p.Body, "Allowed") || !strings.Contains(p.Body, "through group") {
			t.Errorf("explain through the group:\n%s", p.Body)
		}

		// Edit role: the ticked organization roles become ann's there.
		orgScope := castellan.OrganizationScope(org).String()
		b.Get(annPage)
		apitest.WantRedirect(t, b.Post(annPage+"/grants/set", url.Values{"role": {"organization.reader"}}), annPage+"?granted=1")
		orgRoles := func() []string {
			list, _, err := s.Grants.FindGrants(system, org, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: ann.ID}, Scope: &orgScope, PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			var roles []string
			for _, g := range list {
				roles = append(roles, g.RoleID)
			}
			return roles
		}
		if got := orgRoles(); len(got) != 1 || got[0] != "organization.reader" {
			t.Errorf("ann's organization roles: %v", got)
		}
		if p := b.Get(annPage); !strings.Contains(p.Body, `name="role" value="organization.reader" checked`) {
			t.Errorf("the edit form does not tick the role held:\n%s", p.Body)
		}
		before = e.Snapshot(t)
		if p := b.Post(annPage+"/grants/set", url.Values{}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "at least one role must remain") {
			t.Errorf("no role ticked: got %d", p.Status)
		}
		if p := b.Post(annPage+"/grants/set", url.Values{"role": {"organization.owner"}}); p.Status != http.StatusForbidden {
			t.Errorf("an admin making an owner: got %d", p.Status)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused role edits changed the store")
		}

		// Another organization's admin, and a user without roles.
		globexAdmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, globexAdmin, "organization.admin")
		g := e.signedIn(t, globexAdmin)
		g.Get("/console")
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		before = e.Snapshot(t)
		apitest.WantPage(t, g.Post(annPage+"/grants", url.Values{"roleId": {"project.reader"}, "scope": {webScope}}), http.StatusNotFound, "")
		if p := explain(g, "compute:GetInstance", webScope); p.Status != http.StatusNotFound || strings.Contains(p.Body, "Allowed") {
			t.Errorf("Globex's admin explaining Acme's user: got %d:\n%s", p.Status, p.Body)
		}
		if p := explain(plain, "compute:GetInstance", webScope); p.Status != http.StatusForbidden || strings.Contains(p.Body, "Allowed") {
			t.Errorf("a user without roles explaining: got %d", p.Status)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused requests changed the store")
		}

		// Removing the direct grant.
		grants, _, err := s.Grants.FindGrants(system, org, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: ann.ID}, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		var direct string
		for _, gr := range grants {
			if gr.Via == nil {
				direct = gr.ID
			}
		}
		// Its last role on the project goes only with "Remove all roles",
		// confirmed.
		b.Get(annPage)
		before = e.Snapshot(t)
		if p := b.Post(annPage+"/grants/revoke", url.Values{"grant": {direct}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "at least one role must remain") {
			t.Errorf("removing the last role: got %d:\n%s", p.Status, p.Body)
		}
		if p := b.Post(annPage+"/grants/revoke", url.Values{"all": {"1"}, "scope": {webScope}}); p.Status != http.StatusBadRequest {
			t.Errorf("remove all without confirming: got %d", p.Status)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused removals changed the store")
		}
		apitest.WantRedirect(t, b.Post(annPage+"/grants/revoke", url.Values{"all": {"1"}, "scope": {webScope}, "confirm": {"on"}}), annPage+"?revoked=1")
		if p := explain(b, "compute:GetInstance", webScope); !strings.Contains(p.Body, "through group") ||
			strings.Contains(p.Body, webScope+"</code></td><td>granted to the user") {
			t.Errorf("explain after removing the direct grant:\n%s", p.Body)
		}
	})
}

// TestConsoleCustomRoles: a custom role is created from catalogue
// patterns (an unknown action is refused next to the field and nothing
// is created), shown with the actions it allows, and deleted once nobody
// holds it; a user without roles may not create one.
func TestConsoleCustomRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		_, b := e.acmeAdmin(t, "admin")
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		plain.Get("/console")
		b.Get("/console/roles/new")
		before := e.Snapshot(t)
		p := b.Post("/console/roles/new", url.Values{"name": {"Operators"}, "kind": {"project"}, "actions": {"compute:Get*\ncompute:Fly"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="actions-error"`) || !strings.Contains(p.Body, "compute:Fly</textarea>") {
			t.Fatalf("unknown action: got %d:\n%s", p.Status, p.Body)
		}
		apitest.WantPage(t, plain.Post("/console/roles/new", url.Values{"name": {"Rogue"}, "kind": {"project"}, "actions": {"compute:*"}}), http.StatusForbidden, "")
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused roles changed the store")
		}
		p = b.Post("/console/roles/new", url.Values{"name": {"Operators"}, "kind": {"project"}, "actions": {"compute:Get*\ncompute:StartInstance"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("create role: got %d:\n%s", p.Status, p.Body)
		}
		rolePage := strings.TrimSuffix(p.Location, "?created=1")
		p = b.Get(p.Location)
		if !strings.Contains(p.Body, "<code>compute:GetInstance</code>") || !strings.Contains(p.Body, "<code>compute:StartInstance</code>") || strings.Contains(p.Body, "<code>compute:StopInstance</code>") {
			t.Errorf("the role's page does not list exactly what it allows:\n%s", p.Body)
		}
		apitest.WantPage(t, b.Get("/console/roles"), http.StatusOK, "Operators")

		// Edited: an unknown pattern is refused and the role stays; then
		// it allows stopping instances instead of starting them.
		before = e.Snapshot(t)
		if p := b.Post(rolePage+"/edit", url.Values{"name": {"Operators"}, "actions": {"compute:Teleport"}}); p.Status != http.StatusBadRequest ||
			!strings.Contains(p.Body, `id="actions-error"`) || !strings.Contains(p.Body, ">compute:Teleport</textarea>") {
			t.Errorf("edit with an unknown action: got %d:\n%s", p.Status, p.Body)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("a refused edit changed the store")
		}
		apitest.WantRedirect(t, b.Post(rolePage+"/edit", url.Values{"name": {"Operators"}, "actions": {"compute:Get*\ncompute:StopInstance"}}), rolePage+"?updated=1")
		if p := b.Get(rolePage); !strings.Contains(p.Body, "<code>compute:StopInstance</code></li>") || strings.Contains(p.Body, "<code>compute:StartInstance</code></li>") {
			t.Errorf("the edited role's actions:\n%s", p.Body)
		}
		apitest.WantRedirect(t, b.Post(rolePage+"/delete", url.Values{"confirm": {"on"}}), "/console/roles?deleted=1")
		apitest.WantPage(t, b.Get(rolePage), http.StatusNotFound, "")
	})
}

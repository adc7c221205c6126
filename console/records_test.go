package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// TestConsoleRecords: the access keys list shows the organization's
// keys with the seed's columns and, filtered, only the expired ones; the
// audit log lists the organization's events filtered by action and
// date, refuses a bad date, and shows nothing of another organization or
// to a user without roles.
func TestConsoleRecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		admin, b := e.acmeAdmin(t, "admin")
		ann := e.ConsoleUser(t, org, "ann", nil)
		web, err := s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		annSubject := castellan.Subject{Type: castellan.SubjectUser, ID: ann.ID}
		if _, _, err := s.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member", Scope: "project/" + web.ID, Subject: annSubject}}); err != nil {
			t.Fatal(err)
		}
		soon := e.Clock.Now().Add(time.Hour)
		for _, k := range []castellan.AccessKeyCreate{
			{Owner: annSubject, ProjectID: web.ID, Name: "ci-short", ExpiresAt: &soon},
			{Owner: annSubject, ProjectID: web.ID, Name: "ci-long"},
		} {
			if _, err := s.AccessKeys.CreateAccessKey(system, org, k); err != nil {
				t.Fatal(err)
			}
		}
		e.ConsoleUser(t, e.Globex.OrganizationID, "gus", nil)

		if p := b.Get("/console/users/" + ann.ID); !strings.Contains(p.Body, "ci-short") || !strings.Contains(p.Body, "ci-long") {
			t.Errorf("ann's page lacks her access keys:\n%s", p.Body)
		}
		p := b.Get("/console/keys")
		for _, want := range []string{"ci-short", "ci-long", "web", "Access key ID"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("keys page lacks %q", want)
			}
		}
		apitest.WantPage(t, b.Get("/console/keys?expired=on"), http.StatusOK, "No expired access keys.")
		e.Clock.Advance(2 * time.Hour)
		b = e.signedIn(t, admin) // the idle session ended meanwhile
		p = b.Get("/console/keys?expired=on")
		if !strings.Contains(p.Body, "ci-short") || strings.Contains(p.Body, "ci-long") || !strings.Contains(p.Body, `badge disabled">Expired`) {
			t.Errorf("expired keys:\n%s", p.Body)
		}

		// The audit log: Acme's registrations, not Globex's.
		p = b.Get("/console/audit?action=iam:CreateUser")
		if !strings.Contains(p.Body, "ann") || strings.Contains(p.Body, "gus") || !strings.Contains(p.Body, "<code>iam:CreateUser</code>") {
			t.Errorf("audit log filtered by action:\n%s", p.Body)
		}
		day := e.Clock.Now().UTC().Format(time.DateOnly)
		if p := b.Get("/console/audit?since=" + day + "&until=" + day); !strings.Contains(p.Body, "ci-long") {
			t.Errorf("audit log of today lacks the key's creation:\n%s", p.Body)
		}
		tomorrow := e.Clock.Now().UTC().Add(24 * time.Hour).Format(time.DateOnly)
		apitest.WantPage(t, b.Get("/console/audit?since="+tomorrow), http.StatusOK, "No events match.")
		if p := b.Get("/console/audit?since=yesterday"); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "must be a date") {
			t.Errorf("bad date: got %d", p.Status)
		}

		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		for _, path := range []string{"/console/keys", "/console/audit"} {
			if p := plain.Get(path); p.Status != http.StatusForbidden || strings.Contains(p.Body, "ci-long") {
				t.Errorf("%s for a user without roles: got %d", path, p.Status)
			}
		}
	})
}

// TestConsoleOwnKeys: a user without organization roles makes itself an
// access key in a project where it holds a role and sees the secret
// once (and it works); not in a project where it holds none; not
// without a name; another user cannot delete it; the user can.
func TestConsoleOwnKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		ann, bob := e.ConsoleUser(t, org, "ann", nil), e.ConsoleUser(t, org, "bob", nil)
		web, err := s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member", Scope: "project/" + web.ID,
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: ann.ID}}}); err != nil {
			t.Fatal(err)
		}
		a, bb := e.signedIn(t, ann), e.signedIn(t, bob)
		p := a.Get("/console/profile/keys")
		if !strings.Contains(p.Body, "You have no access keys.") {
			t.Fatalf("own keys page:\n%s", p.Body)
		}
		bb.Get("/console/profile/keys")

		before := e.Snapshot(t)
		if p := a.Post("/console/profile/keys", url.Values{"name": {""}, "projectId": {web.ID}}); p.Status != http.StatusBadRequest {
			t.Errorf("key without a name: got %d", p.Status)
		}
		if p := a.Post("/console/profile/keys", url.Values{"name": {"ci"}, "projectId": {other.ID}}); p.Status < 400 {
			t.Errorf("key where ann holds no role: got %d", p.Status)
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused keys changed the store")
		}
		p = a.Post("/console/profile/keys", url.Values{"name": {"ci"}, "projectId": {web.ID}})
		m := regexp.MustCompile(`Access key ID</dt><dd><code>(CAK[A-Z2-7]{20})</code></dd><dt>Secret</dt><dd><code class="wrap">([A-Za-z0-9_-]{43})</code>`).FindStringSubmatch(p.Body)
		if p.Status != http.StatusOK || m == nil {
			t.Fatalf("making a key: got %d:\n%s", p.Status, p.Body)
		}
		if _, err := s.AccessKeys.ExchangeAccessKey(system, m[1], m[2]); err != nil {
			t.Errorf("the secret shown does not work: %v", err)
		}
		if strings.Contains(a.Get("/console/profile/keys").Body, m[2]) {
			t.Error("the secret is shown again")
		}

		if p := bb.Post("/console/profile/keys/delete", url.Values{"key": {m[1]}, "confirm": {"on"}}); p.Status < 400 {
			t.Errorf("bob deleting ann's key: got %d", p.Status)
		}
		apitest.WantRedirect(t, a.Post("/console/profile/keys/delete", url.Values{"key": {m[1]}, "confirm": {"on"}}), "/console/profile/keys?deleted=1")

		// A user who may read its grants is offered its projects.
		admin, ab := e.acmeAdmin(t, "admin")
		if _, _, err := s.Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member", Scope: "project/" + other.ID,
			Subject: castellan.Subject{Type: castellan.SubjectUser, ID: admin.ID}}}); err != nil {
			t.Fatal(err)
		}
		if p := ab.Get("/console/profile/keys"); !strings.Contains(p.Body, `<option value="`+other.ID+`">`) || strings.Contains(p.Body, `<option value="`+web.ID+`">`) {
			t.Errorf("the admin's project suggestions:\n%s", p.Body)
		}
		if _, err := s.AccessKeys.FindAccessKeyByID(system, org, m[1]); castellan.ErrorKind(err) != castellan.ENOTFOUND {
			t.Errorf("the deleted key: %v", err)
		}
	})
}

package console_test

import (
	"net/http"
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

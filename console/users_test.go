package console_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// userRow matches the login ID cell of a row of the users list.
var userRow = regexp.MustCompile(`<tr>\s*<td>([^<]+)`)

// listed returns the login IDs of the rows of a users page.
func listed(body string) []string {
	var ids []string
	for _, m := range userRow.FindAllStringSubmatch(body, -1) {
		ids = append(ids, html.UnescapeString(m[1]))
	}
	return ids
}

// TestConsoleUsers: the users list shows the organization's users with
// the seed's columns, and only them; it searches, filters by status,
// pages without losing the filters, refuses a bad sort with the rule and
// no rows, and shows nothing to a user who may not list users.
func TestConsoleUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		admin := e.ConsoleUser(t, org, "admin", func(r *castellan.UserRegistration) { r.Nickname = "The Admin" })
		e.grantOrg(t, admin, "organization.admin")
		plain := e.ConsoleUser(t, org, "plain", nil)
		invited := e.ConsoleUser(t, org, "invitee", func(r *castellan.UserRegistration) { r.Mode, r.Password = castellan.ModeInvitation, "" })
		for i := range 55 {
			if _, err := s.Users.CreateUser(system, org, castellan.UserCreate{Email: fmt.Sprintf("bulk%02d@acme.example", i)}); err != nil {
				t.Fatal(err)
			}
		}
		other := e.ConsoleUser(t, e.Globex.OrganizationID, "globex-only", nil)

		b := e.signedIn(t, admin)
		p := b.Get("/console/users")
		apitest.WantPage(t, p, http.StatusOK, "Organization roles")
		for _, want := range []string{"Acme", `aria-current="page">Users`, "Invitation pending", "Next page"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("users page lacks %q", want)
			}
		}
		first := listed(p.Body)
		if len(first) != 50 || first[0] != "bulk54@acme.example" {
			t.Fatalf("first page: got %d rows starting %v, want 50, newest first", len(first), first[:min(3, len(first))])
		}
		// The next page holds the rest (55 + owner, admin, plain,
		// invitee = 59), none twice, none of Globex.
		next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(p.Body)
		if next == nil {
			t.Fatal("no next page link")
		}
		rest := listed(b.Get(html.UnescapeString(next[1])).Body)
		all := append(first, rest...)
		if len(all) != 59 || strings.Contains(strings.Join(all, " "), other.LoginID) {
			t.Fatalf("got %d users over two pages: %v", len(all), all)
		}

		// Search and status, kept by the paging links.
		if got := listed(b.Get("/console/users?q=PLA").Body); len(got) != 1 || got[0] != plain.LoginID {
			t.Errorf("search: got %v, want only %s", got, plain.LoginID)
		}
		if p := b.Get("/console/users?q=admin"); !strings.Contains(p.Body, "<td>The Admin</td>") {
			t.Errorf("the admin's nickname is not listed:\n%s", p.Body)
		}
		p = b.Get("/console/users?status=pending_invitation&sort=loginId")
		if got := listed(p.Body); len(got) != 1 || got[0] != invited.LoginID {
			t.Errorf("status filter: got %v, want only %s", got, invited.LoginID)
		}
		if !strings.Contains(p.Body, `<option value="pending_invitation" selected>`) || !strings.Contains(p.Body, `<option value="loginId" selected>`) {
			t.Error("the filters asked are not shown as selected")
		}
		apitest.WantPage(t, b.Get("/console/users?q=nobody-like-this"), http.StatusOK, "No user matches these filters.")

		// A bad sort is refused with its rule, and lists nothing.
		p = b.Get("/console/users?sort=password")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `role="alert"`) || len(listed(p.Body)) != 0 {
			t.Errorf("bad sort: got %d with rows %v:\n%s", p.Status, listed(p.Body), p.Body)
		}

		// A user without a role on the organization sees no user.
		p = e.signedIn(t, plain).Get("/console/users")
		if p.Status != http.StatusForbidden || len(listed(p.Body)) != 0 || strings.Contains(p.Body, admin.LoginID) {
			t.Errorf("user without roles: got %d with rows %v", p.Status, listed(p.Body))
		}
		// Globex's user sees Globex's users, never Acme's.
		if got := listed(e.signedIn(t, other).Get("/console/users").Body); strings.Contains(strings.Join(got, " "), "acme") {
			t.Errorf("Globex user sees %v", got)
		}
	})
}

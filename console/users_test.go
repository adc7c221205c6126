package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// userRow matches the login ID cell of a row of the users list.
var userRow = regexp.MustCompile(`<tr>\s*<td><a href="/console/users/[^"]+">([^<]+)`)

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

// TestConsoleRegisterAndDeleteUser: the register form shows the API's
// field errors next to their fields and registers nothing then; a
// registered invitee gets its mail and its page; a new invitation can be
// sent; deleting needs the login ID typed, the CSRF token, a role that
// may, and the hierarchy principle; another organization's user is not
// found.
func TestConsoleRegisterAndDeleteUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		_, b := e.acmeAdmin(t, "admin")
		apitest.WantPage(t, b.Get("/console/users/new"), http.StatusOK, `name="loginId"`)

		// Bad fields: each rule next to its field, nothing written.
		before := e.Snapshot(t)
		p := b.Post("/console/users/new", url.Values{"loginId": {"x"}, "mode": {"invitation"}, "name": {"Kim"}, "consoleAccess": {"on"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="loginId-error"`) || !strings.Contains(p.Body, `id="email-error"`) {
			t.Fatalf("bad registration: got %d:\n%s", p.Status, p.Body)
		}
		if !strings.Contains(p.Body, `value="Kim"`) {
			t.Error("the form lost what was typed")
		}
		if !e.Snapshot(t).Equal(before) {
			t.Error("a refused registration changed the store")
		}
		// A password is never sent back.
		p = b.Post("/console/users/new", url.Values{"loginId": {"pat"}, "mode": {"password"}, "password": {"short"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="password-error"`) || strings.Contains(p.Body, `value="short"`) {
			t.Fatalf("weak password: got %d:\n%s", p.Status, p.Body)
		}

		p = b.Post("/console/users/new", url.Values{"loginId": {"kim"}, "email": {"kim@acme.example"}, "mode": {"invitation"}, "consoleAccess": {"on"}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/users/") {
			t.Fatalf("registration: got %d to %q:\n%s", p.Status, p.Location, p.Body)
		}
		page := p.Location
		id := strings.TrimSuffix(strings.TrimPrefix(page, "/console/users/"), "?registered=1")
		kim, err := s.Users.FindUserByID(system, org, id, false)
		if err != nil || kim.LoginID != "kim" || kim.Status != castellan.UserPendingInvitation {
			t.Fatalf("registered user: %+v, %v", kim, err)
		}
		email := "kim@acme.example"
		mails := func() int {
			list, _, err := s.Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &org, To: &email})
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		if mails() != 1 {
			t.Fatalf("got %d mails to the invitee, want its invitation", mails())
		}
		p = b.Get(page)
		for _, want := range []string{"The user is registered.", "Invitation pending", "Resend invitation email", kim.ID, org} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("user page lacks %q", want)
			}
		}
		apitest.WantRedirect(t, b.Post("/console/users/"+kim.ID+"/resend-invitation", url.Values{}), "/console/users/"+kim.ID+"?invited=1")
		if mails() != 2 {
			t.Errorf("got %d mails after resending, want 2", mails())
		}

		// Another organization's admin finds neither the page nor the
		// user to delete.
		globexAdmin := e.ConsoleUser(t, e.Globex.OrganizationID, "gadmin", nil)
		e.grantOrg(t, globexAdmin, "organization.admin")
		g := e.signedIn(t, globexAdmin)
		apitest.WantPage(t, g.Get("/console/users/"+kim.ID), http.StatusNotFound, "not found")
		g.Get("/console") // a page with the session's form token
		apitest.WantPage(t, g.Post("/console/users/"+kim.ID+"/delete", url.Values{"confirm": {"kim"}}), http.StatusNotFound, "not found")

		// A user without roles may neither register nor delete.
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		plain.Get("/console")
		before = e.Snapshot(t)
		apitest.WantPage(t, plain.Post("/console/users/new", url.Values{"loginId": {"eve"}, "email": {"eve@acme.example"}, "mode": {"invitation"}}),
			http.StatusForbidden, "")
		apitest.WantPage(t, plain.Post("/console/users/"+kim.ID+"/delete", url.Values{"confirm": {"kim"}}), http.StatusForbidden, "")
		// The hierarchy principle: an admin may not delete the owner.
		ownerID := e.Acme.OwnerUserID
		owner, err := s.Users.FindUserByID(system, org, ownerID, false)
		if err != nil {
			t.Fatal(err)
		}
		b.Get("/console/users/" + owner.ID)
		apitest.WantPage(t, b.Post("/console/users/"+owner.ID+"/delete", url.Values{"confirm": {owner.LoginID}}), http.StatusForbidden, "")
		// The wrong phrase, and no CSRF token.
		b.Get(page)
		p = b.Post("/console/users/"+kim.ID+"/delete", url.Values{"confirm": {"Kim"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="confirm-error"`) || !strings.Contains(p.Body, `value="Kim"`) {
			t.Errorf("wrong phrase: got %d:\n%s", p.Status, p.Body)
		}
		apitest.WantPage(t, b.Post("/console/users/"+kim.ID+"/delete", url.Values{"confirm": {"kim"}, "csrf": {""}}), http.StatusForbidden, "")
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused deletions changed the store")
		}

		apitest.WantRedirect(t, b.Post("/console/users/"+kim.ID+"/delete", url.Values{"confirm": {castellan.DeleteUserPhrase}}), "/console/users?deleted=1")
		if _, err := s.Users.FindUserByID(system, org, kim.ID, false); castellan.ErrorKind(err) != castellan.ENOTFOUND {
			t.Errorf("deleted user: got %v, want not found", err)
		}
		apitest.WantPage(t, b.Get("/console/users?deleted=1"), http.StatusOK, "The user is deleted")
	})
}

// TestConsoleQuickRegister: the quick register table registers the
// filled rows in one go, by invitation; a wrong row shows its error in
// that row and registers nobody; it holds at most 100 rows.
func TestConsoleQuickRegister(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		s := e.DB.Services()
		admin, b := e.acmeAdmin(t, "admin")
		if p := b.Get("/console/users/quick"); strings.Count(p.Body, `name="loginId"`) != 10 {
			t.Errorf("quick register starts with %d rows, want 10", strings.Count(p.Body, `name="loginId"`))
		}
		if p := b.Get("/console/users/quick?rows=500"); strings.Count(p.Body, `name="loginId"`) != 100 {
			t.Errorf("quick register shows %d rows for 500, want at most 100", strings.Count(p.Body, `name="loginId"`))
		}

		rows := func(cells ...[3]string) url.Values {
			form := url.Values{}
			for _, c := range cells {
				form.Add("loginId", c[0])
				form.Add("email", c[1])
				form.Add("name", c[2])
			}
			return form
		}
		// The error cell of row n (from 1) of a page, "" when none.
		rowError := func(body string, n int) string {
			trs := strings.Split(body, "<tr")
			for _, tr := range trs {
				if strings.HasPrefix(tr, ` class="invalid"><td class="num">`+fmt.Sprint(n)+"<") {
					m := regexp.MustCompile(`class="field-error">([^<]+)`).FindStringSubmatch(tr)
					if m != nil {
						return html.UnescapeString(m[1])
					}
				}
			}
			return ""
		}
		plain := e.signedIn(t, e.ConsoleUser(t, org, "plain", nil))
		plain.Get("/console")
		before := e.Snapshot(t)
		p := b.Post("/console/users/quick", rows([3]string{"ana", "ana@acme.example", "Ana"}, [3]string{}, [3]string{"bo", "bo@acme.example", ""}, [3]string{"!", "x@acme.example", ""}))
		if p.Status != http.StatusBadRequest || rowError(p.Body, 4) == "" || rowError(p.Body, 1) != "" || !strings.Contains(p.Body, `value="ana@acme.example"`) {
			t.Fatalf("bad login ID in row 4: got %d, row 4 %q, row 1 %q:\n%s", p.Status, rowError(p.Body, 4), rowError(p.Body, 1), p.Body)
		}
		if !strings.Contains(p.Body, "Nobody was registered: 1 of the rows need a change") {
			t.Error("the page does not say that nobody was registered")
		}
		p = b.Post("/console/users/quick", rows([3]string{"ana", "ana@acme.example", "Ana"}, [3]string{}, [3]string{"bo", admin.Email, ""}))
		if p.Status != http.StatusConflict || rowError(p.Body, 3) == "" || rowError(p.Body, 1) != "" {
			t.Fatalf("email taken in row 3: got %d, row 3 %q:\n%s", p.Status, rowError(p.Body, 3), p.Body)
		}
		apitest.WantPage(t, b.Post("/console/users/quick", rows([3]string{}, [3]string{})), http.StatusBadRequest, "Fill in at least one row.")
		// 101 filled rows: refused whole, none dropped quietly.
		var many [][3]string
		for i := range 101 {
			many = append(many, [3]string{fmt.Sprintf("many%03d", i), fmt.Sprintf("many%03d@acme.example", i), ""})
		}
		if p := b.Post("/console/users/quick", rows(many...)); p.Status != http.StatusBadRequest {
			t.Errorf("101 rows: got %d", p.Status)
		}
		apitest.WantPage(t, plain.Post("/console/users/quick", rows([3]string{"cy", "cy@acme.example", ""})), http.StatusForbidden, "")
		if !e.Snapshot(t).Equal(before) {
			t.Error("refused quick registrations changed the store")
		}

		apitest.WantRedirect(t, b.Post("/console/users/quick", rows([3]string{"ana", "ana@acme.example", "Ana"}, [3]string{}, [3]string{"bo", "bo@acme.example", ""})),
			"/console/users?registered=2")
		for _, email := range []string{"ana@acme.example", "bo@acme.example"} {
			list, _, err := s.Users.FindUsers(system, org, castellan.UserFilter{Query: &email, PageSize: 10})
			if err != nil || len(list) != 1 || list[0].Status != castellan.UserPendingInvitation {
				t.Errorf("%s: got %v, %v, want one invited user", email, list, err)
			}
			mails, _, err := s.Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &org, To: &email})
			if err != nil || len(mails) != 1 {
				t.Errorf("%s: got %d mails, %v, want its invitation", email, len(mails), err)
			}
		}
	})
}

// TestConsoleProfile: a user without any role sees its own profile and
// second factor.
func TestConsoleProfile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.ConsoleUser(t, e.Acme.OrganizationID, "ann", func(r *castellan.UserRegistration) { r.Nickname = "Annie" })
		p := e.signedIn(t, ann).Get("/console/profile")
		for _, want := range []string{"User ann (Annie)", ann.ID, "Not set up", `aria-current="page">Profile`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("profile lacks %q:\n%s", want, p.Body)
			}
		}
	})
}

package console_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestInvitationPage follows the link of an invitation mail: the page
// shows the form, refuses differing or unsafe passwords without spending
// the link, activates the user once, and refuses the link afterwards.
func TestInvitationPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		r, err := e.DB.Services().Users.RegisterUser(system, org, castellan.UserRegistration{
			LoginID: "invitee", Email: "invitee@acme.example", Name: "Invited", Mode: castellan.ModeInvitation,
		})
		if err != nil {
			t.Fatal(err)
		}
		invitee := r.User
		mails, _, err := e.DB.Services().Outbox.FindMail(system, castellan.MailFilter{OrganizationID: &org, To: &invitee.Email})
		if err != nil || len(mails) == 0 || mails[0].Data["invitationToken"] == "" {
			t.Fatalf("no invitation mail: %v %v", mails, err)
		}
		token := mails[0].Data["invitationToken"]
		client := e.srv.Client()
		page := func(resp *http.Response, err error) (int, string) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("headers: %v", resp.Header)
			}
			return resp.StatusCode, string(b)
		}
		post := func(password, confirm string) (int, string) {
			return page(client.PostForm(e.srv.URL+"/invitations/accept", url.Values{"token": {token}, "password": {password}, "confirm": {confirm}}))
		}

		status, body := page(client.Get(e.srv.URL + "/invitations/accept?token=" + url.QueryEscape(token)))
		if status != http.StatusOK || !strings.Contains(body, `name="token" value="`+token+`"`) {
			t.Fatalf("got %d:\n%s", status, body)
		}
		if status, body = post("Correct-Horse-7-battery", "Correct-Horse-7-batterz"); status != http.StatusBadRequest || !strings.Contains(body, "differ") {
			t.Fatalf("differing passwords: got %d:\n%s", status, body)
		}
		if status, body = post("password", "password"); status != http.StatusBadRequest || !strings.Contains(body, `value="`+token+`"`) {
			t.Fatalf("unsafe password: got %d, want 400 with the form again:\n%s", status, body)
		}
		if u, _ := e.DB.Services().Users.FindUserByID(system, org, invitee.ID, false); u.Status != castellan.UserPendingInvitation {
			t.Fatalf("refused attempts changed the user: %s", u.Status)
		}
		if status, body = post("Correct-Horse-7-battery", "Correct-Horse-7-battery"); status != http.StatusOK || !strings.Contains(body, "is active") {
			t.Fatalf("accept: got %d:\n%s", status, body)
		}
		if u, _ := e.DB.Services().Users.FindUserByID(system, org, invitee.ID, false); u.Status != castellan.UserActive {
			t.Fatalf("got status %s, want active", u.Status)
		}
		if status, body = post("Correct-Horse-7-battery", "Correct-Horse-7-battery"); status != http.StatusConflict || strings.Contains(body, "<form") {
			t.Fatalf("second use: got %d:\n%s", status, body)
		}
	})
}

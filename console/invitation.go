package console

import (
	"context"
	"html/template"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// invitationPath is where the invitation page is.
const invitationPath = "/invitations/accept"

// invitationPage is the page an invitation mail links to: the invitee
// sets its initial password there. It needs no JavaScript; the form posts
// back to the same path.
var invitationPage = template.Must(template.New("accept").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Castellan: accept your invitation</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Accept your invitation</h1>
{{if .Done}}<p>Your account {{.LoginID}} is active. You can sign in with your new password.</p>
{{else}}{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
{{if .Token}}<form method="post" action="/invitations/accept">
<input type="hidden" name="token" value="{{.Token}}">
<input type="text" name="username" autocomplete="username" hidden>
<p><label>New password <input type="password" name="password" autocomplete="new-password" required minlength="10" maxlength="128"></label></p>
<p><label>Repeat it <input type="password" name="confirm" autocomplete="new-password" required minlength="10" maxlength="128"></label></p>
<p>At least 10 characters, with three of: lower case, upper case, digits, symbols; not your login ID.</p>
<p><button type="submit">Set password</button></p>
</form>{{else}}<p>This page needs the link from your invitation mail.</p>{{end}}{{end}}
</body></html>
`))

type invitationPageData struct {
	Token, Error, LoginID string
	Done                  bool
}

// registerInvitationPage serves the page behind the invitation link.
func (s *Console) registerInvitationPage(mux *http.ServeMux) {
	mux.HandleFunc("GET "+invitationPath, func(w http.ResponseWriter, r *http.Request) {
		renderInvitationPage(w, http.StatusOK, invitationPageData{Token: r.URL.Query().Get("token")})
	})
	mux.HandleFunc("POST "+invitationPath, s.acceptInvitationForm)
}

func (s *Console) acceptInvitationForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		renderInvitationPage(w, http.StatusBadRequest, invitationPageData{Error: "The form could not be read."})
		return
	}
	data := invitationPageData{Token: r.PostForm.Get("token")}
	password := r.PostForm.Get("password")
	if password != r.PostForm.Get("confirm") {
		data.Error = "The two passwords differ."
		renderInvitationPage(w, http.StatusBadRequest, data)
		return
	}
	u, err := s.services.Users.AcceptInvitation(r.Context(), data.Token, password)
	if err != nil {
		status, msg := publicError(r.Context(), err)
		data.Error = msg
		if castellan.ErrorCode(err) != castellan.CodeUnsafePassword {
			data.Token = "" // the link itself is no good: no form to retry with
		}
		renderInvitationPage(w, status, data)
		return
	}
	web.Logger(r.Context()).Info("invitation accepted", "user", u.ID)
	renderInvitationPage(w, http.StatusOK, invitationPageData{Done: true, LoginID: u.LoginID})
}

// renderInvitationPage writes the page. The link's token is in the URL:
// no referrer may carry it elsewhere, and the page loads nothing.
func renderInvitationPage(w http.ResponseWriter, status int, data invitationPageData) {
	web.StartPage(w, status, web.PageCSP)
	if err := invitationPage.Execute(w, data); err != nil {
		web.Logger(context.Background()).Error("invitation page", "err", err)
	}
}

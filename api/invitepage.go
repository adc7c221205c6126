package api

import (
	"context"
	"html/template"
	"net/http"

	"github.com/castellan-iam/castellan"
)

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
func (s *Server) registerInvitationPage(mux *http.ServeMux) {
	mux.HandleFunc("GET /invitations/accept", func(w http.ResponseWriter, r *http.Request) {
		renderInvitationPage(w, http.StatusOK, invitationPageData{Token: r.URL.Query().Get("token")})
	})
	mux.HandleFunc("POST /invitations/accept", s.acceptInvitationForm)
}

func (s *Server) acceptInvitationForm(w http.ResponseWriter, r *http.Request) {
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
		p := problemFor(r.Context(), err)
		data.Error = p.Detail
		if p.Code != castellan.CodeUnsafePassword {
			data.Token = "" // the link itself is no good: no form to retry with
		}
		renderInvitationPage(w, p.Status, data)
		return
	}
	loggerFrom(r.Context()).Info("invitation accepted", "user", u.ID)
	renderInvitationPage(w, http.StatusOK, invitationPageData{Done: true, LoginID: u.LoginID})
}

// renderInvitationPage writes the page. The link's token is in the URL:
// no referrer may carry it elsewhere, and the page loads nothing.
func renderInvitationPage(w http.ResponseWriter, status int, data invitationPageData) {
	startPage(w, status, pageCSP)
	if err := invitationPage.Execute(w, data); err != nil {
		loggerFrom(context.Background()).Error("invitation page", "err", err)
	}
}

// pageCSP is the policy of the server-rendered pages: they run no
// script, load nothing, post forms only here and are never framed.
const pageCSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// startPage writes the status and headers of a server-rendered HTML page
// under the content security policy csp. No page sends a referrer: its
// URL may hold a secret (an invitation link) and the console's pages say
// who is signed in.
func startPage(w http.ResponseWriter, status int, csp string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
}

package console

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
)

// invitationPath is where the invitation page is.
const invitationPath = "/invitations/accept"

type invitationPageData struct {
	Token, Error, LoginID string
	Done                  bool
}

// registerInvitationPage serves the page behind the invitation link.
func (s *Console) registerInvitationPage(mux *http.ServeMux) {
	mux.HandleFunc("GET "+invitationPath, func(w http.ResponseWriter, r *http.Request) {
		renderInvitationPage(r.Context(), w, http.StatusOK, invitationPageData{Token: r.URL.Query().Get("token")})
	})
	mux.HandleFunc("POST "+invitationPath, s.acceptInvitationForm)
}

func (s *Console) acceptInvitationForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		renderInvitationPage(r.Context(), w, http.StatusBadRequest, invitationPageData{Error: "The form could not be read."})
		return
	}
	data := invitationPageData{Token: r.PostForm.Get("token")}
	password := r.PostForm.Get("password")
	if password != r.PostForm.Get("confirm") {
		data.Error = "The two passwords differ."
		renderInvitationPage(r.Context(), w, http.StatusBadRequest, data)
		return
	}
	u, err := s.services.Users.AcceptInvitation(r.Context(), data.Token, password)
	if err != nil {
		status, msg := publicError(r.Context(), err)
		data.Error = msg
		if castellan.ErrorCode(err) != castellan.CodeUnsafePassword {
			data.Token = "" // the link itself is no good: no form to retry with
		}
		renderInvitationPage(r.Context(), w, status, data)
		return
	}
	web.Logger(r.Context()).Info("invitation accepted", "user", u.ID)
	renderInvitationPage(r.Context(), w, http.StatusOK, invitationPageData{Done: true, LoginID: u.LoginID})
}

// renderInvitationPage writes the page an invitation mail links to,
// where the invitee sets its initial password, in the console's layout.
// The link's token is in the URL: no referrer may carry it elsewhere,
// and the page loads nothing.
func renderInvitationPage(ctx context.Context, w http.ResponseWriter, status int, data invitationPageData) {
	renderConsole(ctx, w, status, "invitation", consolePage{Invitation: &data})
}

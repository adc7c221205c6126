package console

import (
	"net/http"

	"github.com/castellan-iam/castellan"
)

func (s *Console) homePage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "home"
	renderConsole(r.Context(), w, http.StatusOK, "home", p)
}

func (s *Console) sessionsPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	list, err := s.services.Sessions.FindSessions(r.Context(), c.user.OrganizationID, c.user.ID)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	p := c.page()
	p.Sessions, p.CurrentSession, p.Nav = list, c.session.ID, "sessions"
	renderConsole(r.Context(), w, http.StatusOK, "sessions", p)
}

// revokeSessionForm ends one of the user's own sessions; only its own
// are found.
func (s *Console) revokeSessionForm(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	id := r.PostForm.Get("session")
	if err := castellan.CheckID("session", id); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	if _, err := s.services.Sessions.RevokeSession(r.Context(), c.user.OrganizationID, c.user.ID, id); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	if id == c.session.ID {
		s.setCookie(w, r, sessionCookie, "", true)
		seeOther(w, consolePath+"/sign-in")
		return
	}
	seeOther(w, consolePath+"/sessions")
}

func (s *Console) revokeOtherSessionsForm(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.Sessions.RevokeOtherSessions(r.Context(), c.user.OrganizationID, c.user.ID, c.session.ID); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/sessions")
}

func (s *Console) signOut(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if err := s.services.Sessions.SignOut(r.Context(), c.user.OrganizationID, c.session.ID); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	s.setCookie(w, r, sessionCookie, "", true)
	seeOther(w, consolePath+"/sign-in")
}

// profile is the signed-in user's own page.
type profile struct {
	MFA *castellan.MFAStatus
}

// profilePage shows the user's own account as the session has it, and
// its second factor (a user may always read its own).
func (s *Console) profilePage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	status, err := s.services.MFA.MFAStatus(r.Context(), c.user.OrganizationID, c.user.ID)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	p := c.page()
	p.Nav, p.Profile = "profile", &profile{MFA: status}
	renderConsole(r.Context(), w, http.StatusOK, "profile", p)
}

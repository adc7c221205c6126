package console

import (
	"net/http"
	"slices"
	"strings"

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
		s.setSession(w, r, "")
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
	s.setSession(w, r, "")
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
	p.Notice = notices{{"mfa", "Your second factor is set up: your next sign-in asks for its code."}}.of(r)
	renderConsole(r.Context(), w, http.StatusOK, "profile", p)
}

// ownKeys is the user's own access keys page: its keys, the projects it
// may make one in, what was typed and what was wrong, and the secret of
// the key just made (shown this once).
type ownKeys struct {
	Keys     []*castellan.AccessKey
	Projects []string
	Name     string
	Project  string
	Expires  string
	Fields   fieldErrors
	Created  *castellan.NewAccessKey
}

func (s *Console) ownKeysPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = notices{{"deleted", "The key is deleted: its tokens stopped working."}}.of(r)
	k := &ownKeys{Fields: fieldErrors{}}
	// A new key goes in the project the console works in, unless the
	// user picks another.
	if c.project != nil {
		k.Project = c.project.ID
	}
	s.renderOwnKeys(w, r, c, p, http.StatusOK, k)
}

// renderOwnKeys lists the user's keys and the projects where it holds a
// role (where it may make keys), read as the user: a user may always
// read its own.
func (s *Console) renderOwnKeys(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, k *ownKeys) {
	self := castellan.Subject{Type: castellan.SubjectUser, ID: c.user.ID}
	keys, _, err := s.services.AccessKeys.FindAccessKeys(r.Context(), c.user.OrganizationID, castellan.AccessKeyFilter{Owner: &self, PageSize: castellan.MaxPageSize})
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	k.Keys = keys
	// The projects to suggest, when the user may read its grants (a
	// user without iam:ListGrants types the project's ID).
	if grants, _, err := s.services.Grants.FindGrants(r.Context(), c.user.OrganizationID, castellan.GrantFilter{Subject: &self, PageSize: castellan.MaxPageSize}); err == nil {
		for _, g := range grants {
			if id, ok := strings.CutPrefix(g.Scope, "project/"); ok && !slices.Contains(k.Projects, id) {
				k.Projects = append(k.Projects, id)
			}
		}
	}
	p.Nav, p.OwnKeys = "own-keys", k
	renderConsole(r.Context(), w, status, "own-keys", p)
}

// createOwnKey makes the user an access key in a project where it holds
// a role; the page shows its secret this once.
func (s *Console) createOwnKey(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	k := &ownKeys{Name: strings.TrimSpace(r.PostForm.Get("name")), Project: strings.TrimSpace(r.PostForm.Get("projectId")),
		Expires: r.PostForm.Get("expires"), Fields: fieldErrors{}}
	create := castellan.AccessKeyCreate{Owner: castellan.Subject{Type: castellan.SubjectUser, ID: c.user.ID}, ProjectID: k.Project, Name: k.Name}
	var err error
	if create.ExpiresAt, err = expiryDate("expiresAt", k.Expires); err == nil {
		k.Created, err = s.services.AccessKeys.CreateAccessKey(r.Context(), c.user.OrganizationID, create)
	}
	p := c.page()
	status := http.StatusOK
	if err != nil {
		status, p.Error, k.Fields = formError(r.Context(), err)
	} else {
		p.Notice = "The key is made. Copy its secret now: it is not shown again."
		k.Name, k.Project, k.Expires = "", "", ""
	}
	s.renderOwnKeys(w, r, c, p, status, k)
}

// deleteOwnKey deletes one of the user's keys (the guard finds no
// other's for a user without the action).
func (s *Console) deleteOwnKey(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.AccessKeys.DeleteAccessKey(r.Context(), c.user.OrganizationID, r.PostForm.Get("key")); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/profile/keys?deleted=1")
}

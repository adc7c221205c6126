package console

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/castellan-iam/castellan"
)

// fieldErrors are the API's field errors of a form, by field path
// ("loginId", "users[3].email"), for the template to show next to each
// field.
type fieldErrors map[string]string

// formError is err as a form shows it: its status, the message above the
// form, and each bad field's rule next to the field.
func formError(ctx context.Context, err error) (int, string, fieldErrors) {
	status, msg := publicError(ctx, err)
	fields := fieldErrors{}
	if e := (*castellan.Error)(nil); errors.As(err, &e) {
		for _, f := range e.Fields {
			if _, seen := fields[f.Field]; !seen {
				fields[f.Field] = f.Message
			}
		}
	}
	return status, msg, fields
}

// userForm is the register page: what was typed, and what was wrong.
type userForm struct {
	Reg    castellan.UserRegistration
	Fields fieldErrors
}

// registration reads the register form: a local user registered by
// invitation (the email gets the link) or with an initial password.
func registration(form map[string][]string) castellan.UserRegistration {
	get := func(name string) string {
		if v := form[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	reg := castellan.UserRegistration{LoginID: get("loginId"), Email: get("email"), Name: get("name"), Nickname: get("nickname"),
		Mode: castellan.RegistrationMode(get("mode")), ConsoleAccess: get("consoleAccess") == "on", APIAccess: get("apiAccess") == "on",
		MFAMandatory: get("mfaMandatory") == "on", PasswordResetRequired: get("passwordResetRequired") == "on"}
	if v := form["password"]; reg.Mode == castellan.ModePassword && len(v) > 0 {
		reg.Password = v[0] // as typed: spaces count in a password
	}
	return reg
}

func (s *Console) registerPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "users"
	p.UserForm = &userForm{Reg: castellan.UserRegistration{Mode: castellan.ModeInvitation, ConsoleAccess: true, APIAccess: true}}
	renderConsole(r.Context(), w, http.StatusOK, "user-new", p)
}

// register registers one user through the guarded service and shows
// the new user's page, or the form again with the API's errors next to
// their fields.
func (s *Console) register(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	reg := registration(r.PostForm)
	done, err := s.services.Users.RegisterUser(r.Context(), c.user.OrganizationID, reg)
	if err != nil {
		p := c.page()
		status, msg, fields := formError(r.Context(), err)
		reg.Password = "" // never sent back to the browser
		p.Nav, p.Error, p.UserForm = "users", msg, &userForm{Reg: reg, Fields: fields}
		renderConsole(r.Context(), w, status, "user-new", p)
		return
	}
	seeOther(w, consolePath+"/users/"+done.User.ID+"?registered=1")
}

// userDetail is a user's page: the account information of the seed,
// its roles (direct and through groups) and its groups.
type userDetail struct {
	User   *castellan.User
	Grants []*castellan.Grant
	Groups []*castellan.Group
	// Confirm is what was typed in the delete form, when it was wrong.
	Confirm      string
	ConfirmError string
}

// userPage shows a user of the organization, read through the guarded
// services: another organization's users are not found.
func (s *Console) userPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "users"
	if r.URL.Query().Get("registered") != "" {
		p.Notice = "The user is registered."
	}
	if r.URL.Query().Get("invited") != "" {
		p.Notice = "A new invitation mail is on its way; the earlier links no longer work."
	}
	s.renderUser(w, r, c, p, http.StatusOK, &userDetail{})
}

// renderUser fills d with the user of the request's path and renders its
// page with status.
func (s *Console) renderUser(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, d *userDetail) {
	ctx, org, id := r.Context(), c.user.OrganizationID, r.PathValue("user")
	u, err := s.services.Users.FindUserByID(ctx, org, id, false)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	subject := castellan.Subject{Type: castellan.SubjectUser, ID: u.ID}
	grants, _, err := s.services.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &subject, PageSize: castellan.MaxPageSize})
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	groups, err := s.services.Groups.FindUserGroups(ctx, org, u.ID)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	d.User, d.Grants, d.Groups = u, grants, groups
	p.UserDetail = d
	renderConsole(ctx, w, status, "user", p)
}

// deleteUser deletes a user once its login ID is typed, as the API's
// confirm; a wrong phrase shows the page again with the rule next to the
// field, and deletes nothing.
func (s *Console) deleteUser(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	confirm := r.PostForm.Get("confirm")
	_, err := s.services.Users.DeleteUser(r.Context(), c.user.OrganizationID, r.PathValue("user"), confirm)
	if err != nil {
		p := c.page()
		status, msg, _ := formError(r.Context(), err)
		p.Nav, p.Error = "users", msg
		s.renderUser(w, r, c, p, status, &userDetail{Confirm: confirm, ConfirmError: msg})
		return
	}
	seeOther(w, consolePath+"/users?deleted=1")
}

// resendInvitation mails a pending user a new invitation link.
func (s *Console) resendInvitation(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.Users.ResendInvitation(r.Context(), c.user.OrganizationID, r.PathValue("user")); err != nil {
		p := c.page()
		status, msg := publicError(r.Context(), err)
		p.Nav, p.Error = "users", msg
		s.renderUser(w, r, c, p, status, &userDetail{})
		return
	}
	seeOther(w, consolePath+"/users/"+r.PathValue("user")+"?invited=1")
}

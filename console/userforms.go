package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
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
	// Scopes are where the user holds roles directly.
	Scopes []string
	Groups []*castellan.Group
	// Keys are the user's access keys (seed 000's Access key tab), or
	// KeysError why they cannot be shown.
	Keys      []*castellan.AccessKey
	KeysError string
	// Grant is the "Grant a role" form; nil for a viewer who may not
	// read the roles or projects to pick from.
	Grant *grantForm
	// Confirm is what was typed in the delete form, when it was wrong.
	Confirm      string
	ConfirmError string
}

// DeletePhrase is what the delete form asks to be typed.
func (userDetail) DeletePhrase() string { return castellan.DeleteUserPhrase }

// userPage shows a user of the organization, read through the guarded
// services: another organization's users are not found.
func (s *Console) userPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "users"
	p.Notice = append(notices{
		{"registered", "The user is registered."},
		{"invited", "A new invitation mail is on its way; the earlier links no longer work."},
	}, grantNotices...).of(r)
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
	d.User, d.Grants, d.Scopes, d.Groups = u, grants, directScopes(grants), groups
	d.Keys, _, err = s.services.AccessKeys.FindAccessKeys(ctx, org, castellan.AccessKeyFilter{Owner: &subject, PageSize: castellan.MaxPageSize})
	if err != nil {
		_, d.KeysError = publicError(ctx, err)
	}
	if d.Grant == nil {
		d.Grant, _ = s.newGrantForm(r, c, consolePath+"/users/"+u.ID+"/grants")
	}
	p.UserDetail = d
	renderConsole(ctx, w, status, "user", p)
}

// deleteUser deletes a user once the seed's phrase is typed (the
// service checks it, as for the API); a wrong phrase shows the page again with the rule next to the
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

// Quick register: up to 100 users in one table, registered together by
// invitation, all or none.

// quickRows is the number of rows the quick register table starts with.
const quickRows = 10

// quickRow is one row of the quick register table, with its errors.
type quickRow struct {
	// Number is the row's number on the page, from 1.
	Number               int
	LoginID, Email, Name string
	Fields               fieldErrors
}

// quickForm is the quick register page.
type quickForm struct {
	Rows []quickRow
	Max  int
}

func (s *Console) quickRegisterPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	n := quickRows
	if v, err := strconv.Atoi(r.URL.Query().Get("rows")); err == nil && v > 0 {
		n = min(v, maxQuickRows)
	}
	form := &quickForm{Rows: make([]quickRow, n), Max: maxQuickRows}
	for i := range form.Rows {
		form.Rows[i].Number = i + 1
	}
	p := c.page()
	p.Nav, p.QuickForm = "users", form
	renderConsole(r.Context(), w, http.StatusOK, "users-quick", p)
}

// quickRegister registers the filled rows in one call: the service
// registers all of them or none, and its errors name the item
// (users[3].email), which the page shows in that item's row.
func (s *Console) quickRegister(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	logins, emails, names := r.PostForm["loginId"], r.PostForm["email"], r.PostForm["name"]
	form := &quickForm{Max: maxQuickRows}
	var regs []castellan.UserRegistration
	var rowOf []int // the form row of each registration
	// Every filled row goes to the service, which refuses more than 100.
	for i := range logins {
		row := quickRow{LoginID: strings.TrimSpace(logins[i]), Email: field(emails, i), Name: field(names, i)}
		form.Rows = append(form.Rows, row)
		form.Rows[i].Number = i + 1
		if row.LoginID == "" && row.Email == "" && row.Name == "" {
			continue
		}
		rowOf = append(rowOf, i)
		regs = append(regs, castellan.UserRegistration{LoginID: row.LoginID, Email: row.Email, Name: row.Name,
			Mode: castellan.ModeInvitation, ConsoleAccess: true, APIAccess: true})
	}
	p := c.page()
	p.Nav, p.QuickForm = "users", form
	if len(regs) == 0 {
		p.Error = "Fill in at least one row."
		renderConsole(r.Context(), w, http.StatusBadRequest, "users-quick", p)
		return
	}
	if _, err := s.services.Users.RegisterUsers(r.Context(), c.user.OrganizationID, regs); err != nil {
		status, msg, fields := formError(r.Context(), err)
		for path, rule := range fields {
			m := itemField.FindStringSubmatch(path)
			if m == nil {
				continue
			}
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(rowOf) {
				row := &form.Rows[rowOf[i]]
				if row.Fields == nil {
					row.Fields = fieldErrors{}
				}
				row.Fields[m[2]] = rule
			}
		}
		// The message names items by their place in the call, not the
		// page's row numbers: the rows say it themselves.
		marked := 0
		for _, row := range form.Rows {
			if row.Fields != nil {
				marked++
			}
		}
		if marked > 0 {
			msg = fmt.Sprintf("Nobody was registered: %d of the rows need a change, marked below.", marked)
		}
		p.Error = msg
		renderConsole(r.Context(), w, status, "users-quick", p)
		return
	}
	seeOther(w, consolePath+"/users?registered="+strconv.Itoa(len(regs)))
}

// itemField splits a field path of RegisterUsers: users[3].email.
var itemField = regexp.MustCompile(`^users\[(\d+)\]\.(\w+)$`)

// maxQuickRows is the most users a quick register takes, as the seed
// says: up to 100 at a time.
const maxQuickRows = 100

// field returns values[i] trimmed, or "" past its end.
func field(values []string, i int) string {
	if i < len(values) {
		return strings.TrimSpace(values[i])
	}
	return ""
}

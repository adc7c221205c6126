package console

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/castellan-iam/castellan"
)

// rolesPage lists the built-in roles, then the organization's custom
// ones, with what each allows.
func (s *Console) rolesPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "roles"
	p.Notice = notices{{"deleted", "The role is deleted."}}.of(r)
	roles, err := s.allRoles(r, c)
	if err != nil {
		renderFailed(w, r, p, "roles", err)
		return
	}
	p.Roles = roles
	renderConsole(r.Context(), w, http.StatusOK, "roles", p)
}

// allRoles reads every role the organization may grant, page by page.
func (s *Console) allRoles(r *http.Request, c *consoleRequest) ([]*castellan.Role, error) {
	var all []*castellan.Role
	filter := castellan.RoleFilter{PageSize: castellan.MaxPageSize}
	for {
		roles, next, err := s.services.Roles.FindRoles(r.Context(), c.user.OrganizationID, filter)
		if err != nil {
			return nil, err
		}
		all = append(all, roles...)
		if next == "" {
			return all, nil
		}
		filter.PageToken = next
	}
}

// rolePage shows a role and the catalogue's actions its patterns allow.
func (s *Console) rolePage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = notices{{"created", "The role is created. Grant it on a user's or a group's page."},
		{"updated", "The role is changed: it allows what it lists below, wherever it is granted, from now on."}}.of(r)
	s.renderRole(w, r, c, p, http.StatusOK, nil)
}

// renderRole renders the page of the role of the request's path with
// status; a custom role's edit form holds form, or the role as it is.
func (s *Console) renderRole(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, form *roleForm) {
	role, err := s.services.Roles.FindRoleByID(r.Context(), c.user.OrganizationID, r.PathValue("role"))
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	if form == nil && !role.BuiltIn {
		form = &roleForm{Name: role.Name, Description: role.Description, Actions: strings.Join(role.Actions, "\n"), Fields: fieldErrors{}}
	}
	p.Nav, p.Role, p.RoleActions, p.RoleForm = "roles", role, s.services.Catalog.Expand(role.Actions), form
	renderConsole(r.Context(), w, status, "role", p)
}

// updateRole changes a custom role's name, description and actions.
func (s *Console) updateRole(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	f := &roleForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		Actions: r.PostForm.Get("actions")}
	actions := words(f.Actions)
	_, err := s.services.Roles.UpdateRole(r.Context(), c.user.OrganizationID, r.PathValue("role"),
		castellan.RoleUpdate{Name: &f.Name, Description: &f.Description, Actions: actions})
	if err != nil {
		p := c.page()
		var status int
		status, p.Error, f.Fields = roleErrors(r, err)
		s.renderRole(w, r, c, p, status, f)
		return
	}
	seeOther(w, consolePath+"/roles/"+r.PathValue("role")+"?updated=1")
}

// words splits what was typed one per line, or separated by commas or
// spaces: action patterns, emails, login IDs.
func words(typed string) []string {
	return strings.FieldsFunc(typed, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// roleErrors is a refused role form's status, message and field errors,
// the patterns' errors (actions[3]) on the one text area.
func roleErrors(r *http.Request, err error) (int, string, fieldErrors) {
	status, msg, fields := formError(r.Context(), err)
	out := fieldErrors{}
	for path, rule := range fields {
		if strings.HasPrefix(path, "actions[") {
			path = "actions"
		}
		out[path] = cmp.Or(out[path], rule)
	}
	if castellan.ErrorCode(err) == castellan.CodeRoleNameTaken {
		out["name"] = msg
	}
	return status, msg, out
}

// grantForm is the "Grant a role" form of a user's or a group's page:
// the roles and projects to pick from, what was sent and what was wrong.
type grantForm struct {
	Action, CSRF string
	Roles        []*castellan.Role
	Projects     []*castellan.Project
	// Organization is the scope of the organization itself.
	Organization string
	RoleID       string
	Scope        string
	Expires      string
	Fields       fieldErrors
}

// newGrantForm fills the pickers of the grant form posting to action.
func (s *Console) newGrantForm(r *http.Request, c *consoleRequest, action string) (*grantForm, error) {
	roles, err := s.allRoles(r, c)
	if err != nil {
		return nil, err
	}
	projects, _, err := s.services.Projects.FindProjects(r.Context(), c.user.OrganizationID, castellan.ProjectFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		return nil, err
	}
	org := castellan.OrganizationScope(c.user.OrganizationID).String()
	// The project the console works in is picked first.
	scope := org
	if c.project != nil {
		scope = castellan.ProjectScope(c.project.ID).String()
	}
	return &grantForm{Action: action, CSRF: c.csrf, Roles: roles, Projects: projects, Organization: org, Scope: scope}, nil
}

// expiryDate reads a form's expiry date (00:00 UTC of that day) for the
// field named field; nil for none typed.
func expiryDate(field, typed string) (*time.Time, error) {
	if typed == "" {
		return nil, nil
	}
	day, err := time.Parse(time.DateOnly, typed)
	if err != nil {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: field, Rule: "format", Message: "must be a date, 2026-12-31"}})
	}
	return &day, nil
}

// grantItemField is the one item the form grants, as error paths name
// it (grants[0].scope, or grants[0] for the item).
var grantItemField = regexp.MustCompile(`^grants\[0\]\.?`)

// grant gives the role picked to subject on the scope picked, with the
// expiry picked (the grant stops counting at 00:00 UTC of that day). It
// returns the form with the API's errors when the service refused.
func (s *Console) grant(r *http.Request, c *consoleRequest, subject castellan.Subject, action string) (*grantForm, int, string) {
	f := r.PostForm
	form := &grantForm{RoleID: f.Get("roleId"), Scope: strings.TrimSpace(f.Get("scope")), Expires: f.Get("expires"), Fields: fieldErrors{}}
	if other := strings.TrimSpace(f.Get("otherScope")); other != "" {
		form.Scope = other
	}
	g := castellan.GrantCreate{RoleID: form.RoleID, Scope: form.Scope, Subject: subject}
	var err error
	if g.ExpiresAt, err = expiryDate("grants[0].expiresAt", form.Expires); err == nil {
		_, _, err = s.services.Grants.CreateGrants(r.Context(), c.user.OrganizationID, []castellan.GrantCreate{g})
	}
	if err == nil {
		return nil, http.StatusSeeOther, ""
	}
	status, msg, fields := formError(r.Context(), err)
	for path, rule := range fields {
		// The item as a whole (the hierarchy principle) is about its role.
		form.Fields[cmp.Or(grantItemField.ReplaceAllString(path, ""), "roleId")] = rule
	}
	if len(form.Fields) == 0 {
		form.Fields["scope"] = msg // a scope or role that does not fit: say it by the picker
	}
	pickers, perr := s.newGrantForm(r, c, action)
	if perr == nil {
		form.Action, form.CSRF, form.Roles, form.Projects, form.Organization = pickers.Action, pickers.CSRF, pickers.Roles, pickers.Projects, pickers.Organization
	}
	return form, status, msg
}

// grantNotices are the notices of a page a grant form or a revocation
// sent the browser back to.
var grantNotices = notices{
	{"granted", "The role is granted; it counts from now on."},
	{"revoked", "The roles are removed; they stopped counting at once."},
}

// revoke removes the roles ticked on a user's or group's page ("Remove
// roles in bulk"), all on one scope, through RemoveRoles: at least one
// role remains there ("Remove all roles" takes the last ones).
func (s *Console) revoke(r *http.Request, c *consoleRequest, subject castellan.Subject) error {
	ctx, org := r.Context(), c.user.OrganizationID
	if r.PostForm.Get("all") != "" {
		if r.PostForm.Get("confirm") != "on" {
			return castellan.Invalid([]castellan.FieldError{{Field: "confirm", Rule: "required", Message: "tick the box to confirm that every role on this scope goes"}})
		}
		_, err := s.services.Grants.RemoveRoles(ctx, org, subject, r.PostForm.Get("scope"), nil, true)
		return err
	}
	ids := r.PostForm["grant"]
	if len(ids) == 0 {
		return castellan.Invalid([]castellan.FieldError{{Field: "grant", Rule: "required", Message: "tick at least one role to remove"}})
	}
	grants, err := s.services.Grants.FindGrantsByID(ctx, org, ids)
	if err != nil {
		return err
	}
	var roles []string
	for _, g := range grants {
		if g.Subject != subject || g.Scope != grants[0].Scope {
			return castellan.Invalid([]castellan.FieldError{{Field: "grant", Rule: "oneScope",
				Message: "tick roles of this page's " + string(subject.Type) + " on one scope at a time"}})
		}
		roles = append(roles, g.RoleID)
	}
	_, err = s.services.Grants.RemoveRoles(ctx, org, subject, grants[0].Scope, roles, false)
	return err
}

// directScopes are the scopes of grants held directly (not through a
// group), each once, in the order of grants: where "Remove all roles"
// can act.
func directScopes(grants []*castellan.Grant) []string {
	var scopes []string
	for _, g := range grants {
		if g.Via == nil && !slices.Contains(scopes, g.Scope) {
			scopes = append(scopes, g.Scope)
		}
	}
	return scopes
}

// removeAllForm is the "Remove all roles" form of a user's or group's
// page.
type removeAllForm struct {
	Action, CSRF string
	Scopes       []string
}

// RemoveAll is the user page's "Remove all roles" form.
func (d *userDetail) RemoveAll(csrf string) removeAllForm {
	return removeAllForm{Action: consolePath + "/users/" + d.User.ID + "/grants/revoke", CSRF: csrf, Scopes: d.Scopes}
}

// RemoveAll is the group page's "Remove all roles" form.
func (d *groupDetail) RemoveAll(csrf string) removeAllForm {
	return removeAllForm{Action: consolePath + "/groups/" + d.Group.ID + "/grants/revoke", CSRF: csrf, Scopes: d.Scopes}
}

// editRolesForm is the seed's "Edit role" of the organization tab: every
// organization role, those the subject holds directly on the
// organization ticked.
type editRolesForm struct {
	Action, CSRF string
	Roles        []*castellan.Role
	Held         map[string]bool
}

// EditRoles is the user page's "Edit role" form.
func (d *userDetail) EditRoles(csrf string) *editRolesForm {
	return editRoles(d.Grant, d.Grants, consolePath+"/users/"+d.User.ID+"/grants/set", csrf)
}

// EditRoles is the group page's "Edit role" form.
func (d *groupDetail) EditRoles(csrf string) *editRolesForm {
	return editRoles(d.Grant, d.Grants, consolePath+"/groups/"+d.Group.ID+"/grants/set", csrf)
}

// editRoles builds the form from the grant form's roles; nil when the
// viewer may not read them.
func editRoles(g *grantForm, grants []*castellan.Grant, action, csrf string) *editRolesForm {
	if g == nil {
		return nil
	}
	f := &editRolesForm{Action: action, CSRF: csrf, Held: map[string]bool{}}
	for _, r := range g.Roles {
		if r.Kind == castellan.RoleOrganization {
			f.Roles = append(f.Roles, r)
		}
	}
	for _, gr := range grants {
		if gr.Via == nil && gr.Scope == g.Organization {
			f.Held[gr.RoleID] = true
		}
	}
	return f
}

// setRoles serves the "Edit role" form: the roles ticked become exactly
// the subject's roles on the organization (SetRoles, which keeps at
// least one).
func (s *Console) setRoles(r *http.Request, c *consoleRequest, subject castellan.Subject) error {
	org := castellan.OrganizationScope(c.user.OrganizationID).String()
	_, _, err := s.services.Grants.SetRoles(r.Context(), c.user.OrganizationID, subject, org, r.PostForm["role"])
	return err
}

// grantee is a page grant forms post from: a user's or a group's.
type grantee struct {
	kind castellan.SubjectType
	// param is the page's path parameter and, with an s, its path.
	param string
	// render shows the page again with status and the grant form.
	render func(s *Console, w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, form *grantForm)
}

var (
	userGrantee = grantee{kind: castellan.SubjectUser, param: "user",
		render: func(s *Console, w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, form *grantForm) {
			s.renderUser(w, r, c, p, status, &userDetail{Grant: form})
		}}
	groupGrantee = grantee{kind: castellan.SubjectGroup, param: "group",
		render: func(s *Console, w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, form *grantForm) {
			s.renderGroup(w, r, c, p, status, &groupDetail{Grant: form})
		}}
)

// page is the path of the grantee's page of r.
func (g grantee) page(r *http.Request) string {
	return consolePath + "/" + g.param + "s/" + r.PathValue(g.param)
}

// grantTo serves a grant form of g's page.
func (s *Console) grantTo(g grantee) func(http.ResponseWriter, *http.Request, *consoleRequest) {
	return func(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
		page := g.page(r)
		form, status, msg := s.grant(r, c, castellan.Subject{Type: g.kind, ID: r.PathValue(g.param)}, page+"/grants")
		if form == nil {
			seeOther(w, page+"?granted=1")
			return
		}
		p := c.page()
		p.Error = msg
		g.render(s, w, r, c, p, status, form)
	}
}

// changeRoles serves a form of g's page that changes the subject's
// roles with change, sending the browser back with the notice flag, or
// showing the page again with the refusal.
func (s *Console) changeRoles(g grantee, flag string, change func(*http.Request, *consoleRequest, castellan.Subject) error) func(http.ResponseWriter, *http.Request, *consoleRequest) {
	return func(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
		if err := change(r, c, castellan.Subject{Type: g.kind, ID: r.PathValue(g.param)}); err != nil {
			p := c.page()
			status, msg := publicError(r.Context(), err)
			p.Error = msg
			g.render(s, w, r, c, p, status, nil)
			return
		}
		seeOther(w, g.page(r)+"?"+flag+"=1")
	}
}

// explanation is the explain page: the question asked and the answer.
type explanation struct {
	User, Action, Resource string
	Actions                []string
	Decision               *castellan.Decision
	Fields                 fieldErrors
}

// explainPage answers "why does this user have access here?": the
// grants that allow the action on the resource, or the near misses and
// the control policy that refused it. It asks the guarded decision
// service, as POST /v1/authorize:explain does: asking about another user
// needs iam:Authorize on the organization.
func (s *Console) explainPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	q := r.URL.Query()
	e := &explanation{User: strings.TrimSpace(q.Get("user")), Action: strings.TrimSpace(q.Get("action")),
		Resource: strings.TrimSpace(q.Get("resource")), Actions: s.services.Catalog.Actions(), Fields: fieldErrors{}}
	p := c.page()
	p.Nav, p.Explanation = "explain", e
	if e.User == "" && e.Action == "" && e.Resource == "" {
		// A blank form asks about the project the console works in.
		if c.project != nil {
			e.Resource = castellan.ProjectScope(c.project.ID).String()
		}
		renderConsole(r.Context(), w, http.StatusOK, "explain", p)
		return
	}
	id, err := s.findUser(r, c, e.User)
	var d castellan.Decision
	if err == nil {
		d, err = s.decisions.Explain(r.Context(), castellan.AuthzRequest{Action: e.Action, Resource: e.Resource,
			Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: id, OrganizationID: c.user.OrganizationID}})
	}
	if err != nil {
		status, msg, fields := formError(r.Context(), err)
		for path, rule := range fields {
			e.Fields[strings.TrimPrefix(path, "body.")] = rule
		}
		if castellan.ErrorCode(err) == castellan.CodeUserNotFound {
			e.Fields["user"] = msg
		}
		p.Error = msg
		renderConsole(r.Context(), w, status, "explain", p)
		return
	}
	e.Decision = &d
	renderConsole(r.Context(), w, http.StatusOK, "explain", p)
}

// roleForm is the create role page.
type roleForm struct {
	Name, Description, Kind, Actions string
	Kinds                            []castellan.RoleKind
	Fields                           fieldErrors
}

// roleKinds are the kinds a custom role may be of.
var roleKinds = []castellan.RoleKind{castellan.RoleOrganization, castellan.RoleProject}

func (s *Console) newRolePage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav, p.RoleForm = "roles", &roleForm{Kind: string(castellan.RoleProject), Kinds: roleKinds, Fields: fieldErrors{}}
	renderConsole(r.Context(), w, http.StatusOK, "role-new", p)
}

// createRole creates a custom role from action patterns, one per line
// (or separated by commas or spaces); the service checks each against
// the catalogue and names the bad ones.
func (s *Console) createRole(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	f := &roleForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		Kind: r.PostForm.Get("kind"), Actions: r.PostForm.Get("actions"), Kinds: roleKinds}
	actions := words(f.Actions)
	role, err := s.services.Roles.CreateRole(r.Context(), c.user.OrganizationID,
		castellan.RoleCreate{Name: f.Name, Description: f.Description, Kind: castellan.RoleKind(f.Kind), Actions: actions})
	if err == nil {
		seeOther(w, consolePath+"/roles/"+role.ID+"?created=1")
		return
	}
	p := c.page()
	var status int
	status, p.Error, f.Fields = roleErrors(r, err)
	p.Nav, p.RoleForm = "roles", f
	renderConsole(r.Context(), w, status, "role-new", p)
}

// deleteRole deletes a custom role nobody holds.
func (s *Console) deleteRole(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.Roles.DeleteRole(r.Context(), c.user.OrganizationID, r.PathValue("role"), false); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/roles?deleted=1")
}

package console

import (
	"net/http"
	"strings"

	"github.com/castellan-iam/castellan"
)

// groupsPage lists the organization's groups, 50 a page, through the
// guarded service.
func (s *Console) groupsPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav = "groups"
	p.Notice = notices{{"deleted", "The group is deleted: its members lost the roles it gave them."}}.of(r)
	serveList(w, r, p, "groups", "/groups", func(token string) ([]*castellan.Group, string, error) {
		return s.services.Groups.FindGroups(r.Context(), c.user.OrganizationID, castellan.GroupFilter{PageSize: usersPageSize, PageToken: token})
	}, func(p *consolePage, l *listPage[castellan.Group]) { p.Groups = l })
}

// groupForm is the create group page.
type groupForm struct {
	Name, Description string
	Fields            fieldErrors
}

func (s *Console) newGroupPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Nav, p.GroupForm = "groups", &groupForm{}
	renderConsole(r.Context(), w, http.StatusOK, "group-new", p)
}

func (s *Console) createGroup(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	gc := castellan.GroupCreate{Name: strings.TrimSpace(r.PostForm.Get("name")), Description: strings.TrimSpace(r.PostForm.Get("description"))}
	g, err := s.services.Groups.CreateGroup(r.Context(), c.user.OrganizationID, gc)
	if err != nil {
		p := c.page()
		status, msg, fields := formError(r.Context(), err)
		if castellan.ErrorCode(err) == castellan.CodeGroupNameTaken {
			fields["name"] = msg
		}
		p.Nav, p.Error, p.GroupForm = "groups", msg, &groupForm{Name: gc.Name, Description: gc.Description, Fields: fields}
		renderConsole(r.Context(), w, status, "group-new", p)
		return
	}
	seeOther(w, consolePath+"/groups/"+g.ID+"?created=1")
}

// groupDetail is a group's page: the group, its members, its roles, and
// what the last form sent got wrong.
type groupDetail struct {
	Group       *castellan.Group
	Members     []*castellan.GroupMember
	MoreMembers bool
	Grants      []*castellan.Grant
	// Scopes are where the group holds roles.
	Scopes []string
	// Grant is the "Grant a role" form, as on a user's page.
	Grant *grantForm
	// Add is what was typed in the add members form; AddError its
	// rule. Confirm and ConfirmError are the delete form's.
	Add, AddError         string
	Confirm, ConfirmError string
}

func (s *Console) groupPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = append(notices{
		{"created", "The group is created. Add its members and give it roles."},
		{"added", "The members are added: they hold the group's roles from now on."},
		{"removed", "The members are removed: they lost the group's roles and were signed out."},
	}, grantNotices...).of(r)
	s.renderGroup(w, r, c, p, http.StatusOK, &groupDetail{})
}

// renderGroup fills d with the group of the request's path and renders
// its page with status.
func (s *Console) renderGroup(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, d *groupDetail) {
	ctx, org, id := r.Context(), c.user.OrganizationID, r.PathValue("group")
	g, err := s.services.Groups.FindGroupByID(ctx, org, id)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	members, next, err := s.services.Groups.FindGroupMembers(ctx, org, g.ID, castellan.GroupFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	subject := castellan.Subject{Type: castellan.SubjectGroup, ID: g.ID}
	grants, _, err := s.services.Grants.FindGrants(ctx, org, castellan.GrantFilter{Subject: &subject, PageSize: castellan.MaxPageSize})
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	d.Group, d.Members, d.MoreMembers, d.Grants, d.Scopes = g, members, next != "", grants, directScopes(grants)
	if d.Grant == nil {
		d.Grant, _ = s.newGrantForm(r, c, consolePath+"/groups/"+g.ID+"/grants")
	}
	p.Nav, p.GroupDetail = "groups", d
	renderConsole(ctx, w, status, "group", p)
}

// addMembers adds the users whose login IDs or emails were typed
// (separated by commas, spaces or lines), as the seed's [Add member]
// takes user IDs: each must name a registered user of the organization.
func (s *Console) addMembers(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	typed := r.PostForm.Get("users")
	ids, err := s.resolveUsers(r, c, typed)
	if err == nil {
		_, err = s.services.Groups.AddGroupMembers(r.Context(), c.user.OrganizationID, r.PathValue("group"), ids)
	}
	if err != nil {
		p := c.page()
		status, msg := publicError(r.Context(), err)
		p.Error = msg
		s.renderGroup(w, r, c, p, status, &groupDetail{Add: typed, AddError: msg})
		return
	}
	seeOther(w, consolePath+"/groups/"+r.PathValue("group")+"?added=1")
}

// resolveUsers returns the IDs of the users typed by login ID or email,
// read through the guarded service (whoever may not list users finds
// none); a name that is no user's is a field error naming it.
func (s *Console) resolveUsers(r *http.Request, c *consoleRequest, typed string) ([]string, error) {
	names := words(typed)
	if len(names) == 0 {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: "users", Rule: "required", Message: "type at least one login ID or email"}})
	}
	if len(names) > castellan.MaxBatchItems {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: "users", Rule: "maxItems",
			Message: "at most 100 users at a time"}})
	}
	var ids []string
	for _, name := range names {
		id, err := s.findUser(r, c, name)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// findUser returns the ID of the user whose login ID or email is name,
// case-insensitively: the search matches their beginnings, so its pages
// are read until one matches whole, at most maxSearchPages of them.
func (s *Console) findUser(r *http.Request, c *consoleRequest, name string) (string, error) {
	filter := castellan.UserFilter{Query: &name, Sort: "loginId", PageSize: castellan.MaxPageSize}
	for page := 1; ; page++ {
		if page > maxSearchPages {
			return "", castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidField,
				"too many users' login IDs, emails or names start with %q: type the whole email", name)
		}
		found, next, err := s.services.Users.FindUsers(r.Context(), c.user.OrganizationID, filter)
		if err != nil {
			return "", err
		}
		for _, u := range found {
			if strings.EqualFold(u.LoginID, name) || strings.EqualFold(u.Email, name) {
				return u.ID, nil
			}
		}
		if next == "" {
			return "", castellan.Errorf(castellan.ENOTFOUND, castellan.CodeUserNotFound, "no user of the organization has the login ID or email %q", name)
		}
		filter.PageToken = next
	}
}

// maxSearchPages bounds the pages findUser reads for one name.
const maxSearchPages = 20

// removeMembers removes the members ticked on the group's page.
func (s *Console) removeMembers(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	ids := r.PostForm["member"]
	var err error
	if len(ids) == 0 {
		err = castellan.Invalid([]castellan.FieldError{{Field: "member", Rule: "required", Message: "tick at least one member to remove"}})
	} else {
		_, err = s.services.Groups.RemoveGroupMembers(r.Context(), c.user.OrganizationID, r.PathValue("group"), ids)
	}
	if err != nil {
		p := c.page()
		status, msg := publicError(r.Context(), err)
		p.Error = msg
		s.renderGroup(w, r, c, p, status, &groupDetail{})
		return
	}
	seeOther(w, consolePath+"/groups/"+r.PathValue("group")+"?removed=1")
}

// deleteGroup deletes the group once its name is typed, as the seed asks.
func (s *Console) deleteGroup(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	ctx, org, id := r.Context(), c.user.OrganizationID, r.PathValue("group")
	confirm := r.PostForm.Get("confirm")
	g, err := s.services.Groups.FindGroupByID(ctx, org, id)
	if err == nil && confirm != g.Name {
		err = castellan.Invalid([]castellan.FieldError{{Field: "confirm", Rule: "confirmation", Message: "type the group's name exactly to delete it"}})
	}
	if err == nil {
		_, err = s.services.Groups.DeleteGroup(ctx, org, id)
	}
	if err != nil {
		p := c.page()
		status, msg := publicError(ctx, err)
		p.Error = msg
		s.renderGroup(w, r, c, p, status, &groupDetail{Confirm: confirm, ConfirmError: msg})
		return
	}
	seeOther(w, consolePath+"/groups?deleted=1")
}

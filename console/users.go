package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/castellan-iam/castellan"
)

// usersPageSize is the number of users a page of the list shows.
const usersPageSize = 50

// userList is the users page: the filters as asked, and one page of the
// list with the links to the first and the next page.
type userList struct {
	pager
	Query, Status, Sort string
	List                []*castellan.User
	// Filtered is true when a search or a status narrows the list;
	// Failed when the list could not be read (the page says why).
	Filtered, Failed bool
}

// option is a choice of a select.
type option struct{ Value, Label string }

// The users page's choices: the statuses a user lists under (deleted
// users are tombstones, not listed) and the orders of the list.
var (
	userStatuses = []option{{castellan.UserActive, "Active"}, {castellan.UserPendingInvitation, "Invitation pending"}, {castellan.UserDisabled, "Disabled"}}
	userSorts    = []option{{"registeredAt", "Newest first"}, {"loginId", "Login ID"}, {"name", "Name"}}
	statusLabels = func() map[string]string {
		m := map[string]string{castellan.UserDeleted: "Deleted"}
		for _, o := range userStatuses {
			m[o.Value] = o.Label
		}
		return m
	}()
)

// usersPage lists the organization's users with the seed's columns
// (login ID, name, nickname, organization roles, groups, last login,
// registration), searched by the start of a login ID, email or name,
// filtered by status, sorted, a page at a time. It reads them through the
// guarded service: who may list users, and in which organization, is
// decided there, as for the API.
func (s *Console) usersPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	q := r.URL.Query()
	l := &userList{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Sort: q.Get("sort"), pager: pager{PageToken: q.Get("page")}}
	if l.Sort == "" {
		l.Sort = userSorts[0].Value
	}
	filter := castellan.UserFilter{Query: optional(l.Query), Status: optional(l.Status), Sort: l.Sort, PageSize: usersPageSize, PageToken: l.PageToken}
	l.Filtered = filter.Query != nil || filter.Status != nil
	p := c.page()
	p.Nav, p.Users = "users", l
	p.Notice = notices{
		{"registered", "Registered; each new user gets an invitation mail, valid for 7 days."},
		{"deleted", "The user is deleted: its sessions, tokens and grants ended with it."},
	}.of(r)
	list, next, err := s.services.Users.FindUsers(r.Context(), c.user.OrganizationID, filter)
	if err != nil {
		l.Failed = true
		renderFailed(w, r, p, "users", err)
		return
	}
	keep := url.Values{"sort": {l.Sort}}
	for key, value := range map[string]string{"q": l.Query, "status": l.Status} {
		if value != "" {
			keep.Set(key, value)
		}
	}
	l.List = list
	l.link("/users", keep, next)
	renderConsole(r.Context(), w, http.StatusOK, "users", p)
}

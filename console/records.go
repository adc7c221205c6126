package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// The organization's records: its access keys and its audit log, each a
// filtered list read through the guarded services.

// keyList is the access keys page (seed 000's "View access key").
type keyList struct {
	pager
	Expired bool
	List    []*castellan.AccessKey
	Now     time.Time
}

func (s *Console) accessKeysPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	q := r.URL.Query()
	l := &keyList{pager: pager{PageToken: q.Get("page")}, Expired: q.Get("expired") == "on", Now: s.now()}
	filter := castellan.AccessKeyFilter{PageSize: usersPageSize, PageToken: l.PageToken}
	if l.Expired {
		filter.Expired = &l.Expired
	}
	p := c.page()
	p.Nav, p.Keys = "keys", l
	list, next, err := s.services.AccessKeys.FindAccessKeys(r.Context(), c.user.OrganizationID, filter)
	if err != nil {
		p.Keys = nil
		renderFailed(w, r, p, "keys", err)
		return
	}
	keep := url.Values{}
	if l.Expired {
		keep.Set("expired", "on")
	}
	l.List = list
	l.link("/keys", keep, next)
	renderConsole(r.Context(), w, http.StatusOK, "keys", p)
}

// pager is where a list page is: its page token, and the links to the
// first page and the next one ("" on the last page).
type pager struct {
	PageToken   string
	First, Next string
}

// link sets the links of the list at path with the filters of keep,
// next being the store's token of the next page.
func (p *pager) link(path string, keep url.Values, next string) {
	p.First = pageLink(path, keep, "")
	if next != "" {
		p.Next = pageLink(path, keep, next)
	}
}

// listPage is one page of a list without filters.
type listPage[T any] struct {
	pager
	List []*T
}

// serveList renders page name with one page of a list without filters
// at path: find reads the page of a token; put sets it in the page data
// (nil when it could not be read).
func serveList[T any](w http.ResponseWriter, r *http.Request, p consolePage, name, path string,
	find func(token string) ([]*T, string, error), put func(*consolePage, *listPage[T])) {
	l := &listPage[T]{pager: pager{PageToken: r.URL.Query().Get("page")}}
	list, next, err := find(l.PageToken)
	if err != nil {
		put(&p, nil)
		renderFailed(w, r, p, name, err)
		return
	}
	l.List = list
	l.link(path, nil, next)
	put(&p, l)
	renderConsole(r.Context(), w, http.StatusOK, name, p)
}

// optional is s, or nil when it is empty: a filter that is not set.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// pageLink is the link to the console list at path with the filters of
// keep, at the page of token (the first page for "").
func pageLink(path string, keep url.Values, token string) string {
	v := url.Values{}
	for k, vs := range keep {
		v[k] = vs
	}
	if token != "" {
		v.Set("page", token)
	}
	link := consolePath + path
	if len(v) > 0 {
		link += "?" + v.Encode()
	}
	return link
}

// auditLog is the audit log page: its filters and one page of events.
type auditLog struct {
	pager
	Actor, Action, Target, Since, Until string
	List                                []*castellan.AuditEvent
	Fields                              fieldErrors
}

// day reads the date typed in field name as its 00:00 UTC plus after,
// keeping it in the paging links; nil for none, and a field error for a
// date that is not one.
func (l *auditLog) day(keep url.Values, name, typed string, after time.Duration) *time.Time {
	if typed == "" {
		return nil
	}
	t, err := time.Parse(time.DateOnly, typed)
	if err != nil {
		l.Fields[name] = "must be a date, 2026-12-31"
		return nil
	}
	keep.Set(name, typed)
	t = t.Add(after)
	return &t
}

// auditPage lists the organization's audit events, newest first,
// filtered by actor, action, target and period (dates, UTC).
func (s *Console) auditPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	q := r.URL.Query()
	l := &auditLog{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Target: strings.TrimSpace(q.Get("target")),
		Since: q.Get("since"), Until: q.Get("until"), pager: pager{PageToken: q.Get("page")}, Fields: fieldErrors{}}
	filter := castellan.AuditFilter{ActorID: optional(l.Actor), Action: optional(l.Action), TargetID: optional(l.Target),
		PageSize: usersPageSize, PageToken: l.PageToken}
	keep := url.Values{}
	for name, v := range map[string]*string{"actor": &l.Actor, "action": &l.Action, "target": &l.Target} {
		if *v != "" {
			keep.Set(name, *v)
		}
	}
	// A day's events: since its 00:00 and until the next day's, UTC.
	filter.Since = l.day(keep, "since", l.Since, 0)
	filter.Until = l.day(keep, "until", l.Until, 24*time.Hour)
	p := c.page()
	p.Nav, p.Audit = "audit", l
	if len(l.Fields) > 0 {
		p.Error = "Correct the dates to read the log."
		renderConsole(r.Context(), w, http.StatusBadRequest, "audit", p)
		return
	}
	list, next, err := s.services.Audit.FindAuditEvents(r.Context(), c.user.OrganizationID, filter)
	if err != nil {
		p.Audit.List = nil
		renderFailed(w, r, p, "audit", err)
		return
	}
	l.List = list
	l.link("/audit", keep, next)
	renderConsole(r.Context(), w, http.StatusOK, "audit", p)
}

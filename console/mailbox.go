package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan"
)

// The dev mailbox: on a server without SMTP, the mails of the outbox,
// rendered as their recipients would read them. The guarded outbox lets
// only the organization's owners read them (their links give accounts
// away); anyone else gets the guard's refusal.

// mailbox is the dev mailbox page: its filter and one page of mails.
type mailbox struct {
	pager
	To   string
	List []devMail
}

// devMail is a mail as its recipient reads it: the text body cut into
// plain text and links, so that the links can be followed.
type devMail struct {
	*castellan.Mail
	Subject     string
	Body        []mailPart
	RenderError string
}

// mailPart is a run of a mail's text, or a link in it.
type mailPart struct {
	Text string
	Link bool
}

// mailLink finds the links of a rendered text body.
var mailLink = regexp.MustCompile(`https?://[^\s<>"]+`)

// splitLinks cuts text into runs of text and links.
func splitLinks(text string) []mailPart {
	var parts []mailPart
	at := 0
	for _, m := range mailLink.FindAllStringIndex(text, -1) {
		// Punctuation after a link ends the sentence, not the link.
		m[1] = m[0] + len(strings.TrimRight(text[m[0]:m[1]], ".,;:!?)"))
		if m[0] > at {
			parts = append(parts, mailPart{Text: text[at:m[0]]})
		}
		parts = append(parts, mailPart{Text: text[m[0]:m[1]], Link: true})
		at = m[1]
	}
	if at < len(text) {
		parts = append(parts, mailPart{Text: text[at:]})
	}
	return parts
}

// readsMailbox reports whether the server has the dev mailbox and the
// guarded outbox lets the user read its organization's (the navigation
// links to it then). It costs a read of one mail, on a server without
// SMTP only.
func (s *Console) readsMailbox(r *http.Request, c *consoleRequest) bool {
	if s.devMailbox == nil {
		return false
	}
	_, _, err := s.services.Outbox.FindMail(r.Context(), castellan.MailFilter{OrganizationID: &c.user.OrganizationID, PageSize: 1})
	return err == nil
}

// mailboxPage lists the organization's mails, newest first, by
// recipient.
func (s *Console) mailboxPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	q := r.URL.Query()
	l := &mailbox{pager: pager{PageToken: q.Get("page")}, To: strings.TrimSpace(q.Get("to"))}
	p := c.page()
	p.Nav, p.Mailbox = "mailbox", l
	org := c.user.OrganizationID
	mails, next, err := s.services.Outbox.FindMail(r.Context(), castellan.MailFilter{
		OrganizationID: &org, To: optional(l.To), PageSize: usersPageSize, PageToken: l.PageToken})
	if err != nil {
		p.Mailbox = nil
		renderFailed(w, r, p, "mailbox", err)
		return
	}
	for _, m := range mails {
		dm := devMail{Mail: m}
		if out, err := s.devMailbox.RenderMail(m); err != nil {
			dm.RenderError = err.Error()
		} else {
			dm.Subject, dm.Body = out.Subject, splitLinks(out.Text)
		}
		l.List = append(l.List, dm)
	}
	keep := url.Values{}
	if l.To != "" {
		keep.Set("to", l.To)
	}
	l.link("/mailbox", keep, next)
	renderConsole(r.Context(), w, http.StatusOK, "mailbox", p)
}

package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// mailFilterParams are the filters of both mail lists.
type mailFilterParams struct {
	PageParams
	Org    string `query:"org" doc:"Only mails of this organization (a UUID)."`
	To     string `query:"to" doc:"Only mails to this address (exact)."`
	Status string `query:"status" enum:"pending,sent,dead," doc:"Only mails in this state: pending (not delivered yet, maybe retrying), sent, or dead (given up)."`
}

func (p *mailFilterParams) filter() castellan.MailFilter {
	return castellan.MailFilter{
		OrganizationID: optional(p.Org), To: optional(p.To), Status: optional(p.Status),
		PageSize: p.PageSize, PageToken: p.PageToken,
	}
}

// devMail is a mail of the dev mailbox, shown as its recipient reads it.
type devMail struct {
	castellan.Mail
	Subject     string `json:"subject" doc:"The rendered subject."`
	Text        string `json:"text" doc:"The rendered text body."`
	HTML        string `json:"html" doc:"The rendered HTML body."`
	RenderError string `json:"renderError,omitempty" doc:"Why the mail cannot be rendered (the sender marks it dead)."`
}

type listDevMailOutput struct {
	Body struct {
		Mails         []*devMail `json:"mails" nullable:"false"`
		NextPageToken string     `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

type listMailOutput struct {
	Body struct {
		Mails         []*castellan.Mail `json:"mails" nullable:"false"`
		NextPageToken string            `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerMail() {
	const tag = "Mail"
	if s.devMailbox != nil {
		register(s, op{
			id: "list-dev-mailbox", method: http.MethodGet, path: "/v1/dev/mailbox", tag: tag,
			action: castellan.ActionListMail, errors: []int{http.StatusNotFound},
			summary: "List the dev mailbox",
			desc: "Only on a server without SMTP (development): the mails of the outbox, newest first, rendered as their recipients would read them, links included. " +
				"The mails show invitation and reset links, which give the accounts to whoever reads them: the operator reads every organization's, " +
				"an organization's owner (who holds every action on it) reads its own with org=; nobody else reads any.",
		}, s.listDevMail)
	}
	register(s, op{
		id: "list-mail", method: http.MethodGet, path: "/v1/mail", tag: tag,
		action: castellan.ActionListMail, errors: []int{http.StatusNotFound},
		summary: "List outgoing mail",
		desc: "The outbox, newest first, for the operator, or for an organization's owner with org=: `status=dead` lists the dead letters, mails the sender gave up on, with the last error. " +
			"Links and tokens in the data are redacted.",
	}, s.listMail)
}

func (s *Server) listDevMail(ctx context.Context, in *mailFilterParams) (*listDevMailOutput, error) {
	// The dev mailbox shows invitation and reset links: whoever reads a
	// link can take the account, so the guard lets only the operator and
	// the organization's owners read the outbox.
	mails, next, err := s.services.Outbox.FindMail(ctx, in.filter())
	if err != nil {
		return nil, err
	}
	out := &listDevMailOutput{}
	out.Body.Mails, out.Body.NextPageToken = make([]*devMail, len(mails)), next
	for i, m := range mails {
		dm := &devMail{Mail: *m}
		if r, err := s.devMailbox.RenderMail(m); err != nil {
			dm.RenderError = err.Error()
		} else {
			dm.Subject, dm.Text, dm.HTML = r.Subject, r.Text, r.HTML
		}
		out.Body.Mails[i] = dm
	}
	return out, nil
}

func (s *Server) listMail(ctx context.Context, in *mailFilterParams) (*listMailOutput, error) {
	mails, next, err := s.services.Outbox.FindMail(ctx, in.filter())
	if err != nil {
		return nil, err
	}
	for _, m := range mails {
		castellan.RedactMailSecrets(m.Data)
	}
	out := &listMailOutput{}
	out.Body.Mails, out.Body.NextPageToken = nonNil(mails), next
	return out, nil
}

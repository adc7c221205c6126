package api

import (
	"context"
	"net/http"
	"strings"

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
			action: "iam:ListMail", errors: []int{http.StatusNotFound},
			summary: "List the dev mailbox",
			desc: "Only on a server without SMTP (development): the mails of the outbox, newest first, rendered as their recipients would read them, links included. " +
				"The operator sees every organization's mails; anyone else sees those of its own organization, with iam:ListMail on it.",
		}, s.listDevMail)
	}
	register(s, op{
		id: "list-mail", method: http.MethodGet, path: "/v1/mail", tag: tag,
		action:  "iam:ListMail",
		summary: "List outgoing mail (operator)",
		desc: "The outbox, newest first, for the operator: `status=dead` lists the dead letters, mails the sender gave up on, with the last error. " +
			"Links and tokens in the data are redacted.",
	}, s.listMail)
}

func (s *Server) listDevMail(ctx context.Context, in *mailFilterParams) (*listDevMailOutput, error) {
	f := in.filter()
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type != castellan.PrincipalOperator {
		if in.Org == "" {
			f.OrganizationID = &p.OrganizationID
		}
		if *f.OrganizationID == "" {
			return nil, denied(actionOf(ctx), "the dev mailbox")
		}
	}
	if f.OrganizationID != nil {
		if err := castellan.CheckID("query.org", *f.OrganizationID); err != nil {
			return nil, err
		}
		if err := s.allowOrg(ctx, *f.OrganizationID); err != nil {
			return nil, err
		}
	}
	mails, next, err := s.services.Outbox.FindMail(ctx, f)
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
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	f := in.filter()
	if f.OrganizationID != nil {
		if err := castellan.CheckID("query.org", *f.OrganizationID); err != nil {
			return nil, err
		}
	}
	mails, next, err := s.services.Outbox.FindMail(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, m := range mails {
		redactSecrets(m.Data)
	}
	out := &listMailOutput{}
	out.Body.Mails, out.Body.NextPageToken = nonNil(mails), next
	return out, nil
}

// redactSecrets blanks the values of data that let their holder act as
// the recipient: links and tokens (an invitation still open, a password
// reset). The operator needs to see that a mail failed and why, not to be
// able to use it.
func redactSecrets(data map[string]string) {
	for k := range data {
		if k == "link" || strings.HasSuffix(strings.ToLower(k), "token") {
			data[k] = "[redacted]"
		}
	}
}

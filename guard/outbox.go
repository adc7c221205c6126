package guard

import (
	"context"
	"time"

	"github.com/castellan-iam/castellan"
)

// outbox guards the mail outbox: the mails carry invitation and reset
// links, which give the accounts to whoever reads them, so only the
// operator and an organization's owners list them (FindMail); claiming
// and marking are the sender's background work on the raw store.
type outbox struct {
	g    *guard
	next castellan.OutboxService
}

var _ castellan.OutboxService = (*outbox)(nil)

func (s *outbox) ClaimDueMail(ctx context.Context, limit int, lease time.Duration) ([]*castellan.Mail, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return s.next.ClaimDueMail(ctx, limit, lease)
}

func (s *outbox) MarkMailSent(ctx context.Context, id string) error {
	if err := requireOperator(ctx); err != nil {
		return err
	}
	return s.next.MarkMailSent(ctx, id)
}

func (s *outbox) MarkMailFailed(ctx context.Context, id, reason string, retryAt *time.Time) error {
	if err := requireOperator(ctx); err != nil {
		return err
	}
	return s.next.MarkMailFailed(ctx, id, reason, retryAt)
}

// FindMail lets the operator list any mail, and a user of an
// organization that organization's mail, without the sender's errors,
// when it holds every action on it (an owner): the mails carry invitation and
// reset links, which give whoever reads them the accounts they were sent
// for, so only who may already do everything in the organization reads
// them. An administrator, who may not manage owners, may not.
func (s *outbox) FindMail(ctx context.Context, filter castellan.MailFilter) ([]*castellan.Mail, string, error) {
	if filter.OrganizationID != nil {
		if err := castellan.CheckID("organizationId", *filter.OrganizationID); err != nil {
			return nil, "", err
		}
	}
	p, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if p.Type == castellan.PrincipalOperator {
		return s.next.FindMail(ctx, filter)
	}
	if filter.OrganizationID == nil {
		return nil, "", requireOperator(ctx)
	}
	orgID := *filter.OrganizationID
	if _, err := member(ctx, orgID); err != nil {
		return nil, "", err
	}
	scope := castellan.OrganizationScope(orgID).String()
	missing, err := s.g.lacks(ctx, p, scope, []string{"*"})
	if err != nil {
		return nil, "", err
	}
	if missing != "" {
		return nil, "", castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied,
			"only the operator and who holds every action on %s (an owner) may read its mail, which carries sign-in links; you lack %s", scope, missing)
	}
	mails, next, err := s.next.FindMail(ctx, filter)
	// The sender's last error names the operator's mail relay (its host,
	// its answers), which is not the organization's to read.
	for _, m := range mails {
		m.LastError = ""
	}
	return mails, next, err
}

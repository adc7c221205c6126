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
// organization that organization's mail, when it may list mail there and
// holds every action on it (an owner): the mails carry invitation and
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
	if err := s.g.allowOrg(ctx, orgID, castellan.ActionListMail); err != nil {
		return nil, "", err
	}
	scope := castellan.OrganizationScope(orgID).String()
	missing, err := s.g.authz.Missing(ctx, p, scope, s.g.raw.Catalog.Expand([]string{"*"}))
	if err != nil {
		return nil, "", err
	}
	if len(missing) > 0 {
		return nil, "", castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied,
			"only the operator and who holds every action on %s (an owner) may read its mail, which carries sign-in links; you lack %s", scope, missing[0])
	}
	return s.next.FindMail(ctx, filter)
}

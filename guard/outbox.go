package guard

import (
	"context"
	"time"

	"github.com/castellan-iam/castellan"
)

// outbox guards the mail outbox: the mails carry invitation and reset
// links, which give the accounts to whoever reads them, so only the
// operator lists them; claiming and marking are the sender's background
// work on the raw store.
type outbox struct {
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

// FindMail checks the organization filter's ID.
func (s *outbox) FindMail(ctx context.Context, filter castellan.MailFilter) ([]*castellan.Mail, string, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, "", err
	}
	if filter.OrganizationID != nil {
		if err := castellan.CheckID("organizationId", *filter.OrganizationID); err != nil {
			return nil, "", err
		}
	}
	return s.next.FindMail(ctx, filter)
}

package sqlstore

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// EnqueueMailInWrite enqueues a mail as the store's writes do: inside an
// update that records a change of the organization. The write commits
// when fail is nil; otherwise it returns fail and rolls back, mail and
// all. The conformance suite finds it on the Outbox (storetest.MailWriter)
// while no service of the store mails anything it can drive.
func (s *OutboxService) EnqueueMailInWrite(ctx context.Context, orgID, to string, template castellan.MailTemplate, data map[string]string, fail error) (string, error) {
	var id string
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if id, err = tx.enqueueMail(ctx, orgID, to, template, data); err != nil {
			return err
		}
		if _, err := tx.record(ctx, change{
			orgID: orgID, action: "organizations:UpdateOrganization",
			entityType: "organization", entityID: orgID, operation: "update",
			summary: map[string]any{"mail": id},
		}); err != nil {
			return err
		}
		return fail
	})
	return id, err
}

package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// enqueueMail writes a mail to the outbox in the transaction of the change
// it tells about: if the change commits, the mail is sent (at least once);
// if not, it never existed. It returns the mail's ID, which the sender
// puts in the headers as idempotency key.
func (tx *Tx) enqueueMail(ctx context.Context, orgID, to string, template castellan.MailTemplate, data map[string]string) (string, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("mail data: %w", err)
	}
	id := newID()
	_, err = tx.exec(ctx, `INSERT INTO outbox (id, org_id, to_address, template, data, status, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`, id, orgID, to, string(template), string(body), tx.now, tx.now)
	if err != nil {
		return "", fmt.Errorf("enqueue mail: %w", err)
	}
	return id, nil
}

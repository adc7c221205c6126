package castellan

import (
	"context"
	"time"
)

// MailTemplate names the template of an outgoing email.
type MailTemplate string

// Mail templates. Each has a text and an HTML form.
const (
	MailInvitation    MailTemplate = "invitation"
	MailReinvite      MailTemplate = "reinvite"
	MailPasswordReset MailTemplate = "password_reset"
	MailUserDeleted   MailTemplate = "user_deleted"
	MailGroupChanged  MailTemplate = "group_changed"
	MailAccountNotice MailTemplate = "account_notice"
)

// Mail statuses.
const (
	MailPending = "pending"
	MailSent    = "sent"
	// MailDead is a mail the sender gave up on after its last attempt.
	MailDead = "dead"
)

// Mail is one email in the transactional outbox: written in the
// transaction of the change it tells about, delivered afterwards by the
// sender, at least once, with its ID as idempotency key in the headers.
type Mail struct {
	ID             string            `json:"id"`
	OrganizationID string            `json:"organizationId"`
	To             string            `json:"to"`
	Template       MailTemplate      `json:"template"`
	Data           map[string]string `json:"data" doc:"Values the template uses (names, links)."`
	Status         string            `json:"status" enum:"pending,sent,dead"`
	Attempts       int               `json:"attempts"`
	NextAttemptAt  time.Time         `json:"nextAttemptAt"`
	LastError      string            `json:"lastError,omitempty"`
	CreatedAt      time.Time         `json:"createdAt"`
	SentAt         *time.Time        `json:"sentAt,omitempty"`
}

// MailFilter selects mails of the outbox.
type MailFilter struct {
	OrganizationID *string
	Status         *string
	To             *string
	PageSize       int
	PageToken      string
}

// OutboxService is the sender's side of the outbox. Mails are enqueued by
// the store itself, inside the transactions of the changes they tell
// about.
type OutboxService interface {
	// ClaimDueMail leases up to limit pending mails due at now for lease,
	// so that concurrent senders (replicas) never take the same mail; a
	// sender that dies releases its lease by letting it run out.
	ClaimDueMail(ctx context.Context, limit int, lease time.Duration) ([]*Mail, error)
	// MarkMailSent records a delivery.
	MarkMailSent(ctx context.Context, id string) error
	// MarkMailFailed records a failed attempt: the mail is tried again at
	// retryAt, or is dead when retryAt is nil.
	MarkMailFailed(ctx context.Context, id, reason string, retryAt *time.Time) error
	// FindMail lists mails newest first (the dev mailbox, dead letters).
	FindMail(ctx context.Context, filter MailFilter) ([]*Mail, string, error)
}

package castellan

import (
	"context"
	"strings"
	"time"
)

// MailTemplate names the template of an outgoing email.
type MailTemplate string

// Mail templates. Each has a subject, a text and an HTML form (package
// mail). The comment of each lists the keys of Mail.Data it reads; every
// template also reads "name", the recipient's name, and
// "organizationName". A key a template needs but the data lacks makes the
// mail dead at once: trying again would not help. Times are RFC 3339.
const (
	// MailInvitation invites a registered user to set an initial
	// password. Keys: "link" or "invitationToken" (the sender then builds
	// the link <public URL>/invitations/accept?token=<token>),
	// "expiresAt", optionally "invitedBy".
	MailInvitation MailTemplate = "invitation"
	// MailReinvite is a new invitation that voids the earlier ones; keys
	// as MailInvitation.
	MailReinvite MailTemplate = "reinvite"
	// MailPasswordReset carries a link to choose a new password. Keys:
	// "link" or "resetToken" (link <public URL>/password-reset?token=<token>),
	// "expiresAt".
	MailPasswordReset MailTemplate = "password_reset"
	// MailUserDeleted tells a user that its account was deleted. Keys:
	// "loginId", optionally "deletedAt".
	MailUserDeleted MailTemplate = "user_deleted"
	// MailGroupChanged tells a user that its group memberships changed.
	// Keys: "groupName", "change" ("added" or "removed").
	MailGroupChanged MailTemplate = "group_changed"
	// MailAccountNotice is any other notice about the account. Keys:
	// "subject", "message" (plain text, shown as paragraphs).
	MailAccountNotice MailTemplate = "account_notice"
	// MailAccountDeleted tells the organization's creating administrator,
	// the account's root user and its delegates that an account of the
	// organization was deleted. Keys: "accountName", "accountId",
	// optionally "deletedAt".
	MailAccountDeleted MailTemplate = "account_deleted"
	// MailAccountExcluded tells the organization's administrators, the
	// account's root user and its delegates that an account left the
	// organization and became standalone. Keys: "accountName",
	// "accountId", "newOrganizationName".
	MailAccountExcluded MailTemplate = "account_excluded"
	// MailAccountInvitation invites an existing account, by its root
	// user email, to join an organization; its root user answers in the
	// console. Keys: "organizationName" (the inviter's).
	MailAccountInvitation MailTemplate = "account_invitation"
	// MailFederatedWelcome tells a federated user added by email how to
	// sign in: the link of the console's sign-in page and the federation
	// ID its identity provider answers for. Keys: "federationId",
	// "link" (or none: the sender then builds <public URL>/console/sign-in),
	// optionally "loginId".
	MailFederatedWelcome MailTemplate = "federated_welcome"
)

// MailTemplates lists every template, in the order above.
var MailTemplates = []MailTemplate{MailInvitation, MailReinvite, MailPasswordReset, MailUserDeleted, MailGroupChanged, MailAccountNotice, MailAccountDeleted,
	MailAccountExcluded, MailAccountInvitation, MailFederatedWelcome}

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
//
// Attempts counts the claims of the mail: each is one delivery try, also
// when the sender that claimed it died before reporting back.
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
// about. Claiming and marking are delivery bookkeeping, not changes of an
// organization: they take no revision and write no audit event.
type OutboxService interface {
	// ClaimDueMail leases up to limit pending mails due at now for lease,
	// so that concurrent senders (replicas) never take the same mail; a
	// sender that dies releases its lease by letting it run out. Each
	// claim counts one attempt. Mails come oldest due first.
	ClaimDueMail(ctx context.Context, limit int, lease time.Duration) ([]*Mail, error)
	// MarkMailSent records a delivery. A mail already sent stays as it
	// was; a dead one becomes sent (a late report of a delivery that
	// happened). Returns ENOTFOUND (mail.not_found) for an unknown ID.
	MarkMailSent(ctx context.Context, id string) error
	// MarkMailFailed records a failed attempt: the mail is tried again at
	// retryAt, or is dead when retryAt is nil. Only a pending mail
	// changes: a mail that another sender has since sent, or that is
	// dead, stays as it is. Returns ENOTFOUND (mail.not_found) for an
	// unknown ID.
	MarkMailFailed(ctx context.Context, id, reason string, retryAt *time.Time) error
	// FindMail lists mails newest first (the dev mailbox, dead letters).
	// Returns EINVALID (request.invalid_page_token) for a page token the
	// list did not issue.
	FindMail(ctx context.Context, filter MailFilter) ([]*Mail, string, error)
}

// RenderedMail is a mail as its recipient reads it.
type RenderedMail struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// MailRenderer turns a mail of the outbox into what its recipient reads.
// Package mail implements it; the API's dev mailbox shows its output.
type MailRenderer interface {
	// RenderMail returns EINVALID (mail.unrenderable) for a mail whose
	// template is unknown or whose data lacks a key the template needs.
	RenderMail(m *Mail) (*RenderedMail, error)
}

// RedactMailSecrets blanks the values of mail data that let their holder
// act as the recipient (links and tokens: an open invitation, a password
// reset) and reports whether it changed anything. The outbox keeps them
// only until the mail is sent or dead.
func RedactMailSecrets(data map[string]string) bool {
	changed := false
	for k, v := range data {
		if (k == "link" || strings.HasSuffix(strings.ToLower(k), "token")) && v != "[redacted]" {
			data[k] = "[redacted]"
			changed = true
		}
	}
	return changed
}

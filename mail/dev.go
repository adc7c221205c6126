package mail

import (
	"context"
	"log/slog"
)

// Dev is the transport of the dev mailbox: it delivers nowhere. The mails
// stay in the outbox, marked sent, and GET /v1/dev/mailbox lists them
// rendered.
type Dev struct{ Logger *slog.Logger }

var _ Transport = Dev{}

// Deliver implements Transport: it logs the message and accepts it.
func (d Dev) Deliver(_ context.Context, msg *Message) error {
	if d.Logger != nil {
		d.Logger.Info("dev mailbox: mail kept in the outbox", "mail", msg.ID, "to", msg.To.Address, "subject", msg.Subject)
	}
	return nil
}

package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"time"

	"github.com/castellan-iam/castellan"
)

// Transport delivers messages: SMTP, or Dev, which keeps them in the
// outbox. Deliver returns nil only once the message is accepted.
type Transport interface {
	Deliver(ctx context.Context, msg *Message) error
}

// Defaults of Options.
const (
	DefaultFrom        = "Castellan <no-reply@castellan.local>"
	DefaultMaxAttempts = 8
	DefaultLease       = 2 * time.Minute
	DefaultBatchSize   = 20
	// FirstRetry is the delay after the first failed attempt; each
	// further failure doubles it, up to MaxRetryDelay.
	FirstRetry    = 30 * time.Second
	MaxRetryDelay = time.Hour
)

// markTimeout bounds the write that reports an attempt; it runs even when
// the sender is stopping, so that a delivery made is not made again.
const markTimeout = 10 * time.Second

// Options tune a Sender; zero values take the defaults.
type Options struct {
	// From is the sender of every mail: "Name <address>" or an address.
	From string
	// MaxAttempts is how many deliveries of a mail fail before it is dead.
	MaxAttempts int
	// Lease is how long a claimed mail is the sender's alone: longer than
	// one delivery takes, short enough that a dead sender's mail is soon
	// taken over.
	Lease time.Duration
	// BatchSize is how many mails one RunOnce claims at most.
	BatchSize int
	Clock     castellan.Clock
	// Jitter returns the random delay added to a retry delay d, so that
	// mails that failed together do not come back together; by default
	// up to a fifth of d.
	Jitter func(d time.Duration) time.Duration
	Logger *slog.Logger
}

// Sender delivers the mails of the outbox. Several senders (replicas) may
// share one outbox: claims never overlap.
type Sender struct {
	outbox    castellan.OutboxService
	renderer  castellan.MailRenderer
	transport Transport
	from      mail.Address
	opts      Options
}

// NewSender returns a sender of outbox's mails, rendered by renderer and
// delivered through transport. It returns an error when opts.From is not
// an address.
func NewSender(outbox castellan.OutboxService, renderer castellan.MailRenderer, transport Transport, opts Options) (*Sender, error) {
	if opts.From == "" {
		opts.From = DefaultFrom
	}
	from, err := mail.ParseAddress(opts.From)
	if err != nil {
		return nil, fmt.Errorf("mail sender address %q: %w", opts.From, err)
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Clock == nil {
		opts.Clock = castellan.SystemClock
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration {
			if d < 5 {
				return 0
			}
			return rand.N(d / 5)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Sender{outbox: outbox, renderer: renderer, transport: transport, from: *from, opts: opts}, nil
}

// RetryDelay is the delay before the next try of a mail whose attempts-th
// delivery failed, before jitter: FirstRetry doubled per earlier failure,
// at most MaxRetryDelay.
func RetryDelay(attempts int) time.Duration {
	d := FirstRetry
	for i := 1; i < attempts && d < MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, MaxRetryDelay)
}

// Run delivers due mail now and at every tick until ctx ends; after a full
// batch it goes on at once. Errors are logged: the next tick tries again.
func (s *Sender) Run(ctx context.Context, ticks <-chan time.Time) {
	for {
		for ctx.Err() == nil {
			n, err := s.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("claim due mail", "err", err)
			}
			if err != nil || n < s.opts.BatchSize {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// RunOnce claims up to a batch of due mails and tries each once, then
// returns how many it claimed. An error is one of the claim; delivery
// failures are recorded on the mails. When ctx ends, the mails not tried
// yet keep their lease until it runs out.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	mails, err := s.outbox.ClaimDueMail(ctx, s.opts.BatchSize, s.opts.Lease)
	if err != nil {
		return 0, err
	}
	for _, m := range mails {
		if ctx.Err() != nil {
			break
		}
		s.attempt(ctx, m)
	}
	return len(mails), nil
}

// attempt tries one claimed mail and records the outcome.
func (s *Sender) attempt(ctx context.Context, m *castellan.Mail) {
	log := s.opts.Logger.With("mail", m.ID, "template", m.Template, "attempt", m.Attempts)
	if m.Attempts > s.opts.MaxAttempts {
		// Earlier claims never reported back: their senders died.
		s.markDead(ctx, log, m, fmt.Sprintf("gave up after %d attempts; the last ones did not report back", m.Attempts-1))
		return
	}
	msg, err := s.compose(m)
	if err != nil {
		// No try will render it better.
		s.markDead(ctx, log, m, err.Error())
		return
	}
	err = s.transport.Deliver(ctx, msg)
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	switch {
	case err == nil:
		if err := s.outbox.MarkMailSent(markCtx, m.ID); err != nil {
			// The mail goes again when the lease runs out, with the
			// same idempotency key.
			log.Error("record mail delivery", "err", err)
			return
		}
		log.Info("mail sent", "to", m.To)
	case ctx.Err() != nil:
		// Stopping: another sender may take the mail at once.
		now := s.opts.Clock()
		s.markFailed(markCtx, log, m, "interrupted: the sender stopped", &now)
	case m.Attempts >= s.opts.MaxAttempts:
		s.markDead(ctx, log, m, fmt.Sprintf("gave up after %d attempts: %v", m.Attempts, err))
	default:
		delay := RetryDelay(m.Attempts)
		retryAt := s.opts.Clock().Add(delay + s.opts.Jitter(delay))
		log.Warn("mail delivery failed", "err", err, "retryAt", retryAt)
		s.markFailed(markCtx, log, m, err.Error(), &retryAt)
	}
}

func (s *Sender) markDead(ctx context.Context, log *slog.Logger, m *castellan.Mail, reason string) {
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	log.Error("mail dead", "reason", reason)
	s.markFailed(markCtx, log, m, reason, nil)
}

func (s *Sender) markFailed(ctx context.Context, log *slog.Logger, m *castellan.Mail, reason string, retryAt *time.Time) {
	if err := s.outbox.MarkMailFailed(ctx, m.ID, reason, retryAt); err != nil {
		log.Error("record failed mail delivery", "err", err)
	}
}

// compose renders m into the message to deliver.
func (s *Sender) compose(m *castellan.Mail) (*Message, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	to.Name = m.Data["name"]
	r, err := s.renderer.RenderMail(m)
	if err != nil {
		var e *castellan.Error
		if errors.As(err, &e) {
			return nil, errors.New(e.Message)
		}
		return nil, err
	}
	return &Message{ID: m.ID, From: s.from, To: *to, Date: m.CreatedAt, Subject: r.Subject, Text: r.Text, HTML: r.HTML}, nil
}

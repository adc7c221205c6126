package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/mail"
)

// mailPollInterval is how often the sender looks for due mail.
const mailPollInterval = 5 * time.Second

// mailFlags are the flags of outgoing mail.
type mailFlags struct {
	smtp, from, publicURL, maxAttempts *string
}

// mail defines the mail flags of serve.
func (f *flags) mail() *mailFlags {
	return &mailFlags{
		smtp: f.str("smtp", "CASTELLAN_SMTP", "",
			"SMTP server for outgoing mail: smtp://user:password@host:port (STARTTLS when offered; add ?starttls=required to refuse clear text) or smtps://…; empty or dev keeps mails in the dev mailbox (GET /v1/dev/mailbox)"),
		from:      f.str("mail-from", "CASTELLAN_MAIL_FROM", mail.DefaultFrom, "sender of outgoing mail"),
		publicURL: f.str("public-url", "CASTELLAN_PUBLIC_URL", "", "URL where users reach Castellan, for the links in mails (default http://<listen address>); an https URL also makes the console's cookies Secure"),
		maxAttempts: f.str("mail-max-attempts", "CASTELLAN_MAIL_MAX_ATTEMPTS", strconv.Itoa(mail.DefaultMaxAttempts),
			"deliveries of a mail that may fail before it is dead (GET /v1/mail?status=dead)"),
	}
}

// mailer is outgoing mail wired up: the sender, and the dev mailbox the API
// serves when there is no SMTP server.
type mailer struct {
	sender     *mail.Sender
	devMailbox castellan.MailRenderer
	// transport names where mail goes, for the log.
	transport string
	// secureCookies is set when the public URL is https: users reach the
	// console over TLS even when serve speaks plain HTTP behind a proxy.
	secureCookies bool
	// publicURL is where users reach Castellan (--public-url).
	publicURL string
}

// build checks the flags and wires the sender over outbox; listen is the
// address the API listens on, the default of the public URL.
func (m *mailFlags) build(outbox castellan.OutboxService, listen net.Addr, log *slog.Logger) (*mailer, error) {
	maxAttempts, err := strconv.Atoi(*m.maxAttempts)
	if err != nil || maxAttempts < 1 {
		return nil, fmt.Errorf("--mail-max-attempts %q: want a positive integer", *m.maxAttempts)
	}
	publicURL := *m.publicURL
	if publicURL == "" {
		publicURL = "http://" + reachable(listen)
	}
	templates, err := mail.NewTemplates(publicURL)
	if err != nil {
		return nil, fmt.Errorf("--public-url: %w", err)
	}
	if _, err := netmail.ParseAddress(*m.from); err != nil {
		return nil, fmt.Errorf("--mail-from %q: %w", *m.from, err)
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return nil, fmt.Errorf("--public-url: %w", err)
	}
	w := &mailer{secureCookies: strings.EqualFold(u.Scheme, "https"), publicURL: publicURL}
	if *m.smtp == "" || *m.smtp == "dev" {
		// The dev mailbox is the outbox itself: mails stay pending there,
		// links intact, for the operator to read. No sender runs (it would
		// mark them sent and redact their links).
		w.devMailbox, w.transport = templates, "dev mailbox"
		return w, nil
	}
	smtp, err := mail.NewSMTP(*m.smtp)
	if err != nil {
		return nil, fmt.Errorf("--smtp: %w", err)
	}
	w.transport = smtp.String()
	w.sender, err = mail.NewSender(outbox, templates, smtp, mail.Options{
		From: *m.from, MaxAttempts: maxAttempts, Logger: log.With("component", "mail"),
	})
	if err != nil {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	return w, nil
}

// reachable is addr as a host:port a browser on this machine can open: an
// unspecified address (0.0.0.0, [::]) becomes localhost.
func reachable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// start runs the sender until ctx ends; the returned function waits for it
// to finish its current mail.
func (w *mailer) start(ctx context.Context) (wait func()) {
	if w.sender == nil {
		return func() {}
	}
	ticker := time.NewTicker(mailPollInterval)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ticker.Stop()
		w.sender.Run(ctx, ticker.C)
	}()
	return func() { <-done }
}

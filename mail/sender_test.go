package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/mail"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

const (
	publicURL = "https://castellan.test"
	orgID     = "0190d3a8-0000-7000-8000-0000000000aa"
)

// clock is a manual clock.

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// store is an outbox on one backend, with the URL to put mails in it.

type store struct {
	url   string
	db    *sqlstore.DB
	clock *clock
}

// forEachBackend runs fn with a fresh store on SQLite and on PostgreSQL.

func forEachBackend(t *testing.T, fn func(t *testing.T, s *store)) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			url := b.URL(t)
			c := newClock()
			fn(t, &store{url: url, db: sqltest.MustOpen(t, url, c.Now), clock: c})
		})
	}
}

// invite puts an invitation to `to` in the outbox, written now.

func (s *store) invite(t *testing.T, to, token string) string {
	t.Helper()
	return sqltest.InsertMail(t, s.url, orgID, to, castellan.MailInvitation, map[string]string{
		"name": "Alice Liddell", "organizationName": "Acme", "invitationToken": token, "expiresAt": "2026-03-11T05:06:07Z",
	}, s.clock.Now())
}

// mail returns the outbox row of id.

func (s *store) mail(t *testing.T, id string) *castellan.Mail {
	t.Helper()
	mails, _, err := s.db.Outbox().FindMail(context.Background(), castellan.MailFilter{PageSize: castellan.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %s is not in the outbox", id)
	return nil
}

func (s *store) sender(t *testing.T, outbox castellan.OutboxService, transport mail.Transport, opts mail.Options) *mail.Sender {
	t.Helper()
	templates, err := mail.NewTemplates(publicURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.Clock = s.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Jitter == nil {
		opts.Jitter = func(time.Duration) time.Duration { return 0 }
	}
	sender, err := mail.NewSender(outbox, templates, transport, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sender
}

func runOnce(t *testing.T, s *mail.Sender, want int) {
	t.Helper()
	n, err := s.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("RunOnce claimed %d mails, want %d", n, want)
	}
}

// parsed is a delivered message taken apart.

// TestRetries has the server refuse the first deliveries: each failure is

// an attempt, retried after 30 s doubled per failure plus jitter, until

// it goes through.

func TestRetries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		const refused = 4
		srv := startSMTP(t, smtpOptions{rejectFirst: refused})
		id := s.invite(t, "alice@example.com", "csti_1")
		jitter := func(d time.Duration) time.Duration { return d / 10 }
		sender := s.sender(t, s.db.Outbox(), smtpTransport(t, srv), mail.Options{Jitter: jitter})
		wantDelays := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute}
		for attempt := 1; attempt <= refused; attempt++ {
			runOnce(t, sender, 1)
			m := s.mail(t, id)
			delay := wantDelays[attempt-1]
			wantAt := s.clock.Now().Add(delay + delay/10)
			if m.Status != castellan.MailPending || m.Attempts != attempt || !m.NextAttemptAt.Equal(wantAt) || !strings.Contains(m.LastError, "451") {
				t.Fatalf("after attempt %d: got %+v, want pending with next attempt at %v", attempt, m, wantAt)
			}
			// Not due a moment before its time, due at it.
			s.clock.Advance(delay + delay/10 - time.Millisecond)
			runOnce(t, sender, 0)
			s.clock.Advance(time.Millisecond)
		}
		runOnce(t, sender, 1)
		if m := s.mail(t, id); m.Status != castellan.MailSent || m.Attempts != refused+1 {
			t.Fatalf("got %+v, want sent at attempt %d", m, refused+1)
		}
		if got := len(srv.messages()); got != 1 {
			t.Fatalf("server accepted %d messages, want 1", got)
		}
	})
}

func TestRetryDelay(t *testing.T) {
	for attempts, want := range map[int]time.Duration{
		1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 9: time.Hour, 100: time.Hour,
	} {
		if got := mail.RetryDelay(attempts); got != want {
			t.Errorf("RetryDelay(%d): got %v, want %v", attempts, got, want)
		}
	}
}

// TestDeadLetter refuses every delivery: after MaxAttempts the mail is dead

// and listed as such, and nothing tries it again.

func TestDeadLetter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		srv := startSMTP(t, smtpOptions{rejectFirst: 1000})
		id := s.invite(t, "alice@example.com", "csti_1")
		sender := s.sender(t, s.db.Outbox(), smtpTransport(t, srv), mail.Options{})
		for attempt := 1; attempt <= mail.DefaultMaxAttempts; attempt++ {
			runOnce(t, sender, 1)
			s.clock.Advance(mail.MaxRetryDelay)
		}
		m := s.mail(t, id)
		if m.Status != castellan.MailDead || m.Attempts != mail.DefaultMaxAttempts || !strings.Contains(m.LastError, "451") {
			t.Fatalf("got %+v, want dead after %d attempts", m, mail.DefaultMaxAttempts)
		}
		dead, _, err := s.db.Outbox().FindMail(context.Background(), castellan.MailFilter{Status: ptr(castellan.MailDead)})
		if err != nil || len(dead) != 1 || dead[0].ID != id {
			t.Fatalf("got dead letters %v (%v), want %s", dead, err, id)
		}
		s.clock.Advance(24 * time.Hour)
		runOnce(t, sender, 0)
	})
}

// dyingOutbox is the outbox as seen by a sender process that dies right

// after the SMTP server accepted a message: the record of the delivery

// never reaches the store, and the process stops.

type dyingOutbox struct {
	castellan.OutboxService
	die func()
}

func (o *dyingOutbox) MarkMailSent(context.Context, string) error {
	o.die()
	return errors.New("the sender died before recording the delivery")
}

// TestCrashAfterDelivery kills a sender between the delivery and its

// record: when the lease runs out another sender delivers the mail again

// with the same idempotency key (at least once), and the mail ends sent

// with no third copy. The mail the dead sender had claimed but not tried

// is delivered once.

func TestCrashAfterDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		srv := startSMTP(t, smtpOptions{})
		first := s.invite(t, "alice@example.com", "csti_1")
		second := s.invite(t, "bob@example.com", "csti_2")

		ctx, kill := context.WithCancel(context.Background())
		defer kill()
		doomed := s.sender(t, &dyingOutbox{OutboxService: s.db.Outbox(), die: kill}, smtpTransport(t, srv), mail.Options{})
		if n, err := doomed.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("got %d, %v, want both mails claimed", n, err)
		}
		if got := srv.messages(); len(got) != 1 {
			t.Fatalf("server got %d messages before the crash, want 1", len(got))
		}

		restarted := s.sender(t, s.db.Outbox(), smtpTransport(t, srv), mail.Options{})
		runOnce(t, restarted, 0) // both leases still run
		s.clock.Advance(mail.DefaultLease)
		runOnce(t, restarted, 2)
		s.clock.Advance(24 * time.Hour)
		runOnce(t, restarted, 0)

		got := srv.messages()
		keys := map[string][][]byte{}
		for _, r := range got {
			key := parse(t, r.data).header.Get(mail.IdempotencyHeader)
			keys[key] = append(keys[key], r.data)
		}
		if len(got) != 3 || len(keys[first]) != 2 || len(keys[second]) != 1 {
			t.Fatalf("got %d messages by idempotency key %v, want %s twice and %s once", len(got), keyCounts(keys), first, second)
		}
		if !bytes.Equal(keys[first][0], keys[first][1]) {
			t.Errorf("the two copies differ:\n%s\n---\n%s", keys[first][0], keys[first][1])
		}
		for id, attempts := range map[string]int{first: 2, second: 2} {
			if m := s.mail(t, id); m.Status != castellan.MailSent || m.Attempts != attempts {
				t.Errorf("got %+v, want sent after %d claims", m, attempts)
			}
		}
	})
}

func keyCounts(keys map[string][][]byte) map[string]int {
	out := map[string]int{}
	for k, v := range keys {
		out[k] = len(v)
	}
	return out
}

// TestGiveUpOnSilentClaims: a mail whose senders all died (claimed

// MaxAttempts times without a report) is dead on its next claim, without

// a delivery.

func TestGiveUpOnSilentClaims(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		id := s.invite(t, "alice@example.com", "csti_1")
		for range 2 {
			if _, err := s.db.Outbox().ClaimDueMail(context.Background(), 10, time.Minute); err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(time.Minute)
		}
		tr := &recordingTransport{}
		runOnce(t, s.sender(t, s.db.Outbox(), tr, mail.Options{MaxAttempts: 2}), 1)
		if m := s.mail(t, id); m.Status != castellan.MailDead || m.Attempts != 3 || !strings.Contains(m.LastError, "did not report back") {
			t.Fatalf("got %+v, want dead", m)
		}
		if len(tr.sent()) != 0 {
			t.Fatal("delivered a mail past its attempts")
		}
	})
}

// TestUnrenderableIsDead: a mail its template cannot render is dead at

// once; no retry would help.

func TestUnrenderableIsDead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		id := sqltest.InsertMail(t, s.url, orgID, "alice@example.com", castellan.MailInvitation, map[string]string{"name": "Alice"}, s.clock.Now())
		bad := sqltest.InsertMail(t, s.url, orgID, "not an address", castellan.MailAccountNotice, map[string]string{"subject": "s", "message": "m"}, s.clock.Now())
		tr := &recordingTransport{}
		runOnce(t, s.sender(t, s.db.Outbox(), tr, mail.Options{}), 2)
		if m := s.mail(t, id); m.Status != castellan.MailDead || m.Attempts != 1 || !strings.Contains(m.LastError, `"link"`) {
			t.Fatalf("got %+v, want dead for want of a link", m)
		}
		if m := s.mail(t, bad); m.Status != castellan.MailDead || !strings.Contains(m.LastError, "recipient") {
			t.Fatalf("got %+v, want dead for its recipient", m)
		}
		if len(tr.sent()) != 0 {
			t.Fatal("delivered an unrenderable mail")
		}
	})
}

// recordingTransport accepts every message and keeps it; notify, when

// set, receives each one.

type recordingTransport struct {
	mu     sync.Mutex
	msgs   []*mail.Message
	notify chan *mail.Message
}

func (r *recordingTransport) Deliver(_ context.Context, msg *mail.Message) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, msg)
	r.mu.Unlock()
	if r.notify != nil {
		r.notify <- msg
	}
	return nil
}

func (r *recordingTransport) sent() []*mail.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*mail.Message(nil), r.msgs...)
}

// TestRun: the loop delivers at once when started and then at each tick,

// and returns when its context ends.

func TestRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		first := s.invite(t, "alice@example.com", "csti_1")
		tr := &recordingTransport{notify: make(chan *mail.Message)}
		sender := s.sender(t, s.db.Outbox(), tr, mail.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		ticks := make(chan time.Time)
		done := make(chan struct{})
		go func() {
			sender.Run(ctx, ticks)
			close(done)
		}()
		wantDelivery(t, tr.notify, first)
		second := s.invite(t, "bob@example.com", "csti_2")
		ticks <- s.clock.Now()
		wantDelivery(t, tr.notify, second)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})
}

func wantDelivery(t *testing.T, notify <-chan *mail.Message, id string) {
	t.Helper()
	select {
	case msg := <-notify:
		if msg.ID != id {
			t.Fatalf("delivered %s, want %s", msg.ID, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mail %s was not delivered", id)
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewSenderBadFrom(t *testing.T) {
	if _, err := mail.NewSender(nil, nil, nil, mail.Options{From: "not an address"}); err == nil {
		t.Fatal("got no error")
	}
}

// blockingTransport waits in Deliver until its context ends, as a
// delivery to a slow server cut short by a shutdown.
type blockingTransport struct{ started chan struct{} }

func (b blockingTransport) Deliver(ctx context.Context, _ *mail.Message) error {
	close(b.started)
	<-ctx.Done()
	return ctx.Err()
}

// TestStopMidDelivery: a sender stopped during a delivery hands the mail
// back at once instead of keeping it until the lease runs out.
func TestStopMidDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store) {
		id := s.invite(t, "alice@example.com", "csti_1")
		ctx, stop := context.WithCancel(context.Background())
		tr := blockingTransport{started: make(chan struct{})}
		go func() {
			<-tr.started
			stop()
		}()
		if n, err := s.sender(t, s.db.Outbox(), tr, mail.Options{}).RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("got %d, %v", n, err)
		}
		m := s.mail(t, id)
		if m.Status != castellan.MailPending || !m.NextAttemptAt.Equal(s.clock.Now()) || !strings.Contains(m.LastError, "interrupted") {
			t.Fatalf("got %+v, want it due again now", m)
		}
		runOnce(t, s.sender(t, s.db.Outbox(), &recordingTransport{}, mail.Options{}), 1)
		if m := s.mail(t, id); m.Status != castellan.MailSent || m.Attempts != 2 {
			t.Fatalf("got %+v, want sent by the next sender", m)
		}
	})
}

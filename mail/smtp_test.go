package mail_test

import (
	"context"
	"crypto/tls"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/mail"
)

// smtpTransport is the SMTP transport of srv's URL, trusting its certificate.
func smtpTransport(t *testing.T, srv *smtpServer) *mail.SMTP {
	t.Helper()
	tr, err := mail.NewSMTP(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	if srv.roots != nil {
		tr.TLSConfig = &tls.Config{RootCAs: srv.roots}
	}
	return tr
}

// TestSMTPDelivery sends an invitation from the outbox through a real SMTP
// server, in the clear with AUTH PLAIN on the loopback, with STARTTLS
// (AUTH offered only after it), over TLS from the start (smtps) and
// without AUTH, and checks what the
// server received: envelope, headers, both parts, the link.
func TestSMTPDelivery(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts smtpOptions
	}{
		{"PlainAuthOnLoopback", smtpOptions{user: "castellan", password: "s3cret"}},
		{"STARTTLS", smtpOptions{user: "castellan", password: "s3cret", tls: true}},
		{"ImplicitTLS", smtpOptions{user: "castellan", password: "s3cret", implicitTLS: true}},
		{"NoAuth", smtpOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s *store) {
				srv := startSMTP(t, tc.opts)
				id := s.invite(t, "alice@example.com", "csti_tok+en/1")
				sender := s.sender(t, s.db.Outbox(), smtpTransport(t, srv), mail.Options{From: "Acme IAM <iam@acme.example>"})
				runOnce(t, sender, 1)

				got := srv.messages()
				if len(got) != 1 {
					t.Fatalf("server got %d messages, want 1", len(got))
				}
				r := got[0]
				if r.from != "iam@acme.example" || len(r.to) != 1 || r.to[0] != "alice@example.com" ||
					r.user != tc.opts.user || r.tls != (tc.opts.tls || tc.opts.implicitTLS) {
					t.Fatalf("got envelope from %q to %v, user %q, TLS %v", r.from, r.to, r.user, r.tls)
				}
				m := parse(t, r.data)
				wantHeaders := map[string]string{
					"From":                        `"Acme IAM" <iam@acme.example>`,
					"To":                          `"Alice Liddell" <alice@example.com>`,
					"Message-Id":                  "<" + id + "@castellan>",
					"X-Castellan-Idempotency-Key": id,
					"Date":                        s.clock.Now().Format(time.RFC1123Z),
					"Mime-Version":                "1.0",
				}
				for k, want := range wantHeaders {
					if got := m.header.Get(k); got != want {
						t.Errorf("header %s: got %q, want %q", k, got, want)
					}
				}
				if m.subject != "You are invited to Acme on Castellan" {
					t.Errorf("got subject %q", m.subject)
				}
				link := publicURL + "/invitations/accept?token=csti_tok%2Ben%2F1"
				if !strings.Contains(m.text, "\r\n"+link+"\r\n") || !strings.Contains(m.text, "Hello Alice Liddell,") {
					t.Errorf("text lacks the link %s or the greeting:\n%s", link, m.text)
				}
				if !strings.Contains(m.html, `href="`+link+`"`) {
					t.Errorf("HTML lacks the link %s:\n%s", link, m.html)
				}
				if got := s.mail(t, id); got.Status != castellan.MailSent || got.Attempts != 1 || got.SentAt == nil || !got.SentAt.Equal(s.clock.Now()) {
					t.Fatalf("outbox row: got %+v, want sent after one attempt", got)
				}
				runOnce(t, sender, 0)
			})
		})
	}
}

func TestSMTPRefusedCredentials(t *testing.T) {
	srv := startSMTP(t, smtpOptions{user: "castellan", password: "s3cret"})
	tr, err := mail.NewSMTP("smtp://castellan:wrong@" + srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	msg := &mail.Message{ID: "m1", From: netmail.Address{Address: "a@b.example"}, To: netmail.Address{Address: "c@d.example"}, Subject: "x", Text: "x", HTML: "x"}
	if err := tr.Deliver(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("got %v, want an AUTH error", err)
	}
	if len(srv.messages()) != 0 {
		t.Fatal("the server accepted a message without authentication")
	}
}

// TestSMTPRequireTLS: with starttls=required, a server that offers no
// STARTTLS gets nothing, not even the credentials; one that offers it gets
// the message encrypted.
func TestSMTPRequireTLS(t *testing.T) {
	msg := &mail.Message{ID: "m1", From: netmail.Address{Address: "a@b.example"}, To: netmail.Address{Address: "c@d.example"}, Subject: "x", Text: "x", HTML: "x"}
	plain := startSMTP(t, smtpOptions{user: "castellan", password: "s3cret"})
	tr, err := mail.NewSMTP("smtp://castellan:s3cret@" + plain.addr + "?starttls=required")
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Deliver(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("got %v, want a STARTTLS error", err)
	}
	if len(plain.messages()) != 0 {
		t.Fatal("the message went out in the clear")
	}

	secure := startSMTP(t, smtpOptions{user: "castellan", password: "s3cret", tls: true})
	if tr, err = mail.NewSMTP("smtp://castellan:s3cret@" + secure.addr + "?starttls=required"); err != nil {
		t.Fatal(err)
	}
	tr.TLSConfig = &tls.Config{RootCAs: secure.roots}
	if err := tr.Deliver(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if got := secure.messages(); len(got) != 1 || !got[0].tls {
		t.Fatalf("got %+v, want one message over TLS", got)
	}
}

func TestNewSMTP(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // String(), or "" for an error
	}{
		{"smtp://mx.example.com", "smtp://mx.example.com"},
		{"smtp://user:p%40ss@mx.example.com:587", "smtp://user:xxxxx@mx.example.com:587"},
		{"smtps://mx.example.com", "smtps://mx.example.com"},
		{"http://mx.example.com", ""},
		{"smtp://", ""},
		{"smtp://mx.example.com/path", ""},
		{"smtp://mx.example.com?x=1", ""},
		{"smtp://mx.example.com?starttls=required", "smtp://mx.example.com?starttls=required"},
		{"smtp://mx.example.com?starttls=optional", ""},
		{"smtp://mx.example.com?starttls=required&starttls=required", ""},
		{"smtp://mx.example.com?starttls=required&x=1", ""},
		{"smtps://mx.example.com?starttls=required", ""},
		{"smtp://user@mx.example.com", ""},
		{"mx.example.com:25", ""},
		{"smtp://user:p@ss%zz@mx.example.com", ""},
	} {
		tr, err := mail.NewSMTP(tc.url)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("NewSMTP(%q): got no error", tc.url)
		case tc.want != "" && err != nil:
			t.Errorf("NewSMTP(%q): %v", tc.url, err)
		case tc.want != "" && tr.String() != tc.want:
			t.Errorf("NewSMTP(%q): got %s, want %s", tc.url, tr, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "p@ss") {
			t.Errorf("NewSMTP(%q): the error shows the password: %v", tc.url, err)
		}
	}
}

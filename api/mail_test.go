package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/mail"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func init() { matrixRowSets = append(matrixRowSets, mailRows) }

// acceptAll is a transport that takes every mail.
type acceptAll struct{}

func (acceptAll) Deliver(context.Context, *mail.Message) error { return nil }

// devMailbox is the renderer of the test servers' dev mailbox.
func devMailbox(tb testing.TB) castellan.MailRenderer {
	tb.Helper()
	templates, err := mail.NewTemplates("https://castellan.test")
	if err != nil {
		tb.Fatal(err)
	}
	return templates
}

func mailRows() []matrixRow {
	// The mails carry invitation and reset links: an organization's
	// owner reads its own, not an admin (who may not manage owners);
	// every organization's are the operator's alone.
	return []matrixRow{
		{op: "list-dev-mailbox", build: func(f *fixture) request {
			return request{method: "GET", path: "/v1/dev/mailbox?org=" + f.org}
		}, allowed: []string{owner}},
		{op: "list-mail", build: func(f *fixture) request {
			return request{method: "GET", path: "/v1/mail?status=dead&org=" + f.org}
		}, allowed: []string{owner}},
		{op: "list-mail", variant: "every organization's", build: func(f *fixture) request {
			return request{method: "GET", path: "/v1/mail?status=dead"}
		}},
	}
}

// devMailResponse is the body of GET /v1/dev/mailbox.
type devMailResponse struct {
	Mails []struct {
		castellan.Mail
		Subject, Text, HTML, RenderError string
	}
	NextPageToken string
}

// mailEnv is an API on a fresh store with mails in its outbox: two for
// Acme (an invitation to Alice, then a notice to Bob) and, newest, an
// invitation for Globex.
type mailEnv struct {
	*env
	url                 string
	alice, bob, gustavo string // mail IDs
}

func forEachMailBackend(t *testing.T, fn func(t *testing.T, e *mailEnv)) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			url := b.URL(t)
			e := &mailEnv{env: newEnv(t, url), url: url}
			at := e.clock.Now()
			e.alice = sqltest.InsertMail(t, url, e.acme.OrganizationID, "alice@acme.example", castellan.MailInvitation,
				map[string]string{"name": "Alice", "organizationName": "Acme", "invitationToken": "csti_alice"}, at)
			e.bob = sqltest.InsertMail(t, url, e.acme.OrganizationID, "bob@acme.example", castellan.MailAccountNotice,
				map[string]string{"subject": "Welcome", "message": "Hello Bob."}, at.Add(time.Second))
			e.gustavo = sqltest.InsertMail(t, url, e.globex.OrganizationID, "gustavo@globex.example", castellan.MailInvitation,
				map[string]string{"name": "Gustavo", "organizationName": "Globex", "invitationToken": "csti_gustavo"}, at.Add(2*time.Second))
			fn(t, e)
		})
	}
}

func (e *mailEnv) mailbox(t *testing.T, token, query string) devMailResponse {
	t.Helper()
	resp := e.do(t, request{method: "GET", path: "/v1/dev/mailbox" + query, token: token})
	wantStatus(t, resp, http.StatusOK)
	var out devMailResponse
	resp.decode(t, &out)
	return out
}

func mailIDsOf(out devMailResponse) []string {
	var ids []string
	for _, m := range out.Mails {
		ids = append(ids, m.ID)
	}
	return ids
}

func wantMailIDs(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got mails %v, want %v", got, want)
	}
}

func TestDevMailbox(t *testing.T) {
	forEachMailBackend(t, func(t *testing.T, e *mailEnv) {
		// The operator sees every organization's mail, newest first.
		all := e.mailbox(t, e.operator, "")
		wantMailIDs(t, mailIDsOf(all), e.gustavo, e.bob, e.alice)
		alice := all.Mails[2]
		link := "https://castellan.test/invitations/accept?token=csti_alice"
		if alice.Subject != "You are invited to Acme on Castellan" || !strings.Contains(alice.Text, link) ||
			!strings.Contains(alice.HTML, `href="`+link+`"`) || alice.Status != castellan.MailPending ||
			alice.OrganizationID != e.acme.OrganizationID || alice.To != "alice@acme.example" || alice.RenderError != "" {
			t.Fatalf("got %+v", alice)
		}
		wantMailIDs(t, mailIDsOf(e.mailbox(t, e.operator, "?org="+e.globex.OrganizationID)), e.gustavo)
		wantMailIDs(t, mailIDsOf(e.mailbox(t, e.operator, "?to=bob@acme.example")), e.bob)

		wantMailIDs(t, mailIDsOf(e.mailbox(t, e.operator, "?org="+e.acme.OrganizationID+"&to=alice@acme.example")), e.alice)

		// An owner reads its own organization's mail (the guard's matrix
		// refuses the admin); not every organization's, nor another's.
		wantMailIDs(t, mailIDsOf(e.mailbox(t, e.acme.Token, "?org="+e.acme.OrganizationID)), e.bob, e.alice)
		for _, c := range []struct {
			token, query string
			status       int
			code         string
		}{
			{e.acme.Token, "", http.StatusForbidden, castellan.CodeOperatorRequired},
			{e.globex.Token, "?org=" + e.acme.OrganizationID, http.StatusNotFound, castellan.CodeOrgNotFound},
		} {
			resp := e.do(t, request{method: "GET", path: "/v1/dev/mailbox" + c.query, token: c.token})
			wantStatus(t, resp, c.status)
			if code := resp.problem(t).Code; code != c.code {
				t.Fatalf("%s: got %s, want %s", c.query, code, c.code)
			}
		}

		// Pages.
		first := e.mailbox(t, e.operator, "?page_size=2")
		wantMailIDs(t, mailIDsOf(first), e.gustavo, e.bob)
		if first.NextPageToken == "" {
			t.Fatal("no nextPageToken on a full page")
		}
		rest := e.mailbox(t, e.operator, "?page_size=2&page_token="+first.NextPageToken)
		wantMailIDs(t, mailIDsOf(rest), e.alice)
		if rest.NextPageToken != "" {
			t.Fatalf("got nextPageToken %q on the last page", rest.NextPageToken)
		}

		// Once the sender ran (dev transport), the mails are sent.
		e.clock.Advance(2 * time.Second) // all are due
		sender, err := mail.NewSender(e.db.Outbox(), devMailbox(t), acceptAll{}, mail.Options{Clock: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := sender.RunOnce(context.Background()); err != nil || n != 3 {
			t.Fatalf("sender: %d, %v", n, err)
		}
		acme := "&org=" + e.acme.OrganizationID
		wantMailIDs(t, mailIDsOf(e.mailbox(t, e.operator, "?status=sent"+acme)), e.bob, e.alice)
		wantMailIDs(t, mailIDsOf(e.mailbox(t, e.operator, "?status=pending"+acme)))
	})
}

func TestDevMailboxErrors(t *testing.T) {
	e := &mailEnv{env: newEnv(t, sqltest.SQLiteURL(t))}
	for _, tc := range []struct {
		query string
		field string
	}{
		{"?org=nope", "query.org"},
		{"?status=lost", "query.status"},
		{"?page_token=nope", "query.page_token"},
	} {
		resp := e.do(t, request{method: "GET", path: "/v1/dev/mailbox" + tc.query, token: e.operator})
		wantStatus(t, resp, http.StatusBadRequest)
		if p := resp.problem(t); len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: got %+v, want an error on %s", tc.query, p, tc.field)
		}
	}
	resp := e.do(t, request{method: "GET", path: "/v1/dev/mailbox"})
	wantStatus(t, resp, http.StatusUnauthorized)
}

// TestDevMailboxUnrenderable shows why a mail cannot be rendered instead
// of failing the list.
func TestDevMailboxUnrenderable(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	e := &mailEnv{env: newEnv(t, url)}
	id := sqltest.InsertMail(t, url, e.acme.OrganizationID, "alice@acme.example", castellan.MailInvitation, map[string]string{}, e.clock.Now())
	out := e.mailbox(t, e.operator, "")
	if len(out.Mails) != 1 || out.Mails[0].ID != id || !strings.Contains(out.Mails[0].RenderError, "link") || out.Mails[0].Subject != "" {
		t.Fatalf("got %+v", out)
	}
}

// TestDevMailboxOff: without a dev mailbox (SMTP configured) the route
// does not exist.
func TestDevMailboxOff(t *testing.T) {
	e := newEnv(t, sqltest.SQLiteURL(t))
	srv := e.store.Serve(t, e.db.Services(), apitest.Options{})
	req, err := http.NewRequest("GET", srv.URL+"/v1/dev/mailbox", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.operator)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("got %d, want 404", resp.StatusCode)
	}
}

// failingTransport refuses every message to one address, as a server
// that is down for it would, and accepts the others.
type failingTransport struct{ to string }

func (f failingTransport) Deliver(_ context.Context, msg *mail.Message) error {
	if msg.To.Address == f.to {
		return errors.New("smtp mx.example:25: 421 4.3.2 service not available")
	}
	return nil
}

// TestDeadLetters: a mail the sender gave up on is listed, with its last
// error and without its secrets, at GET /v1/mail?status=dead, for the
// operator only.
func TestDeadLetters(t *testing.T) {
	forEachMailBackend(t, func(t *testing.T, e *mailEnv) {
		sender, err := mail.NewSender(e.db.Outbox(), devMailbox(t), failingTransport{to: "alice@acme.example"}, mail.Options{
			MaxAttempts: 2, Clock: e.clock.Now, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		// First only Alice's invitation is due; a minute later, when it
		// is tried again, the others too.
		for _, want := range []int{1, 3} {
			if n, err := sender.RunOnce(context.Background()); err != nil || n != want {
				t.Fatalf("sender: %d, %v, want %d", n, err, want)
			}
			e.clock.Advance(time.Minute)
		}

		resp := e.do(t, request{method: "GET", path: "/v1/mail?status=dead", token: e.operator})
		wantStatus(t, resp, http.StatusOK)
		var dead struct {
			Mails         []castellan.Mail
			NextPageToken string
		}
		resp.decode(t, &dead)
		if len(dead.Mails) != 1 {
			t.Fatalf("got %d dead letters, want 1: %s", len(dead.Mails), resp.body)
		}
		m := dead.Mails[0]
		if m.ID != e.alice || m.Status != castellan.MailDead || m.Attempts != 2 || !strings.Contains(m.LastError, "421 4.3.2") ||
			m.Data["invitationToken"] != "[redacted]" || m.Data["name"] != "Alice" {
			t.Fatalf("got %+v", m)
		}

		resp = e.do(t, request{method: "GET", path: "/v1/mail?status=sent&org=" + e.acme.OrganizationID, token: e.operator})
		wantStatus(t, resp, http.StatusOK)
		var sent struct{ Mails []castellan.Mail }
		resp.decode(t, &sent)
		if len(sent.Mails) != 1 || sent.Mails[0].ID != e.bob {
			t.Fatalf("got sent %s, want Bob's mail", resp.body)
		}

		// Acme's owner reads its dead letter without the sender's error,
		// which names the operator's mail relay.
		resp = e.do(t, request{method: "GET", path: "/v1/mail?status=dead&org=" + e.acme.OrganizationID, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var owners struct{ Mails []castellan.Mail }
		resp.decode(t, &owners)
		if len(owners.Mails) != 1 || owners.Mails[0].ID != e.alice || owners.Mails[0].LastError != "" || owners.Mails[0].Status != castellan.MailDead {
			t.Fatalf("the owner's dead letters: %s", resp.body)
		}

		// Every organization's outbox is the operator's alone.
		for _, token := range []string{e.acme.Token, e.globex.Token} {
			resp := e.do(t, request{method: "GET", path: "/v1/mail?status=dead", token: token})
			wantStatus(t, resp, http.StatusForbidden)
			if code := resp.problem(t).Code; code != castellan.CodeOperatorRequired {
				t.Fatalf("got %s, want %s", code, castellan.CodeOperatorRequired)
			}
		}
		wantStatus(t, e.do(t, request{method: "GET", path: "/v1/mail?status=lost", token: e.operator}), http.StatusBadRequest)
	})
}

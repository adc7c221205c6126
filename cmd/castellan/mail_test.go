package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/emersion/go-smtp"
)

const testOrgID = "0190d3a8-0000-7000-8000-0000000000aa"

// inviteMail puts an invitation in the outbox of the store at url.
func inviteMail(t *testing.T, url, to string) string {
	t.Helper()
	return sqltest.InsertMail(t, url, testOrgID, to, castellan.MailInvitation,
		map[string]string{"name": "Alice", "invitationToken": "csti_serve"}, time.Now().Add(-time.Minute))
}

// TestServeDevMailbox: without --smtp the dev mailbox is served, and its
// links start with the listen address.
func TestServeDevMailbox(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	stdout := mustCastellan(t, noEnv, "bootstrap", "--operator", "--json", "--database", url)
	token := decodeOneObject(t, stdout, "operatorTokenId", "token")["token"]
	id := inviteMail(t, url, "alice@example.com")
	srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)

	resp, body := srv.do(t, http.MethodGet, "/v1/dev/mailbox", token, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/dev/mailbox: got %d %s", resp.StatusCode, body)
	}
	var out struct {
		Mails []struct {
			ID, Text string
		}
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.Mails) != 1 || out.Mails[0].ID != id {
		t.Fatalf("got %s (%v), want the invitation", body, err)
	}
	if link := srv.URL + "/invitations/accept?token=csti_serve"; !strings.Contains(out.Mails[0].Text, link) {
		t.Errorf("text lacks %s:\n%s", link, out.Mails[0].Text)
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
}

// TestServeSMTP: with --smtp, serve delivers the outbox to the server with
// --mail-from as sender and links under --public-url, and serves no dev
// mailbox.
func TestServeSMTP(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			stdout := mustCastellan(t, noEnv, "bootstrap", "--operator", "--json", "--database", url)
			token := decodeOneObject(t, stdout, "operatorTokenId", "token")["token"]
			id := inviteMail(t, url, "alice@example.com")
			mx, got := startSink(t)
			srv := startServe(t, envOf(map[string]string{"CASTELLAN_SMTP": "smtp://" + mx}),
				"--listen", "127.0.0.1:0", "--database", url,
				"--mail-from", "Acme IAM <iam@acme.example>", "--public-url", "https://iam.acme.example/")

			var msg sunk
			select {
			case msg = <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("no mail delivered\nstderr:\n%s", srv.stderr)
			}
			data := string(msg.data)
			if msg.from != "iam@acme.example" || !strings.Contains(data, "X-Castellan-Idempotency-Key: "+id) ||
				!strings.Contains(data, "https://iam.acme.example/invitations/accept?token=3Dcsti_serve") {
				t.Errorf("got from %s:\n%s", msg.from, data)
			}
			if resp, body := srv.do(t, http.MethodGet, "/v1/dev/mailbox", token, ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /v1/dev/mailbox with SMTP: got %d %s, want 404", resp.StatusCode, body)
			}
			if resp, body := srv.do(t, http.MethodGet, "/v1/mail?status=dead", token, ""); resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v1/mail: got %d %s, want 200", resp.StatusCode, body)
			}
			if err := srv.stop(); err != nil {
				t.Fatalf("serve after cancel: %v", err)
			}
		})
	}
}

func TestServeMailRefused(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"SMTPScheme", []string{"--smtp", "http://mx.example"}, "--smtp"},
		{"SMTPPath", []string{"--smtp", "smtp://mx.example/x"}, "--smtp"},
		{"From", []string{"--mail-from", "not an address"}, "--mail-from"},
		{"PublicURL", []string{"--public-url", "iam.example"}, "--public-url"},
		{"MaxAttempts", []string{"--mail-max-attempts", "0"}, "--mail-max-attempts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--database", sqltest.SQLiteURL(t)}, tt.args...)
			var stdout, stderr bytes.Buffer
			err := run(ctx, args, &stdout, &stderr, noEnv)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error: got %v, want one mentioning %q", err, tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
		})
	}
}

// sunk is a message the sink accepted.
type sunk struct {
	from string
	to   []string
	data []byte
}

// startSink runs an SMTP server on a loopback port that accepts every
// message and sends it on the returned channel.
func startSink(t *testing.T) (addr string, got <-chan sunk) {
	t.Helper()
	ch := make(chan sunk, 16)
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{got: ch}, nil }))
	s.Domain = "mx.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String(), ch
}

type sinkSession struct {
	got  chan<- sunk
	from string
	to   []string
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *sinkSession) Reset()                                      { s.from, s.to = "", nil }
func (s *sinkSession) Logout() error                               { return nil }

func (s *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.got <- sunk{from: s.from, to: s.to, data: data}
	return nil
}

// TestServeSecureCookies: behind a TLS-terminating proxy serve speaks
// plain HTTP, so an https --public-url is what makes the console's cookies
// Secure (and __Secure-prefixed); an http one leaves them as they were.
func TestServeSecureCookies(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	for _, tc := range []struct {
		publicURL string
		want      string
		secure    bool
	}{
		{"https://iam.acme.example/", "__Secure-castellan_sign_in", true},
		{"http://iam.acme.example/", "castellan_sign_in", false},
	} {
		srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url, "--public-url", tc.publicURL)
		resp, body := srv.do(t, http.MethodGet, "/console/sign-in", "", "")
		cookies := resp.Cookies()
		if resp.StatusCode != http.StatusOK || len(cookies) != 1 || cookies[0].Name != tc.want || cookies[0].Secure != tc.secure {
			t.Errorf("--public-url %s: got %d, cookies %v: %s", tc.publicURL, resp.StatusCode, cookies, body)
		}
		if err := srv.stop(); err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	}
}

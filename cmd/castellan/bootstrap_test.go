package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// ownerPassword is the password the bootstrap tests give the owner.
const ownerPassword = "Correct-Horse-7-battery"

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleSignIn signs in to the console of srv as a browser would and
// returns the home page it then shows.
func consoleSignIn(t *testing.T, srv *testServer, org, login, password string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: srv.client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	_, page := get("/console/sign-in")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("sign-in page without a token:\n%s", page)
	}
	resp, err := client.PostForm(srv.URL+"/console/sign-in", url.Values{"organization": {org}, "login": {login}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("sign-in: got %d to %q, want 303 to /console", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, home := get("/console")
	return home
}

// TestBootstrapPasswordLink: without a password, bootstrap prints a
// one-time link (and puts its mail in the outbox, the dev mailbox) where
// the owner sets its console password and can then sign in to the
// console; the link works once.
func TestBootstrapPasswordLink(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
			stdout := mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json",
				"--database", url, "--public-url", srv.URL)
			link := decodeOneObject(t, stdout, "organizationId", "ownerUserId", "token", "passwordLink")["passwordLink"]
			path, ok := strings.CutPrefix(link, srv.URL)
			if !ok || !strings.HasPrefix(path, "/invitations/accept?token=") {
				t.Fatalf("password link %q, want one to the invitation page of %s", link, srv.URL)
			}
			if got := queryStrings(t, openRaw(t, url), `SELECT to_address FROM outbox`); len(got) != 1 || got[0] != "owner@acme.example" {
				t.Fatalf("outbox: got %v, want the owner's link mail", got)
			}
			resp, page := srv.do(t, http.MethodGet, path, "", "")
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `name="password"`) {
				t.Fatalf("link page: got %d:\n%s", resp.StatusCode, page)
			}
			token := strings.TrimPrefix(path, "/invitations/accept?token=")
			accept := func() (int, string) {
				form := "token=" + token + "&password=" + ownerPassword + "&confirm=" + ownerPassword
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/invitations/accept", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := srv.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			if status, body := accept(); status != http.StatusOK || !strings.Contains(body, "is active") {
				t.Fatalf("set password: got %d:\n%s", status, body)
			}
			if status, _ := accept(); status != http.StatusConflict {
				t.Fatalf("second use of the link: got %d, want 409", status)
			}
			if home := consoleSignIn(t, srv, "Acme", "owner@acme.example", ownerPassword); !strings.Contains(home, "Signed in as <strong>owner@acme.example") {
				t.Fatalf("console home:\n%s", home)
			}
		})
	}
}

// TestBootstrapOwnerPasswordStdin: --owner-password-stdin takes the
// owner's password from standard input, under the password policy; a
// weak one is refused and creates nothing.
func TestBootstrapOwnerPasswordStdin(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			bootstrap := func(stdin string) (string, error) {
				var out, errOut bytes.Buffer
				err := runBootstrap(context.Background(), []string{"--org", "Acme", "--owner-email", "owner@acme.example", "--owner-password-stdin",
					"--json", "--database", url}, strings.NewReader(stdin), &out, &errOut, noEnv)
				return out.String(), err
			}
			if _, err := bootstrap("short\n"); err == nil || !strings.Contains(err.Error(), castellan.CodeUnsafePassword) || !strings.Contains(err.Error(), "--owner-password") {
				t.Fatalf("weak password: got %v, want %s naming --owner-password", err, castellan.CodeUnsafePassword)
			}
			wantRevision(t, sqltest.MustOpen(t, url, nil), 0)
			stdout, err := bootstrap(ownerPassword + "\n")
			if err != nil {
				t.Fatal(err)
			}
			decodeOneObject(t, stdout, "organizationId", "ownerUserId", "token")
			srv := startServe(t, noEnv, "--listen", "127.0.0.1:0", "--database", url)
			if home := consoleSignIn(t, srv, "Acme", "owner@acme.example", ownerPassword); !strings.Contains(home, "Signed in as") {
				t.Fatalf("console home:\n%s", home)
			}
		})
	}
}

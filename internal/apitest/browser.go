package apitest

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// ConsolePassword is the password of the console tests' users.
const ConsolePassword = "Correct-Horse-7-battery"

// Browser is a cookie-keeping client of the console that does not follow
// redirects, so that tests see each step.
type Browser struct {
	t      testing.TB
	Base   string
	Client *http.Client
	// CSRF is the form token of the last page that had one.
	CSRF string
}

// NewBrowser is a browser of srv with no cookies yet.
func NewBrowser(t testing.TB, srv *httptest.Server) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := *srv.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{t: t, Base: srv.URL, Client: &client}
}

// Page is a console answer.
type Page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
	Cookies  []*http.Cookie
}

// CSRFField finds the CSRF token of a form.
var CSRFField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Finish reads an answer, fails the test on a 5xx or a page without the
// pages' security headers, and notes the page's CSRF token.
func (b *Browser) Finish(resp *http.Response, err error) *Page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &Page{Status: resp.StatusCode, Header: resp.Header, Body: string(raw), Location: resp.Header.Get("Location"), Cookies: resp.Cookies()}
	if p.Status >= 500 {
		b.t.Fatalf("%s %s: got %d: %s", resp.Request.Method, resp.Request.URL.Path, p.Status, raw)
	}
	if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		if p.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(p.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			b.t.Fatalf("page headers: %v", p.Header)
		}
	}
	if m := CSRFField.FindStringSubmatch(p.Body); m != nil {
		b.CSRF = html.UnescapeString(m[1])
	}
	return p
}

// Get loads path.
func (b *Browser) Get(path string) *Page {
	b.t.Helper()
	return b.Finish(b.Client.Get(b.Base + path))
}

// Post sends form with the last CSRF token seen, unless form has one.
func (b *Browser) Post(path string, form url.Values, header ...string) *Page {
	b.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.CSRF)
	}
	req, err := http.NewRequest(http.MethodPost, b.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.Finish(b.Client.Do(req))
}

// SignIn fills in the sign-in form.
func (b *Browser) SignIn(org, login, password string) *Page {
	b.t.Helper()
	b.Get("/console/sign-in")
	return b.Post("/console/sign-in", url.Values{"organization": {org}, "login": {login}, "password": {password}})
}

// WantRedirect fails unless p redirects to path.
func WantRedirect(t testing.TB, p *Page, path string) {
	t.Helper()
	if p.Status != http.StatusSeeOther || p.Location != path {
		t.Fatalf("got %d to %q, want 303 to %s: %s", p.Status, p.Location, path, p.Body)
	}
}

// WantPage fails unless p has status and holds text.
func WantPage(t testing.TB, p *Page, status int, text string) {
	t.Helper()
	if p.Status != status || !strings.Contains(p.Body, text) {
		t.Fatalf("got %d, want %d with %q:\n%s", p.Status, status, text, p.Body)
	}
}

// ConsoleUser registers an active user of org with ConsolePassword.
func (e *Env) ConsoleUser(t testing.TB, orgID, login string, edit func(*castellan.UserRegistration)) *castellan.User {
	t.Helper()
	reg := castellan.UserRegistration{LoginID: login, Email: login + "@example.com", Name: "User " + login,
		Mode: castellan.ModePassword, Password: ConsolePassword, ConsoleAccess: true, APIAccess: true}
	if edit != nil {
		edit(&reg)
	}
	r, err := e.DB.Services().Users.RegisterUser(context.Background(), orgID, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r.User
}

// SignedIn is a browser of srv whose user completed its sign-in.
func SignedIn(t testing.TB, srv *httptest.Server, u *castellan.User) *Browser {
	t.Helper()
	b := NewBrowser(t, srv)
	WantRedirect(t, b.SignIn(u.OrganizationID, u.LoginID, ConsolePassword), "/console")
	return b
}

// SessionsOf lists u's live console sessions.
func (e *Env) SessionsOf(t testing.TB, u *castellan.User) []*castellan.Session {
	t.Helper()
	list, err := e.DB.Services().Sessions.FindSessions(context.Background(), u.OrganizationID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

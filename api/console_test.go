package api_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/guard"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// consolePassword is the password of the console tests' users.
const consolePassword = "Correct-Horse-7-battery"

// browser is a cookie-keeping client of the console that does not follow
// redirects, so that tests see each step.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
	// csrf is the form token of the last page that had one.
	csrf string
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := *srv.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, base: srv.URL, client: &client}
}

// page is a console answer.
type page struct {
	status   int
	header   http.Header
	body     string
	location string
	cookies  []*http.Cookie
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) finish(resp *http.Response, err error) *page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &page{status: resp.StatusCode, header: resp.Header, body: string(raw), location: resp.Header.Get("Location"), cookies: resp.Cookies()}
	if p.status >= 500 {
		b.t.Fatalf("%s %s: got %d: %s", resp.Request.Method, resp.Request.URL.Path, p.status, raw)
	}
	if strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		if p.header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(p.header.Get("Content-Security-Policy"), "default-src 'none'") {
			b.t.Fatalf("page headers: %v", p.header)
		}
	}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return p
}

func (b *browser) get(path string) *page {
	b.t.Helper()
	return b.finish(b.client.Get(b.base + path))
}

// post sends form with the last CSRF token seen, unless form has one.
func (b *browser) post(path string, form url.Values, header ...string) *page {
	b.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.finish(b.client.Do(req))
}

// signIn fills in the sign-in form.
func (b *browser) signIn(org, login, password string) *page {
	b.t.Helper()
	b.get("/console/sign-in")
	return b.post("/console/sign-in", url.Values{"organization": {org}, "login": {login}, "password": {password}})
}

// wantRedirect fails unless p redirects to path.
func wantRedirect(t *testing.T, p *page, path string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.location != path {
		t.Fatalf("got %d to %q, want 303 to %s: %s", p.status, p.location, path, p.body)
	}
}

func wantPage(t *testing.T, p *page, status int, text string) {
	t.Helper()
	if p.status != status || !strings.Contains(p.body, text) {
		t.Fatalf("got %d, want %d with %q:\n%s", p.status, status, text, p.body)
	}
}

// consoleUser registers an active user of org with consolePassword.
func (e *env) consoleUser(t *testing.T, orgID, login string, edit func(*castellan.UserRegistration)) *castellan.User {
	t.Helper()
	reg := castellan.UserRegistration{LoginID: login, Email: login + "@example.com", Name: "User " + login,
		Mode: castellan.ModePassword, Password: consolePassword, ConsoleAccess: true, APIAccess: true}
	if edit != nil {
		edit(&reg)
	}
	r, err := e.db.Services().Users.RegisterUser(system, orgID, reg)
	if err != nil {
		t.Fatal(err)
	}
	return r.User
}

// signedIn is a browser whose user completed its sign-in.
func (e *env) signedIn(t *testing.T, u *castellan.User) *browser {
	t.Helper()
	b := newBrowser(t, e.srv)
	wantRedirect(t, b.signIn(u.OrganizationID, u.LoginID, consolePassword), "/console")
	return b
}

func (e *env) sessionsOf(t *testing.T, u *castellan.User) []*castellan.Session {
	t.Helper()
	list, err := e.db.Services().Sessions.FindSessions(system, u.OrganizationID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestConsoleSignIn signs in, checks the cookie and the home page, and
// signs out.
func TestConsoleSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.consoleUser(t, e.acme.OrganizationID, "ann", nil)
		b := newBrowser(t, e.srv)
		wantRedirect(t, b.get("/console"), "/console/sign-in")
		p := b.signIn("Acme", "ANN@example.com", consolePassword)
		wantRedirect(t, p, "/console")
		var cookie *http.Cookie
		for _, c := range p.cookies {
			if c.Name == "castellan_session" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/console" || cookie.Secure ||
			!castellan.ValidSessionTokenSyntax(cookie.Value) {
			t.Fatalf("got session cookie %+v", cookie)
		}
		home := b.get("/console")
		wantPage(t, home, http.StatusOK, "Signed in as <strong>ann</strong>")
		if !strings.Contains(home.body, "Acme") || strings.Contains(home.body, cookie.Value) || strings.Contains(home.body, "<script") {
			t.Fatalf("home page:\n%s", home.body)
		}
		read, err := e.db.Services().Users.FindUserByID(system, e.acme.OrganizationID, u.ID, false)
		if err != nil || read.LastLoginAt == nil || !read.LastLoginAt.Equal(e.clock.Now()) {
			t.Fatalf("got last login %v, %v", read.LastLoginAt, err)
		}
		sessions := e.sessionsOf(t, u)
		if len(sessions) != 1 || sessions[0].ID == cookie.Value || sessions[0].SourceIP != "127.0.0.1" || sessions[0].UserAgent == "" {
			t.Fatalf("got sessions %+v", sessions)
		}

		// The session is the API's principal nowhere: its cookie is no
		// bearer token.
		resp := e.do(t, request{method: "GET", path: "/v1/organizations/" + e.acme.OrganizationID + "/users", token: cookie.Value})
		wantStatus(t, resp, http.StatusUnauthorized)

		wantRedirect(t, b.post("/console/sign-out", url.Values{}), "/console/sign-in")
		wantRedirect(t, b.get("/console"), "/console/sign-in")
		if len(e.sessionsOf(t, u)) != 0 {
			t.Fatal("sign-out left the session")
		}
		signOut := "iam:SignOut"
		events, _, err := e.db.Audit().FindAuditEvents(system, e.acme.OrganizationID, castellan.AuditFilter{Action: &signOut})
		if err != nil || len(events) != 1 || events[0].Actor.ID != u.ID {
			t.Fatalf("got sign-out events %+v, %v", events, err)
		}
	})
}

// TestConsoleSecureCookie: over TLS the console's cookies are Secure and
// __Secure-prefixed, and the console works with them.
func TestConsoleSecureCookie(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.consoleUser(t, e.acme.OrganizationID, "ann", nil)
		tlsSrv := httptest.NewTLSServer(e.srv.Config.Handler)
		t.Cleanup(tlsSrv.Close)
		b := newBrowser(t, tlsSrv)
		wantSecureCookies(t, b.get("/console/sign-in"), "__Secure-castellan_sign_in")
		p := b.post("/console/sign-in", url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {consolePassword}})
		wantRedirect(t, p, "/console")
		wantSecureCookies(t, p, "__Secure-castellan_session")
		wantPage(t, b.get("/console"), http.StatusOK, "Signed in as")
		wantRedirect(t, b.post("/console/sign-out", url.Values{}), "/console/sign-in")
		wantRedirect(t, b.get("/console"), "/console/sign-in")
	})
}

// wantSecureCookies fails unless p sets exactly the cookie name, Secure,
// HttpOnly, SameSite=Lax, for /console.
func wantSecureCookies(t *testing.T, p *page, name string) {
	t.Helper()
	if len(p.cookies) != 1 {
		t.Fatalf("got cookies %v, want %s", p.cookies, name)
	}
	c := p.cookies[0]
	if c.Name != name || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/console" {
		t.Fatalf("got cookie %+v, want %s Secure", c, name)
	}
}

// TestConsoleSecureCookieBehindProxy: serve speaks plain HTTP behind a
// TLS-terminating proxy; its cookies are Secure when the server is told it
// is reached over https (Config.SecureCookies, from an https --public-url)
// or when a trusted proxy says X-Forwarded-Proto: https, and not when
// another peer says so.
func TestConsoleSecureCookieBehindProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.consoleUser(t, e.acme.OrganizationID, "ann", nil)
		signInPage := func(srv *httptest.Server, proto string) *page {
			t.Helper()
			b := newBrowser(t, srv)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/console/sign-in", nil)
			if err != nil {
				t.Fatal(err)
			}
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			return b.finish(b.client.Do(req))
		}
		secure := e.serveWith(t, func(c *api.Config) { c.SecureCookies = true })
		wantSecureCookies(t, signInPage(secure, ""), "__Secure-castellan_sign_in")

		proxied := e.serveWith(t, func(c *api.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
		wantSecureCookies(t, signInPage(proxied, "https"), "__Secure-castellan_sign_in")
		wantSecureCookies(t, signInPage(proxied, "HTTPS, http"), "__Secure-castellan_sign_in")
		for name, p := range map[string]*page{
			"trusted proxy, http":   signInPage(proxied, "http"),
			"trusted proxy, none":   signInPage(proxied, ""),
			"untrusted peer, https": signInPage(e.srv, "https"),
		} {
			if len(p.cookies) != 1 || p.cookies[0].Name != "castellan_sign_in" || p.cookies[0].Secure {
				t.Fatalf("%s: got cookies %v, want castellan_sign_in, not Secure", name, p.cookies)
			}
		}

		// A whole sign-in through the trusted proxy, over https as far as
		// the browser knows: the prefixed cookies carry it.
		b := newBrowser(t, proxied)
		do := func(method, path string, form url.Values) *page {
			t.Helper()
			var body io.Reader
			if form != nil {
				form.Set("csrf", b.csrf)
				body = strings.NewReader(form.Encode())
			}
			req, err := http.NewRequest(method, proxied.URL+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			req.Header.Set("X-Forwarded-Proto", "https")
			// The browser's cookies, as it would send them over https.
			for _, c := range b.client.Jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
			client := *b.client
			client.Jar = nil
			resp, err := client.Do(req)
			if resp != nil {
				b.client.Jar.SetCookies(req.URL, resp.Cookies())
			}
			return b.finish(resp, err)
		}
		do("GET", "/console/sign-in", nil)
		p := do("POST", "/console/sign-in", url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {consolePassword}})
		wantRedirect(t, p, "/console")
		wantSecureCookies(t, p, "__Secure-castellan_session")
		wantPage(t, do("GET", "/console", nil), http.StatusOK, "Signed in as")
	})
}

// serveWith serves the env's store with the test configuration as edit
// changes it.
func (e *env) serveWith(t *testing.T, edit func(*api.Config)) *httptest.Server {
	t.Helper()
	services := e.db.Services()
	services.Tokens = e.cache
	authorizer := &authz.Authorizer{
		Grants: services.Grants, Groups: services.Groups, Roles: services.Roles, Projects: services.Projects,
		ServiceAccounts: services.ServiceAccounts, Catalog: services.Catalog, Now: e.clock.Now,
	}
	cfg := api.Config{Services: guard.New(services, authorizer), Authorizer: authorizer, Version: "test", Logger: slog.New(slog.DiscardHandler), Clock: e.clock.Now}
	edit(&cfg)
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// TestConsoleSignInRefusals: unknown organization, unknown user, wrong
// password, locked account, no console access, disabled or invited user
// all get the same answer; lockout after 5 failures; the lock ends after
// its period. Nothing but the audited failure is written.
func TestConsoleSignInRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", nil)
		e.consoleUser(t, org, "bob", func(r *castellan.UserRegistration) { r.ConsoleAccess = false })
		e.consoleUser(t, org, "cid", func(r *castellan.UserRegistration) { r.Disabled = true })
		e.consoleUser(t, org, "dan", func(r *castellan.UserRegistration) { r.Mode, r.Password = castellan.ModeInvitation, "" })
		b := newBrowser(t, e.srv)
		refused := func(org, login, password string) string {
			t.Helper()
			p := b.signIn(org, login, password)
			if p.status != http.StatusUnauthorized {
				t.Fatalf("%s/%s: got %d, want 401: %s", org, login, p.status, p.body)
			}
			for _, c := range p.cookies {
				if c.Name == "castellan_session" {
					t.Fatalf("a refused sign-in set a session cookie")
				}
			}
			return p.body
		}
		want := refused("No Such Org", "ann", consolePassword)
		for _, c := range [][3]string{
			{"Acme", "nobody", consolePassword},
			{org, "ann", "Wrong-Horse-7-battery"},
			{"Acme", "bob", consolePassword},
			{"Acme", "cid", consolePassword},
			{"Acme", "dan", consolePassword},
			{"Globex", "ann", consolePassword},
		} {
			if got := refused(c[0], c[1], c[2]); got != want {
				t.Fatalf("%v: the body differs:\n%s\nwant:\n%s", c, got, want)
			}
		}
		// Four more wrong passwords lock ann (five in the window); then
		// the right one gets the same answer.
		for range 4 {
			refused("Acme", "ann", "Wrong-Horse-7-battery")
		}
		if got := refused("Acme", "ann", consolePassword); got != want {
			t.Fatalf("locked: the body differs:\n%s", got)
		}
		if len(e.sessionsOf(t, ann)) != 0 {
			t.Fatal("a refused sign-in made a session")
		}
		if u, _ := e.db.Services().Users.FindUserByID(system, org, ann.ID, false); u.LastLoginAt != nil {
			t.Fatal("a refused sign-in set the last login")
		}
		e.clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console")
	})
}

// TestConsoleCSRF: forms without their token, with a wrong one or from
// another site are refused with 403 and change nothing.
func TestConsoleCSRF(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.consoleUser(t, e.acme.OrganizationID, "ann", nil)
		other := e.signedIn(t, ann)
		other.get("/console")
		b := e.signedIn(t, ann)
		b.get("/console/sessions")
		before := e.state(t)
		signInForm := url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {consolePassword}}
		fresh := newBrowser(t, e.srv)
		fresh.get("/console/sign-in")
		for name, p := range map[string]*page{
			"sign-in without token":     fresh.post("/console/sign-in", withCSRF(signInForm, "")),
			"sign-in with wrong token":  fresh.post("/console/sign-in", withCSRF(signInForm, strings.Repeat("A", 43))),
			"sign-in with no cookie":    newBrowser(t, e.srv).post("/console/sign-in", withCSRF(signInForm, fresh.csrf)),
			"sign-in cross-site":        fresh.post("/console/sign-in", withCSRF(signInForm, fresh.csrf), "Origin", "https://evil.example"),
			"revoke without token":      b.post("/console/sessions/revoke-others", url.Values{"csrf": {""}}),
			"revoke with wrong token":   b.post("/console/sessions/revoke-others", url.Values{"csrf": {strings.Repeat("A", 43)}}),
			"revoke with other's token": b.post("/console/sessions/revoke-others", url.Values{"csrf": {other.csrf}}),
			"revoke cross-site":         b.post("/console/sessions/revoke-others", url.Values{}, "Origin", "https://evil.example"),
			"sign-out fetch cross-site": b.post("/console/sign-out", url.Values{}, "Sec-Fetch-Site", "cross-site"),
			"revoke from opaque origin": b.post("/console/sessions/revoke-others", url.Values{}, "Origin", "null"),
		} {
			if p.status != http.StatusForbidden || len(p.cookies) != 0 {
				t.Fatalf("%s: got %d (cookies %v), want 403: %s", name, p.status, p.cookies, p.body)
			}
		}
		if after := e.state(t); !after.equal(before) || len(e.sessionsOf(t, ann)) != 2 {
			t.Fatalf("refused forms changed something: %+v → %+v", before, after)
		}
		// The same forms with their tokens work.
		wantRedirect(t, b.post("/console/sessions/revoke-others", url.Values{}, "Origin", e.srv.URL), "/console/sessions")
		if len(e.sessionsOf(t, ann)) != 1 {
			t.Fatal("revoke-others left the other session")
		}
		// A browser posting a page served with Referrer-Policy:
		// no-referrer says Origin: null, and Sec-Fetch-Site: same-origin.
		wantRedirect(t, b.post("/console/sessions/revoke-others", url.Values{}, "Origin", "null", "Sec-Fetch-Site", "same-origin"), "/console/sessions")
		wantRedirect(t, other.get("/console"), "/console/sign-in")
	})
}

func withCSRF(form url.Values, token string) url.Values {
	out := url.Values{"csrf": {token}}
	for k, v := range form {
		out[k] = v
	}
	return out
}

// TestConsoleIPAllowList: the user's console allow list applies at
// sign-in, where a refused address gets the one failure answer whatever
// the password and counts towards the lockout, and on every later
// request, which it refuses with 403.
func TestConsoleIPAllowList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", func(r *castellan.UserRegistration) {
			r.UseConsolePermitIP, r.ConsolePermitIPs = true, []string{"203.0.113.0/24"}
		})
		b := newBrowser(t, e.srv)
		right := b.signIn("Acme", "ann", consolePassword)
		wrong := b.signIn("Acme", "ann", "Wrong-Horse-7-battery")
		wantPage(t, wrong, http.StatusUnauthorized, "Sign-in failed")
		if right.status != wrong.status || right.body != wrong.body || strings.Contains(right.body, "not allowed") {
			t.Fatalf("a right password from a refused address is told apart: %d\n%s", right.status, right.body)
		}
		if len(e.sessionsOf(t, ann)) != 0 {
			t.Fatal("a refused sign-in made a session")
		}
		if reasons := e.signInFailures(t, ann); strings.Join(reasons, " ") != "ip_not_allowed wrong_password" {
			t.Fatalf("got audited failures %v", reasons)
		}
		// Three more from the refused address make five: ann is locked,
		// and stays locked once the address is allowed.
		for range 3 {
			wantPage(t, b.signIn("Acme", "ann", consolePassword), http.StatusUnauthorized, "Sign-in failed")
		}
		set := func(ranges ...string) {
			t.Helper()
			if _, err := e.db.Services().Users.UpdateUser(system, org, ann.ID, castellan.UserUpdate{ConsolePermitIPs: &ranges}); err != nil {
				t.Fatal(err)
			}
		}
		set("203.0.113.0/24", "127.0.0.0/8")
		wantPage(t, b.signIn("Acme", "ann", consolePassword), http.StatusUnauthorized, "Sign-in failed")
		e.clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console")
		wantPage(t, b.get("/console"), http.StatusOK, "Signed in as")
		set("203.0.113.0/24")
		before := e.state(t)
		wantPage(t, b.get("/console"), http.StatusForbidden, "not allowed")
		wantPage(t, b.post("/console/sign-out", url.Values{}), http.StatusForbidden, "not allowed")
		if after := e.state(t); !after.equal(before) || len(e.sessionsOf(t, ann)) != 1 {
			t.Fatal("a refused request changed something")
		}
	})
}

// TestConsolePasswordReset: a user whose password must be reset reaches
// only the password page until it sets a new one.
func TestConsolePasswordReset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.PasswordResetRequired = true })
		b := newBrowser(t, e.srv)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console/password")
		wantRedirect(t, b.get("/console"), "/console/password")
		wantRedirect(t, b.get("/console/sessions"), "/console/password")
		p := b.get("/console/password")
		wantPage(t, p, http.StatusOK, "Choose a new password")
		if strings.Contains(p.body, `name="current"`) {
			t.Fatal("the forced change asks for the current password")
		}
		if u, _ := e.db.Services().Users.FindUserByID(system, org, ann.ID, false); u.LastLoginAt != nil {
			t.Fatal("an unfinished sign-in set the last login")
		}
		before := e.state(t)
		wantPage(t, b.post("/console/password", url.Values{"password": {"Better-Horse-8"}, "confirm": {"Better-Horse-9"}}), http.StatusBadRequest, "differ")
		wantPage(t, b.post("/console/password", url.Values{"password": {"password"}, "confirm": {"password"}}), http.StatusBadRequest, "unsafe password")
		wantPage(t, b.post("/console/password", url.Values{"password": {consolePassword}, "confirm": {consolePassword}}), http.StatusBadRequest, "other than the current")
		if after := e.state(t); !after.equal(before) {
			t.Fatal("a refused password changed something")
		}
		const next = "Better-Horse-8-staple"
		wantRedirect(t, b.post("/console/password", url.Values{"password": {next}, "confirm": {next}}), "/console")
		wantPage(t, b.get("/console"), http.StatusOK, "Signed in as")
		u, _ := e.db.Services().Users.FindUserByID(system, org, ann.ID, false)
		if u.PasswordResetRequired || u.LastLoginAt == nil {
			t.Fatalf("got %+v", u)
		}
		wantPage(t, newBrowser(t, e.srv).signIn("Acme", "ann", consolePassword), http.StatusUnauthorized, "Sign-in failed")

		// A voluntary change needs the current password.
		wantPage(t, b.get("/console/password"), http.StatusOK, `name="current"`)
		const third = "Third-Horse-9-staple"
		wantPage(t, b.post("/console/password", url.Values{"current": {"Wrong-Horse-7"}, "password": {third}, "confirm": {third}}),
			http.StatusUnauthorized, "current password is wrong")
		wantPage(t, b.post("/console/password", url.Values{"current": {next}, "password": {third}, "confirm": {third}}), http.StatusOK, "is changed")
		wantRedirect(t, newBrowser(t, e.srv).signIn("Acme", "ann", third), "/console")
	})
}

// TestConsoleSessionEnds: a session is refused after its user is
// disabled or deleted, after it is revoked, and after its idle or
// absolute timeout.
func TestConsoleSessionEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		users := e.db.Services().Users
		disabled, deleted := e.consoleUser(t, org, "ann", nil), e.consoleUser(t, org, "bob", nil)
		a, b := e.signedIn(t, disabled), e.signedIn(t, deleted)
		status := castellan.UserDisabled
		if _, err := users.UpdateUser(system, org, disabled.ID, castellan.UserUpdate{Status: &status}); err != nil {
			t.Fatal(err)
		}
		if _, err := users.DeleteUser(system, org, deleted.ID, deleted.LoginID); err != nil {
			t.Fatal(err)
		}
		wantRedirect(t, a.get("/console"), "/console/sign-in")
		wantRedirect(t, b.get("/console"), "/console/sign-in")

		cid := e.consoleUser(t, org, "cid", nil)
		c1, c2 := e.signedIn(t, cid), e.signedIn(t, cid)
		p := c1.get("/console/sessions")
		wantPage(t, p, http.StatusOK, "This session")
		sessions := e.sessionsOf(t, cid)
		if len(sessions) != 2 || strings.Count(p.body, `name="session"`) != 1 {
			t.Fatalf("got sessions %+v:\n%s", sessions, p.body)
		}
		other := sessions[0].ID // newest: c2's
		wantRedirect(t, c1.post("/console/sessions/revoke", url.Values{"session": {other}}), "/console/sessions")
		wantRedirect(t, c2.get("/console"), "/console/sign-in")

		// The user revokes its own session by the API too.
		c3 := e.signedIn(t, cid)
		token, err := e.db.Services().Tokens.CreateUserToken(system, org, cid.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp := e.do(t, request{method: "GET", path: "/v1/organizations/" + org + "/users/" + cid.ID + "/sessions", token: token})
		wantStatus(t, resp, http.StatusOK)
		var out struct{ Sessions []castellan.Session }
		resp.decode(t, &out)
		if len(out.Sessions) != 2 || strings.Contains(string(resp.body), "csts_") {
			t.Fatalf("got %s", resp.body)
		}
		wantStatus(t, e.do(t, request{method: "DELETE", path: "/v1/organizations/" + org + "/users/" + cid.ID + "/sessions/" + out.Sessions[0].ID, token: token}), http.StatusOK)
		wantRedirect(t, c3.get("/console"), "/console/sign-in")

		// Idle: 30 minutes unused.
		wantPage(t, c1.get("/console"), http.StatusOK, "Signed in as")
		e.clock.Advance(castellan.DefaultSignInPolicy.IdleTimeout)
		wantRedirect(t, c1.get("/console"), "/console/sign-in")
		// Absolute: 12 hours however used.
		d := e.signedIn(t, cid)
		step := castellan.DefaultSignInPolicy.IdleTimeout / 2
		for elapsed := step; elapsed < castellan.DefaultSignInPolicy.AbsoluteTimeout; elapsed += step {
			e.clock.Advance(step)
			wantPage(t, d.get("/console"), http.StatusOK, "Signed in as")
		}
		e.clock.Advance(step)
		wantRedirect(t, d.get("/console"), "/console/sign-in")
	})
}

// TestSessionsCrossOrganization: neither a session nor a token of one
// organization reaches another's sessions.
func TestSessionsCrossOrganization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.consoleUser(t, e.acme.OrganizationID, "ann", nil)
		bob := e.consoleUser(t, e.globex.OrganizationID, "bob", nil)
		a := e.signedIn(t, ann)
		bobs := e.signedIn(t, bob)
		bobSession := e.sessionsOf(t, bob)[0].ID
		a.get("/console/sessions")
		before := e.state(t)
		wantPage(t, a.post("/console/sessions/revoke", url.Values{"session": {bobSession}}), http.StatusNotFound, "not found")
		acmeUser := "/v1/organizations/" + e.acme.OrganizationID + "/users/" + ann.ID + "/sessions"
		for _, req := range []request{
			{method: "GET", path: acmeUser},
			{method: "DELETE", path: acmeUser + "/" + e.sessionsOf(t, ann)[0].ID},
		} {
			req.token = e.globex.Token
			resp := e.do(t, req)
			wantStatus(t, resp, http.StatusNotFound)
			if code := resp.problem(t).Code; code != castellan.CodeOrgNotFound {
				t.Fatalf("got %s", code)
			}
		}
		// Globex's session named under Acme's user is not found either.
		resp := e.do(t, request{method: "DELETE", path: acmeUser + "/" + bobSession, token: e.acme.Token})
		wantStatus(t, resp, http.StatusNotFound)
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("cross-organization requests changed something")
		}
		wantPage(t, bobs.get("/console"), http.StatusOK, "Signed in as")
		wantPage(t, a.get("/console"), http.StatusOK, "Signed in as")
	})
}

func init() { matrixRowSets = append(matrixRowSets, sessionRows) }

// sessionRows are the role-matrix rows of the session endpoints, on a
// user without roles, so that the hierarchy principle never refuses.
func sessionRows() []matrixRow {
	withSession := func(f *fixture) (string, string) {
		user := f.newUser()
		ns, err := f.e.db.Services().Sessions.CreateSession(context.Background(), f.org, user, castellan.SessionComplete, "matrix", castellan.DefaultSignInPolicy)
		if err != nil {
			f.t.Fatal(err)
		}
		return user, ns.Session.ID
	}
	return []matrixRow{
		{op: "list-user-sessions", build: func(f *fixture) request {
			user, _ := withSession(f)
			return request{method: "GET", path: f.orgPath() + "/users/" + user + "/sessions"}
		}, allowed: []string{owner, admin, reader, userAdmin}},
		{op: "revoke-user-session", build: func(f *fixture) request {
			user, session := withSession(f)
			return request{method: "DELETE", path: f.orgPath() + "/users/" + user + "/sessions/" + session}
		}, allowed: []string{owner, admin, userAdmin}},
	}
}

var update = flag.Bool("update", false, "rewrite the golden console pages of testdata/console/")

// TestConsoleGolden compares the sign-in page, before and after a failed
// attempt, with testdata/console/<page>.golden (-update rewrites them);
// the CSRF token is masked.
func TestConsoleGolden(t *testing.T) {
	e := newEnv(t, sqltest.SQLiteURL(t))
	b := newBrowser(t, e.srv)
	for _, c := range []struct {
		name string
		page func() *page
	}{
		{"sign-in", func() *page { return b.get("/console/sign-in") }},
		{"sign-in-failed", func() *page { return b.signIn("Acme", "nobody", consolePassword) }},
	} {
		got := csrfField.ReplaceAllString(c.page().body, `name="csrf" value="CSRF"`)
		path := filepath.Join("testdata", "console", c.name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestConsoleGolden -update)", err)
		}
		if got != string(want) {
			t.Errorf("page %s differs from %s:\n%s", c.name, path, got)
		}
	}
}

// TestConsoleIPAllowListBehindProxy: the console allow list is matched
// against the forwarded client address when the peer is a trusted proxy,
// and X-Forwarded-For from any other peer is ignored.
func TestConsoleIPAllowListBehindProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", func(r *castellan.UserRegistration) {
			r.UseConsolePermitIP, r.ConsolePermitIPs = true, []string{"203.0.113.0/24"}
		})
		signIn := func(b *browser, forwarded string) *page {
			t.Helper()
			b.get("/console/sign-in")
			return b.post("/console/sign-in", url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {consolePassword}},
				"X-Forwarded-For", forwarded)
		}
		home := func(b *browser, forwarded string) *page {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, b.base+"/console", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Forwarded-For", forwarded)
			return b.finish(b.client.Do(req))
		}

		// The test's peer, 127.0.0.1, is no proxy of e.srv: the header
		// is a client's claim and changes nothing.
		// A refused address gets the one failure answer at sign-in.
		direct := newBrowser(t, e.srv)
		wantPage(t, signIn(direct, "203.0.113.7"), http.StatusUnauthorized, "Sign-in failed")

		proxied := e.serve(t, e.cache, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
		b := newBrowser(t, proxied)
		wantPage(t, signIn(b, "198.51.100.9"), http.StatusUnauthorized, "Sign-in failed")
		// The proxy appends the peer it saw; a client's own entry to the
		// left of it is not believed.
		wantPage(t, signIn(b, "203.0.113.7, 198.51.100.9"), http.StatusUnauthorized, "Sign-in failed")
		wantRedirect(t, signIn(b, "198.51.100.9, 203.0.113.7"), "/console")
		wantPage(t, home(b, "203.0.113.7"), http.StatusOK, "Signed in as")
		// The same session from an address outside the list is refused.
		wantPage(t, home(b, "198.51.100.9"), http.StatusForbidden, "198.51.100.9 is not allowed")
		if reasons := e.signInFailures(t, ann); strings.Join(reasons, " ") != "ip_not_allowed ip_not_allowed ip_not_allowed" {
			t.Fatalf("got audited failures %v", reasons)
		}
	})
}

// signInFailures are the reasons of u's audited sign-in failures, sorted.
func (e *env) signInFailures(t *testing.T, u *castellan.User) []string {
	t.Helper()
	var reasons []string
	for _, ev := range e.signInEvents(t, u) {
		var outcome, reason string
		json.Unmarshal(ev.Summary["outcome"], &outcome)
		json.Unmarshal(ev.Summary["reason"], &reason)
		if outcome == "failure" {
			reasons = append(reasons, reason)
		}
	}
	slices.Sort(reasons)
	return reasons
}

// signInEvents are u's sign-in audit events, newest first.
func (e *env) signInEvents(t *testing.T, u *castellan.User) []*castellan.AuditEvent {
	t.Helper()
	action := "iam:SignIn"
	events, _, err := e.db.Audit().FindAuditEvents(system, u.OrganizationID, castellan.AuditFilter{Action: &action, TargetID: &u.ID, PageSize: castellan.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestConsolePasswordFormLockout: the password form of a complete
// session counts wrong current passwords; the one that locks the account
// ends that session, and while the account is locked another session's
// right current password is refused with the same answer, audited, and
// changes nothing.
func TestConsolePasswordFormLockout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", nil)
		thief, owner := e.signedIn(t, ann), e.signedIn(t, ann)
		e.clock.Advance(time.Second) // failures count after the last sign-in
		thief.get("/console/password")
		owner.get("/console/password")
		const next = "Better-Horse-8-staple"
		guess := func(b *browser, current string) *page {
			t.Helper()
			return b.post("/console/password", url.Values{"current": {current}, "password": {next}, "confirm": {next}})
		}
		for i := range castellan.DefaultSignInPolicy.MaxFailures {
			wantPage(t, guess(thief, fmt.Sprintf("Guess-Horse-%d-battery", i)), http.StatusUnauthorized, "current password is wrong")
		}
		// The fifth locked ann and ended the guessing session, not the
		// other, complete one.
		wantRedirect(t, thief.get("/console/password"), "/console/sign-in")
		if sessions := e.sessionsOf(t, ann); len(sessions) != 1 {
			t.Fatalf("got sessions %+v, want the owner's only", sessions)
		}
		before := e.state(t)
		wantPage(t, guess(owner, consolePassword), http.StatusUnauthorized, "current password is wrong")
		after := e.state(t)
		if after.revision != before.revision+1 || after.events[org] != before.events[org]+1 {
			t.Fatalf("the refusal while locked wrote %+v after %+v, want one audited failure", after, before)
		}
		if reasons := e.signInFailures(t, ann); !slices.Contains(reasons, "locked") {
			t.Fatalf("got audited failures %v", reasons)
		}
		e.clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		// The password did not change.
		wantRedirect(t, newBrowser(t, e.srv).signIn("Acme", "ann", consolePassword), "/console")
	})
}

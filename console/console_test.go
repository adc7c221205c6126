package console_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
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
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestConsoleSignIn signs in, checks the cookie and the home page, and
// signs out.
func TestConsoleSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		u := e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
		b := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b.Get("/console"), "/console/sign-in")
		p := b.SignIn("Acme", "ANN@example.com", apitest.ConsolePassword)
		apitest.WantRedirect(t, p, "/console")
		var cookie *http.Cookie
		for _, c := range p.Cookies {
			if c.Name == "castellan_session" {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/console" || cookie.Secure ||
			!castellan.ValidSessionTokenSyntax(cookie.Value) {
			t.Fatalf("got session cookie %+v", cookie)
		}
		home := b.Get("/console")
		apitest.WantPage(t, home, http.StatusOK, "Signed in as <strong>ann</strong>")
		// One script, the console's own, which the policy allows by its
		// hash alone.
		csp := home.Header.Get("Content-Security-Policy")
		if !strings.Contains(home.Body, "Acme") || strings.Contains(home.Body, cookie.Value) || strings.Count(home.Body, "<script") != 1 ||
			!regexp.MustCompile(`; script-src 'sha256-[A-Za-z0-9+/]{43}='($|;)`).MatchString(csp) || strings.Contains(csp, "unsafe") {
			t.Fatalf("home page (CSP %q):\n%s", csp, home.Body)
		}
		read, err := e.DB.Services().Users.FindUserByID(system, e.Acme.OrganizationID, u.ID, false)
		if err != nil || read.LastLoginAt == nil || !read.LastLoginAt.Equal(e.Clock.Now()) {
			t.Fatalf("got last login %v, %v", read.LastLoginAt, err)
		}
		sessions := e.SessionsOf(t, u)
		if len(sessions) != 1 || sessions[0].ID == cookie.Value || sessions[0].SourceIP != "127.0.0.1" || sessions[0].UserAgent == "" {
			t.Fatalf("got sessions %+v", sessions)
		}

		// The session is the API's principal nowhere: its cookie is no
		// bearer token.
		if status := bearerStatus(t, e.srv, "/v1/organizations/"+e.Acme.OrganizationID+"/users", cookie.Value); status != http.StatusUnauthorized {
			t.Fatalf("the session's cookie as a bearer token: got %d, want 401", status)
		}

		apitest.WantRedirect(t, b.Post("/console/sign-out", url.Values{}), "/console/sign-in")
		apitest.WantRedirect(t, b.Get("/console"), "/console/sign-in")
		if len(e.SessionsOf(t, u)) != 0 {
			t.Fatal("sign-out left the session")
		}
		signOut := "iam:SignOut"
		events, _, err := e.DB.Audit().FindAuditEvents(system, e.Acme.OrganizationID, castellan.AuditFilter{Action: &signOut})
		if err != nil || len(events) != 1 || events[0].Actor.ID != u.ID {
			t.Fatalf("got sign-out events %+v, %v", events, err)
		}
	})
}

// TestConsoleSecureCookie: over TLS the console's cookies are Secure and
// __Secure-prefixed, and the console works with them.
func TestConsoleSecureCookie(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
		tlsSrv := httptest.NewTLSServer(e.srv.Config.Handler)
		t.Cleanup(tlsSrv.Close)
		b := apitest.NewBrowser(t, tlsSrv)
		wantSecureCookies(t, b.Get("/console/sign-in"), "__Secure-castellan_sign_in")
		p := b.Post("/console/sign-in", url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {apitest.ConsolePassword}})
		apitest.WantRedirect(t, p, "/console")
		// The session's start also forgets any project the browser's
		// last user worked in.
		wantSecureCookies(t, p, "__Secure-castellan_session", "__Secure-castellan_project")
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, "Signed in as")
		apitest.WantRedirect(t, b.Post("/console/sign-out", url.Values{}), "/console/sign-in")
		apitest.WantRedirect(t, b.Get("/console"), "/console/sign-in")
	})
}

// wantSecureCookies fails unless p sets exactly the cookies names, in
// that order, each Secure, HttpOnly, SameSite=Lax, for /console.
func wantSecureCookies(t *testing.T, p *apitest.Page, names ...string) {
	t.Helper()
	if len(p.Cookies) != len(names) {
		t.Fatalf("got cookies %v, want %s", p.Cookies, names)
	}
	for i, c := range p.Cookies {
		if c.Name != names[i] || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/console" {
			t.Fatalf("got cookie %+v, want %s Secure", c, names[i])
		}
	}
}

// TestConsoleSecureCookieBehindProxy: serve speaks plain HTTP behind a
// TLS-terminating proxy; its cookies are Secure when the server is told it
// is reached over https (Config.SecureCookies, from an https --public-url)
// or when a trusted proxy says X-Forwarded-Proto: https, and not when
// another peer says so.
func TestConsoleSecureCookieBehindProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
		signInPage := func(srv *httptest.Server, proto string) *apitest.Page {
			t.Helper()
			b := apitest.NewBrowser(t, srv)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/console/sign-in", nil)
			if err != nil {
				t.Fatal(err)
			}
			if proto != "" {
				req.Header.Set("X-Forwarded-Proto", proto)
			}
			return b.Finish(b.Client.Do(req))
		}
		secure := e.serveWith(t, func(c *apitest.Options) { c.SecureCookies = true })
		wantSecureCookies(t, signInPage(secure, ""), "__Secure-castellan_sign_in")

		proxied := e.serveWith(t, func(c *apitest.Options) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
		wantSecureCookies(t, signInPage(proxied, "https"), "__Secure-castellan_sign_in")
		wantSecureCookies(t, signInPage(proxied, "HTTPS, http"), "__Secure-castellan_sign_in")
		for name, p := range map[string]*apitest.Page{
			"trusted proxy, http":   signInPage(proxied, "http"),
			"trusted proxy, none":   signInPage(proxied, ""),
			"untrusted peer, https": signInPage(e.srv, "https"),
		} {
			if len(p.Cookies) != 1 || p.Cookies[0].Name != "castellan_sign_in" || p.Cookies[0].Secure {
				t.Fatalf("%s: got cookies %v, want castellan_sign_in, not Secure", name, p.Cookies)
			}
		}

		// A whole sign-in through the trusted proxy, over https as far as
		// the browser knows: the prefixed cookies carry it.
		b := apitest.NewBrowser(t, proxied)
		do := func(method, path string, form url.Values) *apitest.Page {
			t.Helper()
			var body io.Reader
			if form != nil {
				form.Set("csrf", b.CSRF)
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
			for _, c := range b.Client.Jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
			client := *b.Client
			client.Jar = nil
			resp, err := client.Do(req)
			if resp != nil {
				b.Client.Jar.SetCookies(req.URL, resp.Cookies())
			}
			return b.Finish(resp, err)
		}
		do("GET", "/console/sign-in", nil)
		p := do("POST", "/console/sign-in", url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {apitest.ConsolePassword}})
		apitest.WantRedirect(t, p, "/console")
		wantSecureCookies(t, p, "__Secure-castellan_session", "__Secure-castellan_project")
		apitest.WantPage(t, do("GET", "/console", nil), http.StatusOK, "Signed in as")
	})
}

// serveWith serves the env's store with the test configuration as edit
// changes it.

// TestConsoleSignInRefusals: unknown organization, unknown user, wrong
// password, locked account, no console access, disabled or invited user
// all get the same answer; lockout after 5 failures; the lock ends after
// its period. Nothing but the audited failure is written.
func TestConsoleSignInRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", nil)
		e.ConsoleUser(t, org, "bob", func(r *castellan.UserRegistration) { r.ConsoleAccess = false })
		e.ConsoleUser(t, org, "cid", func(r *castellan.UserRegistration) { r.Disabled = true })
		e.ConsoleUser(t, org, "dan", func(r *castellan.UserRegistration) { r.Mode, r.Password = castellan.ModeInvitation, "" })
		b := apitest.NewBrowser(t, e.srv)
		refused := func(org, login, password string) string {
			t.Helper()
			p := b.SignIn(org, login, password)
			if p.Status != http.StatusUnauthorized {
				t.Fatalf("%s/%s: got %d, want 401: %s", org, login, p.Status, p.Body)
			}
			for _, c := range p.Cookies {
				if c.Name == "castellan_session" {
					t.Fatalf("a refused sign-in set a session cookie")
				}
			}
			return p.Body
		}
		want := refused("No Such Org", "ann", apitest.ConsolePassword)
		for _, c := range [][3]string{
			{"Acme", "nobody", apitest.ConsolePassword},
			{org, "ann", "Wrong-Horse-7-battery"},
			{"Acme", "bob", apitest.ConsolePassword},
			{"Acme", "cid", apitest.ConsolePassword},
			{"Acme", "dan", apitest.ConsolePassword},
			{"Globex", "ann", apitest.ConsolePassword},
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
		if got := refused("Acme", "ann", apitest.ConsolePassword); got != want {
			t.Fatalf("locked: the body differs:\n%s", got)
		}
		if len(e.SessionsOf(t, ann)) != 0 {
			t.Fatal("a refused sign-in made a session")
		}
		if u, _ := e.DB.Services().Users.FindUserByID(system, org, ann.ID, false); u.LastLoginAt != nil {
			t.Fatal("a refused sign-in set the last login")
		}
		e.Clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console")
	})
}

// TestConsoleCSRF: forms without their token, with a wrong one or from
// another site are refused with 403 and change nothing.
func TestConsoleCSRF(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
		other := e.signedIn(t, ann)
		other.Get("/console")
		b := e.signedIn(t, ann)
		b.Get("/console/sessions")
		before := e.Snapshot(t)
		signInForm := url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {apitest.ConsolePassword}}
		fresh := apitest.NewBrowser(t, e.srv)
		fresh.Get("/console/sign-in")
		for name, p := range map[string]*apitest.Page{
			"sign-in without token":     fresh.Post("/console/sign-in", withCSRF(signInForm, "")),
			"sign-in with wrong token":  fresh.Post("/console/sign-in", withCSRF(signInForm, strings.Repeat("A", 43))),
			"sign-in with no cookie":    apitest.NewBrowser(t, e.srv).Post("/console/sign-in", withCSRF(signInForm, fresh.CSRF)),
			"sign-in cross-site":        fresh.Post("/console/sign-in", withCSRF(signInForm, fresh.CSRF), "Origin", "https://evil.example"),
			"revoke without token":      b.Post("/console/sessions/revoke-others", url.Values{"csrf": {""}}),
			"revoke with wrong token":   b.Post("/console/sessions/revoke-others", url.Values{"csrf": {strings.Repeat("A", 43)}}),
			"revoke with other's token": b.Post("/console/sessions/revoke-others", url.Values{"csrf": {other.CSRF}}),
			"revoke cross-site":         b.Post("/console/sessions/revoke-others", url.Values{}, "Origin", "https://evil.example"),
			"sign-out fetch cross-site": b.Post("/console/sign-out", url.Values{}, "Sec-Fetch-Site", "cross-site"),
			"revoke from opaque origin": b.Post("/console/sessions/revoke-others", url.Values{}, "Origin", "null"),
		} {
			if p.Status != http.StatusForbidden || len(p.Cookies) != 0 {
				t.Fatalf("%s: got %d (cookies %v), want 403: %s", name, p.Status, p.Cookies, p.Body)
			}
		}
		if after := e.Snapshot(t); !after.Equal(before) || len(e.SessionsOf(t, ann)) != 2 {
			t.Fatalf("refused forms changed something: %+v → %+v", before, after)
		}
		// The same forms with their tokens work.
		apitest.WantRedirect(t, b.Post("/console/sessions/revoke-others", url.Values{}, "Origin", e.srv.URL), "/console/sessions")
		if len(e.SessionsOf(t, ann)) != 1 {
			t.Fatal("revoke-others left the other session")
		}
		// A browser posting a page served with Referrer-Policy:
		// no-referrer says Origin: null, and Sec-Fetch-Site: same-origin.
		apitest.WantRedirect(t, b.Post("/console/sessions/revoke-others", url.Values{}, "Origin", "null", "Sec-Fetch-Site", "same-origin"), "/console/sessions")
		apitest.WantRedirect(t, other.Get("/console"), "/console/sign-in")
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
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", func(r *castellan.UserRegistration) {
			r.UseConsolePermitIP, r.ConsolePermitIPs = true, []string{"203.0.113.0/24"}
		})
		b := apitest.NewBrowser(t, e.srv)
		right := b.SignIn("Acme", "ann", apitest.ConsolePassword)
		wrong := b.SignIn("Acme", "ann", "Wrong-Horse-7-battery")
		apitest.WantPage(t, wrong, http.StatusUnauthorized, "Sign-in failed")
		if right.Status != wrong.Status || right.Body != wrong.Body || strings.Contains(right.Body, "not allowed") {
			t.Fatalf("a right password from a refused address is told apart: %d\n%s", right.Status, right.Body)
		}
		if len(e.SessionsOf(t, ann)) != 0 {
			t.Fatal("a refused sign-in made a session")
		}
		if reasons := e.signInFailures(t, ann); strings.Join(reasons, " ") != "ip_not_allowed wrong_password" {
			t.Fatalf("got audited failures %v", reasons)
		}
		// Three more from the refused address make five: ann is locked,
		// and stays locked once the address is allowed.
		for range 3 {
			apitest.WantPage(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), http.StatusUnauthorized, "Sign-in failed")
		}
		set := func(ranges ...string) {
			t.Helper()
			if _, err := e.DB.Services().Users.UpdateUser(system, org, ann.ID, castellan.UserUpdate{ConsolePermitIPs: &ranges}); err != nil {
				t.Fatal(err)
			}
		}
		set("203.0.113.0/24", "127.0.0.0/8")
		apitest.WantPage(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), http.StatusUnauthorized, "Sign-in failed")
		e.Clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console")
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, "Signed in as")
		set("203.0.113.0/24")
		before := e.Snapshot(t)
		apitest.WantPage(t, b.Get("/console"), http.StatusForbidden, "not allowed")
		apitest.WantPage(t, b.Post("/console/sign-out", url.Values{}), http.StatusForbidden, "not allowed")
		if after := e.Snapshot(t); !after.Equal(before) || len(e.SessionsOf(t, ann)) != 1 {
			t.Fatal("a refused request changed something")
		}
	})
}

// TestConsolePasswordReset: a user whose password must be reset reaches
// only the password page until it sets a new one.
func TestConsolePasswordReset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.PasswordResetRequired = true })
		b := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/password")
		apitest.WantRedirect(t, b.Get("/console"), "/console/password")
		apitest.WantRedirect(t, b.Get("/console/sessions"), "/console/password")
		p := b.Get("/console/password")
		apitest.WantPage(t, p, http.StatusOK, "Choose a new password")
		if strings.Contains(p.Body, `name="current"`) {
			t.Fatal("the forced change asks for the current password")
		}
		if u, _ := e.DB.Services().Users.FindUserByID(system, org, ann.ID, false); u.LastLoginAt != nil {
			t.Fatal("an unfinished sign-in set the last login")
		}
		before := e.Snapshot(t)
		apitest.WantPage(t, b.Post("/console/password", url.Values{"password": {"Better-Horse-8"}, "confirm": {"Better-Horse-9"}}), http.StatusBadRequest, "differ")
		apitest.WantPage(t, b.Post("/console/password", url.Values{"password": {"password"}, "confirm": {"password"}}), http.StatusBadRequest, "unsafe password")
		apitest.WantPage(t, b.Post("/console/password", url.Values{"password": {apitest.ConsolePassword}, "confirm": {apitest.ConsolePassword}}), http.StatusBadRequest, "other than the current")
		if after := e.Snapshot(t); !after.Equal(before) {
			t.Fatal("a refused password changed something")
		}
		const next = "Better-Horse-8-staple"
		apitest.WantRedirect(t, b.Post("/console/password", url.Values{"password": {next}, "confirm": {next}}), "/console")
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, "Signed in as")
		u, _ := e.DB.Services().Users.FindUserByID(system, org, ann.ID, false)
		if u.PasswordResetRequired || u.LastLoginAt == nil {
			t.Fatalf("got %+v", u)
		}
		apitest.WantPage(t, apitest.NewBrowser(t, e.srv).SignIn("Acme", "ann", apitest.ConsolePassword), http.StatusUnauthorized, "Sign-in failed")

		// A voluntary change needs the current password.
		apitest.WantPage(t, b.Get("/console/password"), http.StatusOK, `name="current"`)
		const third = "Third-Horse-9-staple"
		apitest.WantPage(t, b.Post("/console/password", url.Values{"current": {"Wrong-Horse-7"}, "password": {third}, "confirm": {third}}),
			http.StatusUnauthorized, "current password is wrong")
		apitest.WantPage(t, b.Post("/console/password", url.Values{"current": {next}, "password": {third}, "confirm": {third}}), http.StatusOK, "is changed")
		apitest.WantRedirect(t, apitest.NewBrowser(t, e.srv).SignIn("Acme", "ann", third), "/console")
	})
}

// TestConsoleSessionEnds: a session is refused after its user is
// disabled or deleted, after it is revoked, and after its idle or
// absolute timeout.
func TestConsoleSessionEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		users := e.DB.Services().Users
		disabled, deleted := e.ConsoleUser(t, org, "ann", nil), e.ConsoleUser(t, org, "bob", nil)
		a, b := e.signedIn(t, disabled), e.signedIn(t, deleted)
		status := castellan.UserDisabled
		if _, err := users.UpdateUser(system, org, disabled.ID, castellan.UserUpdate{Status: &status}); err != nil {
			t.Fatal(err)
		}
		if _, err := users.DeleteUser(system, org, deleted.ID, deleted.LoginID); err != nil {
			t.Fatal(err)
		}
		apitest.WantRedirect(t, a.Get("/console"), "/console/sign-in")
		apitest.WantRedirect(t, b.Get("/console"), "/console/sign-in")

		cid := e.ConsoleUser(t, org, "cid", nil)
		c1, c2 := e.signedIn(t, cid), e.signedIn(t, cid)
		p := c1.Get("/console/sessions")
		apitest.WantPage(t, p, http.StatusOK, "This session")
		sessions := e.SessionsOf(t, cid)
		if len(sessions) != 2 || strings.Count(p.Body, `name="session"`) != 1 {
			t.Fatalf("got sessions %+v:\n%s", sessions, p.Body)
		}
		other := sessions[0].ID // newest: c2's
		apitest.WantRedirect(t, c1.Post("/console/sessions/revoke", url.Values{"session": {other}}), "/console/sessions")
		apitest.WantRedirect(t, c2.Get("/console"), "/console/sign-in")

		// Idle: 30 minutes unused.
		apitest.WantPage(t, c1.Get("/console"), http.StatusOK, "Signed in as")
		e.Clock.Advance(castellan.DefaultSignInPolicy.IdleTimeout)
		apitest.WantRedirect(t, c1.Get("/console"), "/console/sign-in")
		// Absolute: 12 hours however used.
		d := e.signedIn(t, cid)
		step := castellan.DefaultSignInPolicy.IdleTimeout / 2
		for elapsed := step; elapsed < castellan.DefaultSignInPolicy.AbsoluteTimeout; elapsed += step {
			e.Clock.Advance(step)
			apitest.WantPage(t, d.Get("/console"), http.StatusOK, "Signed in as")
		}
		e.Clock.Advance(step)
		apitest.WantRedirect(t, d.Get("/console"), "/console/sign-in")
	})
}

var update = flag.Bool("update", false, "rewrite the golden console pages of testdata/")

// TestConsoleGolden compares the sign-in page, before and after a failed
// attempt, with testdata/<page>.golden (-update rewrites them);
// the CSRF token is masked.
func TestConsoleGolden(t *testing.T) {
	e := newEnv(t, sqltest.SQLiteURL(t))
	b := apitest.NewBrowser(t, e.srv)
	for _, c := range []struct {
		name string
		page func() *apitest.Page
	}{
		{"sign-in", func() *apitest.Page { return b.Get("/console/sign-in") }},
		{"sign-in-failed", func() *apitest.Page { return b.SignIn("Acme", "nobody", apitest.ConsolePassword) }},
	} {
		got := apitest.CSRFField.ReplaceAllString(c.page().Body, `name="csrf" value="CSRF"`)
		path := filepath.Join("testdata", c.name+".golden")
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
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", func(r *castellan.UserRegistration) {
			r.UseConsolePermitIP, r.ConsolePermitIPs = true, []string{"203.0.113.0/24"}
		})
		signIn := func(b *apitest.Browser, forwarded string) *apitest.Page {
			t.Helper()
			b.Get("/console/sign-in")
			return b.Post("/console/sign-in", url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {apitest.ConsolePassword}},
				"X-Forwarded-For", forwarded)
		}
		home := func(b *apitest.Browser, forwarded string) *apitest.Page {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, b.Base+"/console", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Forwarded-For", forwarded)
			return b.Finish(b.Client.Do(req))
		}

		// The test's peer, 127.0.0.1, is no proxy of e.srv: the header
		// is a client's claim and changes nothing.
		// A refused address gets the one failure answer at sign-in.
		direct := apitest.NewBrowser(t, e.srv)
		apitest.WantPage(t, signIn(direct, "203.0.113.7"), http.StatusUnauthorized, "Sign-in failed")

		proxied := e.serveWith(t, func(o *apitest.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
		b := apitest.NewBrowser(t, proxied)
		apitest.WantPage(t, signIn(b, "198.51.100.9"), http.StatusUnauthorized, "Sign-in failed")
		// The proxy appends the peer it saw; a client's own entry to the
		// left of it is not believed.
		apitest.WantPage(t, signIn(b, "203.0.113.7, 198.51.100.9"), http.StatusUnauthorized, "Sign-in failed")
		apitest.WantRedirect(t, signIn(b, "198.51.100.9, 203.0.113.7"), "/console")
		apitest.WantPage(t, home(b, "203.0.113.7"), http.StatusOK, "Signed in as")
		// The same session from an address outside the list is refused.
		apitest.WantPage(t, home(b, "198.51.100.9"), http.StatusForbidden, "198.51.100.9 is not allowed")
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
	events, _, err := e.DB.Audit().FindAuditEvents(system, u.OrganizationID, castellan.AuditFilter{Action: &action, TargetID: &u.ID, PageSize: castellan.MaxPageSize})
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
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", nil)
		thief, owner := e.signedIn(t, ann), e.signedIn(t, ann)
		e.Clock.Advance(time.Second) // failures count after the last sign-in
		thief.Get("/console/password")
		owner.Get("/console/password")
		const next = "Better-Horse-8-staple"
		guess := func(b *apitest.Browser, current string) *apitest.Page {
			t.Helper()
			return b.Post("/console/password", url.Values{"current": {current}, "password": {next}, "confirm": {next}})
		}
		for i := range castellan.DefaultSignInPolicy.MaxFailures {
			apitest.WantPage(t, guess(thief, fmt.Sprintf("Guess-Horse-%d-battery", i)), http.StatusUnauthorized, "current password is wrong")
		}
		// The fifth locked ann and ended the guessing session, not the
		// other, complete one.
		apitest.WantRedirect(t, thief.Get("/console/password"), "/console/sign-in")
		if sessions := e.SessionsOf(t, ann); len(sessions) != 1 {
			t.Fatalf("got sessions %+v, want the owner's only", sessions)
		}
		before := e.Snapshot(t)
		apitest.WantPage(t, guess(owner, apitest.ConsolePassword), http.StatusUnauthorized, "current password is wrong")
		after := e.Snapshot(t)
		if after.Revision != before.Revision+1 || after.Events[org] != before.Events[org]+1 {
			t.Fatalf("the refusal while locked wrote %+v after %+v, want one audited failure", after, before)
		}
		if reasons := e.signInFailures(t, ann); !slices.Contains(reasons, "locked") {
			t.Fatalf("got audited failures %v", reasons)
		}
		e.Clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		// The password did not change.
		apitest.WantRedirect(t, apitest.NewBrowser(t, e.srv).SignIn("Acme", "ann", apitest.ConsolePassword), "/console")
	})
}

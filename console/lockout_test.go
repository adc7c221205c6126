package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/web"
)

// parallelAttempts is how many attempts the lockout tests send at once.
const parallelAttempts = 25

// lockoutServer serves e's store behind a trusted proxy (the test's
// peer), so that X-Forwarded-For names each attempt's address, with a
// per-address limit no test run reaches: the lockout, not the rate
// limiter, is what must stop the attempts.
func (e *env) lockoutServer(t *testing.T) *browserFactory {
	t.Helper()
	srv := e.serveWith(t, func(c *apitest.Options) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.SignInPerSource = web.RateLimit{PerSecond: 1000, Burst: 1000}
	})
	return &browserFactory{t: t, new: func() *apitest.Browser { return apitest.NewBrowser(t, srv) }}
}

type browserFactory struct {
	t   *testing.T
	new func() *apitest.Browser
}

// inParallel sends the sign-in form of each password at once, each from
// its own browser (with its own sign-in page loaded first) and from the
// address addr(i), and returns the answers in the passwords' order.
func (f *browserFactory) inParallel(login string, passwords []string, addr func(i int) string) []*apitest.Page {
	f.t.Helper()
	browsers := make([]*apitest.Browser, len(passwords))
	for i := range browsers {
		browsers[i] = f.new()
		browsers[i].Get("/console/sign-in")
	}
	pages := make([]*apitest.Page, len(passwords))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, b := range browsers {
		wg.Go(func() {
			<-start
			pages[i] = b.Post("/console/sign-in", url.Values{"organization": {"Acme"}, "login": {login}, "password": {passwords[i]}},
				"X-Forwarded-For", addr(i))
		})
	}
	close(start)
	wg.Wait()
	return pages
}

// signInOutcomes are u's sign-in audit events in commit order, each as
// its outcome ("lockout" for the one that locked the account), a failure
// as its reason.
func (e *env) signInOutcomes(t *testing.T, u *castellan.User) []string {
	t.Helper()
	events := e.signInEvents(t, u)
	slices.Reverse(events) // oldest first
	var outcomes []string
	for _, ev := range events {
		var outcome, reason string
		json.Unmarshal(ev.Summary["outcome"], &outcome)
		json.Unmarshal(ev.Summary["reason"], &reason)
		switch outcome {
		case "failure":
			outcome = reason
		case "locked":
			outcome = "lockout"
		}
		outcomes = append(outcomes, outcome)
	}
	return outcomes
}

// wrongPasswords are parallelAttempts distinct wrong passwords.
func wrongPasswords() []string {
	wrong := make([]string, parallelAttempts)
	for i := range wrong {
		wrong[i] = fmt.Sprintf("Wrong-Horse-%d-battery", i)
	}
	return wrong
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestConsoleSignInParallelLockout: 25 wrong passwords sent at once for
// one account, from one address and from 25, verify exactly as many
// passwords as the policy allows (audited wrong_password) and refuse the
// rest as locked; the right password is then refused until the lock
// ends.
func TestConsoleSignInParallelLockout(t *testing.T) {
	policy := castellan.DefaultSignInPolicy
	for _, from := range []struct {
		name string
		addr func(i int) string
	}{
		{"OneAddress", func(int) string { return "203.0.113.7" }},
		{"ManyAddresses", func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }},
	} {
		t.Run(from.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				ann := e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
				browsers := e.lockoutServer(t)
				for i, p := range browsers.inParallel("ann", wrongPasswords(), from.addr) {
					apitest.WantPage(t, p, http.StatusUnauthorized, "Sign-in failed")
					if i == 0 && len(p.Cookies) != 0 {
						t.Fatalf("a refused sign-in set cookies %v", p.Cookies)
					}
				}
				outcomes := e.signInOutcomes(t, ann)
				if count(outcomes, "wrong_password") != policy.MaxFailures || count(outcomes, "lockout") != 1 ||
					count(outcomes, "locked") != parallelAttempts-policy.MaxFailures || len(outcomes) != parallelAttempts+1 {
					t.Fatalf("got audited outcomes %v, want %d wrong_password, one lockout and the rest refused as locked",
						outcomes, policy.MaxFailures)
				}
				right := browsers.inParallel("ann", []string{apitest.ConsolePassword}, from.addr)[0]
				apitest.WantPage(t, right, http.StatusUnauthorized, "Sign-in failed")
				if len(e.SessionsOf(t, ann)) != 0 {
					t.Fatal("a sign-in of the locked account made a session")
				}
				e.Clock.Advance(policy.LockoutPeriod)
				apitest.WantRedirect(t, browsers.inParallel("ann", []string{apitest.ConsolePassword}, from.addr)[0], "/console")
			})
		})
	}
}

// TestConsoleSignInParallelMixed: the right password sent among wrong
// ones never signs in after the lockout, whichever order the attempts
// run in, and no more wrong passwords than the policy allows are
// verified.
func TestConsoleSignInParallelMixed(t *testing.T) {
	policy := castellan.DefaultSignInPolicy
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
		browsers := e.lockoutServer(t)
		passwords := wrongPasswords()
		seen := 0
		for round := range 3 {
			passwords[(round*7+5)%parallelAttempts] = apitest.ConsolePassword
			pages := browsers.inParallel("ann", passwords, func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) })
			all := e.signInOutcomes(t, ann)
			outcomes := all[seen:]
			seen = len(all)
			if lock := slices.Index(outcomes, "lockout"); lock >= 0 && slices.Contains(outcomes[lock:], "success") {
				t.Fatalf("round %d: a sign-in succeeded after the lockout: %v", round, outcomes)
			}
			// A completed sign-in restarts the count.
			if n := count(outcomes, "wrong_password"); n > policy.MaxFailures*(1+count(outcomes, "success")) {
				t.Fatalf("round %d: %d wrong passwords verified: %v", round, n, outcomes)
			}
			signedIn := slices.IndexFunc(pages, func(p *apitest.Page) bool { return p.Status == http.StatusSeeOther }) >= 0
			if signedIn != slices.Contains(outcomes, "success") {
				t.Fatalf("round %d: signed in %v, audited %v", round, signedIn, outcomes)
			}
			e.Clock.Advance(policy.LockoutPeriod)
		}
	})
}

// TestConsolePasswordFormParallelLockout: 25 wrong current passwords
// sent at once to the password form verify as many as the policy allows;
// the rest are refused as locked, and so is then the right one, until
// the lock ends.
func TestConsolePasswordFormParallelLockout(t *testing.T) {
	policy := castellan.DefaultSignInPolicy
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", nil)
		sessions := make([]*apitest.Browser, parallelAttempts+1)
		for i := range sessions {
			sessions[i] = e.signedIn(t, ann)
			sessions[i].Get("/console/password")
		}
		e.Clock.Advance(time.Second) // failures count after the last sign-in
		const next = "Better-Horse-8-staple"
		guess := func(b *apitest.Browser, current string) *apitest.Page {
			return b.Post("/console/password", url.Values{"current": {current}, "password": {next}, "confirm": {next}})
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, b := range sessions[:parallelAttempts] {
			wg.Go(func() {
				<-start
				p := guess(b, fmt.Sprintf("Guess-Horse-%d-battery", i))
				if p.Status != http.StatusUnauthorized {
					t.Errorf("guess %d: got %d, want 401: %s", i, p.Status, p.Body)
				}
			})
		}
		close(start)
		wg.Wait()
		reasons := e.signInFailures(t, ann)
		if n := count(reasons, "wrong_current_password"); n != policy.MaxFailures || count(reasons, "locked") != parallelAttempts-n {
			t.Fatalf("got audited failures %v, want %d wrong_current_password and the rest refused as locked", reasons, policy.MaxFailures)
		}
		owner := sessions[parallelAttempts]
		apitest.WantPage(t, guess(owner, apitest.ConsolePassword), http.StatusUnauthorized, "current password is wrong")
		e.Clock.Advance(policy.LockoutPeriod)
		apitest.WantRedirect(t, apitest.NewBrowser(t, e.srv).SignIn("Acme", "ann", apitest.ConsolePassword), "/console")
	})
}

// TestConsoleSignInPlantedCookie: a sign-in cookie planted in the
// browser, with the form token set to its value (a double-submit pair of
// the planter's choosing), is refused and changes nothing; the pair the
// server minted works, and a cross-site post of it is still refused.
func TestConsoleSignInPlantedCookie(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ann := e.ConsoleUser(t, e.Acme.OrganizationID, "ann", nil)
		form := url.Values{"organization": {"Acme"}, "login": {"ann"}, "password": {apitest.ConsolePassword}}
		consoleURL, err := url.Parse(e.srv.URL + "/console")
		if err != nil {
			t.Fatal(err)
		}
		before := e.Snapshot(t)
		for _, planted := range []string{strings.Repeat("A", 43), "attacker-chosen"} {
			b := apitest.NewBrowser(t, e.srv)
			b.Client.Jar.SetCookies(consoleURL, []*http.Cookie{{Name: "castellan_sign_in", Value: planted, Path: "/console"}})
			if p := b.Post("/console/sign-in", withCSRF(form, planted)); p.Status != http.StatusForbidden || len(p.Cookies) != 0 {
				t.Fatalf("planted %q: got %d (cookies %v), want 403: %s", planted, p.Status, p.Cookies, p.Body)
			}
		}
		if after := e.Snapshot(t); !after.Equal(before) || len(e.SessionsOf(t, ann)) != 0 {
			t.Fatalf("a planted pair changed something: %+v → %+v", before, after)
		}
		b := apitest.NewBrowser(t, e.srv)
		b.Get("/console/sign-in")
		apitest.WantPage(t, b.Post("/console/sign-in", form, "Origin", "https://evil.example"), http.StatusForbidden, "another site")
		apitest.WantPage(t, b.Post("/console/sign-in", form, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, "another site")
		apitest.WantRedirect(t, b.Post("/console/sign-in", form, "Origin", e.srv.URL), "/console")
	})
}

// TestConsoleFrontDoor: a browser opening the server is sent to the
// console and on to its sign-in page, /console/ straight there; an API
// client gets a problem naming where the API is.
func TestConsoleFrontDoor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		b := apitest.NewBrowser(t, e.srv)
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		apitest.WantRedirect(t, b.Finish(b.Client.Do(req)), "/console")
		apitest.WantRedirect(t, b.Get("/console/"), "/console/sign-in")
		apitest.WantRedirect(t, b.Get("/console"), "/console/sign-in")
		apitest.WantPage(t, b.Get("/console/sign-in"), http.StatusOK, `name="csrf"`)
		req.Header.Set("Accept", "application/json")
		p := b.Finish(b.Client.Do(req))
		if p.Status != http.StatusNotFound || p.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(p.Body, "/v1/openapi.json") {
			t.Fatalf("got %d %s, want a 404 problem naming the API", p.Status, p.Body)
		}
	})
}

// TestConsoleSlash: /console/ sends a browser where /console would, in
// one step: to the sign-in page when signed out, to the session's step
// while signing in, home when signed in.
func TestConsoleSlash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		apitest.WantRedirect(t, apitest.NewBrowser(t, e.srv).Get("/console/"), "/console/sign-in")
		signedIn := e.signedIn(t, e.ConsoleUser(t, org, "ann", nil))
		apitest.WantRedirect(t, signedIn.Get("/console/"), "/console")
		apitest.WantPage(t, signedIn.Get("/console"), http.StatusOK, "Signed in as")
		mfa := apitest.NewBrowser(t, e.srv)
		e.ConsoleUser(t, org, "bob", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		apitest.WantRedirect(t, mfa.SignIn("Acme", "bob", apitest.ConsolePassword), "/console/mfa")
		apitest.WantRedirect(t, mfa.Get("/console/"), "/console/mfa")
	})
}

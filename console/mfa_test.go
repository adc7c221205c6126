package console_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/storetest"
)

var (
	secretField  = regexp.MustCompile(`Secret: <code>([A-Z2-7]+)</code>`)
	recoveryCode = regexp.MustCompile(`<li><code>([a-z2-7-]+)</code></li>`)
)

// totpNow is the TOTP code of secret at the test clock's time.
func (e *env) totpNow(t *testing.T, secret string) string {
	t.Helper()
	return storetest.TOTPCode(t, secret, e.Clock.Now())
}

// TestConsoleMFA: a user that must use MFA enrols at its first sign-in,
// then signs in with a code; a replayed code, a used recovery code and
// wrong codes are refused, and wrong codes lock the account.
func TestConsoleMFA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		b := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		apitest.WantRedirect(t, b.Get("/console"), "/console/mfa")
		apitest.WantRedirect(t, b.Get("/console/mfa"), "/console/mfa/setup")
		setupPage := func(p *apitest.Page, status int) string {
			t.Helper()
			apitest.WantPage(t, p, status, `<img src="data:image/png;base64,`)
			if !strings.Contains(p.Header.Get("Content-Security-Policy"), "img-src data:") || !strings.Contains(p.Body, "otpauth://totp/") {
				t.Fatalf("setup page: %v\n%s", p.Header, p.Body)
			}
			m := secretField.FindStringSubmatch(p.Body)
			if m == nil {
				t.Fatalf("no secret on the page:\n%s", p.Body)
			}
			return m[1]
		}
		secret := setupPage(b.Get("/console/mfa/setup"), http.StatusOK)
		secret = setupPage(b.Post("/console/mfa/setup", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		first := e.totpNow(t, secret)
		p := b.Post("/console/mfa/setup", url.Values{"code": {first}})
		apitest.WantPage(t, p, http.StatusOK, "shown only now")
		var codes []string
		for _, m := range recoveryCode.FindAllStringSubmatch(p.Body, -1) {
			codes = append(codes, m[1])
		}
		if len(codes) != castellan.RecoveryCodeCount {
			t.Fatalf("got recovery codes %v", codes)
		}
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, "Signed in as")

		// The code that confirmed the setup does not work again.
		b2 := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b2.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		apitest.WantPage(t, b2.Get("/console/mfa"), http.StatusOK, `name="code"`)
		apitest.WantPage(t, b2.Post("/console/mfa", url.Values{"code": {first}}), http.StatusUnauthorized, "not valid")
		apitest.WantRedirect(t, b2.Get("/console"), "/console/mfa")
		e.Clock.Advance(30 * time.Second)
		apitest.WantRedirect(t, b2.Post("/console/mfa", url.Values{"code": {e.totpNow(t, secret)}}), "/console")
		apitest.WantPage(t, b2.Get("/console"), http.StatusOK, "Signed in as")

		// A recovery code works once.
		b3 := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b3.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		b3.Get("/console/mfa")
		apitest.WantRedirect(t, b3.Post("/console/mfa", url.Values{"code": {codes[0]}}), "/console")
		e.Clock.Advance(time.Second)
		b4 := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b4.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		b4.Get("/console/mfa")
		apitest.WantPage(t, b4.Post("/console/mfa", url.Values{"code": {codes[0]}}), http.StatusUnauthorized, "not valid")

		// Wrong codes count towards the lockout: the fifth ends the
		// sign-in and locks the account.
		for range 3 {
			apitest.WantPage(t, b4.Post("/console/mfa", url.Values{"code": {"000000"}}), http.StatusUnauthorized, "not valid")
		}
		apitest.WantPage(t, b4.Post("/console/mfa", url.Values{"code": {"000000"}}), http.StatusUnauthorized, "Sign-in failed")
		apitest.WantRedirect(t, b4.Get("/console/mfa"), "/console/sign-in")
		apitest.WantPage(t, b4.SignIn("Acme", "ann", apitest.ConsolePassword), http.StatusUnauthorized, "Sign-in failed")
		if u, _ := e.DB.Services().Users.FindUserByID(system, org, ann.ID, false); u.LastLoginAt == nil {
			t.Fatal("no last login after the completed sign-ins")
		}

		// The organization's mandate sends users without a factor to the
		// setup, whatever their own mfaMandatory says.
		e.ConsoleUser(t, org, "bob", nil)
		required := true
		if _, err := e.DB.Services().Organizations.UpdateOrganization(system, org, castellan.OrganizationUpdate{MFARequired: &required}); err != nil {
			t.Fatal(err)
		}
		b5 := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b5.SignIn("Acme", "bob", apitest.ConsolePassword), "/console/mfa")
		apitest.WantRedirect(t, b5.Get("/console/mfa"), "/console/mfa/setup")
		setupPage(b5.Get("/console/mfa/setup"), http.StatusOK)
	})
}

// TestConsoleMFAConcurrentCodes: parallel wrong codes of one session get
// no more guesses than the lockout allows: at most MaxFailures are
// checked (each audited), the account is locked, and the session ended.
func TestConsoleMFAConcurrentCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", nil)
		mfa := e.DB.Services().MFA
		setup, err := mfa.BeginTOTP(system, org, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mfa.ConfirmTOTP(system, org, ann.ID, e.totpNow(t, setup.Secret), ""); err != nil {
			t.Fatal(err)
		}
		b := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		apitest.WantPage(t, b.Get("/console/mfa"), http.StatusOK, `name="code"`)
		e.Clock.Advance(30 * time.Second)

		const parallel = 20
		form := url.Values{"csrf": {b.CSRF}, "code": {"000000"}}.Encode()
		statuses := make([]int, parallel)
		errs := make([]error, parallel)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req, err := http.NewRequest(http.MethodPost, b.Base+"/console/mfa", strings.NewReader(form))
				if err != nil {
					errs[i] = err
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := b.Client.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil || statuses[i] != http.StatusUnauthorized && statuses[i] != http.StatusSeeOther {
				t.Fatalf("request %d: got %d, %v", i, statuses[i], err)
			}
		}
		checked := 0
		for _, reason := range e.signInFailures(t, ann) {
			if reason == "wrong_mfa_code" {
				checked++
			}
		}
		if limit := castellan.DefaultSignInPolicy.MaxFailures; checked != limit {
			t.Fatalf("%d of %d parallel codes were checked, want %d (MaxFailures)", checked, parallel, limit)
		}
		// Locked, and the sign-in is over: the right password and then a
		// right code get nowhere.
		apitest.WantRedirect(t, b.Get("/console/mfa"), "/console/sign-in")
		apitest.WantPage(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), http.StatusUnauthorized, "Sign-in failed")
		if len(e.SessionsOf(t, ann)) != 0 {
			t.Fatal("the lockout left a session")
		}
		e.Clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		b.Get("/console/mfa")
		apitest.WantRedirect(t, b.Post("/console/mfa", url.Values{"code": {e.totpNow(t, setup.Secret)}}), "/console")
	})
}

// TestConsoleMFASetupGetChangesNothing: GET /console/mfa/setup begins an
// enrolment only when none is pending; later GETs show the same key and
// write nothing, so that a link cannot replace the key being scanned. A
// new key takes the "Start over" POST with its CSRF token.
func TestConsoleMFASetupGetChangesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		ann := e.ConsoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		b := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b.SignIn("Acme", "ann", apitest.ConsolePassword), "/console/mfa")
		secretOf := func(p *apitest.Page) string {
			t.Helper()
			apitest.WantPage(t, p, http.StatusOK, `<img src="data:image/png;base64,`)
			m := secretField.FindStringSubmatch(p.Body)
			if m == nil || !strings.Contains(p.Body, "otpauth://totp/") || !strings.Contains(p.Body, `name="code"`) {
				t.Fatalf("setup page:\n%s", p.Body)
			}
			return m[1]
		}
		first := secretOf(b.Get("/console/mfa/setup"))
		before := e.Snapshot(t)
		for range 3 {
			if again := secretOf(b.Get("/console/mfa/setup")); again != first {
				t.Fatalf("a GET replaced the key %s with %s", first, again)
			}
		}
		if after := e.Snapshot(t); !after.Equal(before) {
			t.Fatalf("GETs of the setup page wrote: %+v → %+v", before, after)
		}
		begin := "iam:BeginTOTPEnrolment"
		events, _, err := e.DB.Audit().FindAuditEvents(system, org, castellan.AuditFilter{Action: &begin, TargetID: &ann.ID})
		if err != nil || len(events) != 1 {
			t.Fatalf("got %d enrolment events, %v; want 1", len(events), err)
		}

		// Start over: refused without its token or from another site,
		// changing nothing; with it, a new key.
		for name, p := range map[string]*apitest.Page{
			"no token":   b.Post("/console/mfa/setup/restart", url.Values{"csrf": {""}}),
			"cross-site": b.Post("/console/mfa/setup/restart", url.Values{}, "Sec-Fetch-Site", "cross-site"),
		} {
			if p.Status != http.StatusForbidden {
				t.Fatalf("%s: got %d, want 403", name, p.Status)
			}
		}
		if after := e.Snapshot(t); !after.Equal(before) {
			t.Fatal("a refused start-over changed something")
		}
		b.Get("/console/mfa/setup")
		apitest.WantRedirect(t, b.Post("/console/mfa/setup/restart", url.Values{}), "/console/mfa/setup")
		second := secretOf(b.Get("/console/mfa/setup"))
		if second == first {
			t.Fatal("start over kept the key")
		}
		apitest.WantPage(t, b.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, second)}}), http.StatusOK, "shown only now")
		apitest.WantPage(t, b.Get("/console"), http.StatusOK, "Signed in as")
	})
}

// TestConsoleOwnMFA: a signed-in user sets up its own second factor from
// its profile, giving its password (a mistyped code costs no failure; no
// password or a wrong one confirms nothing; every display shows a new
// key), its
// next sign-in asks for the code, and it moves the factor to a new key,
// after which the old key's codes no longer work. A forged post changes
// nothing.
func TestConsoleOwnMFA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.Acme.OrganizationID
		uma := e.ConsoleUser(t, org, "uma", nil)
		b := e.signedIn(t, uma)
		apitest.WantPage(t, b.Get("/console/profile"), http.StatusOK, `<a class="button" href="/console/mfa/setup">Set up a second factor</a>`)

		key := func(p *apitest.Page) string {
			t.Helper()
			m := secretField.FindStringSubmatch(p.Body)
			if m == nil {
				t.Fatalf("no key on the page (%d):\n%s", p.Status, p.Body)
			}
			return m[1]
		}
		p := b.Get("/console/mfa/setup")
		apitest.WantPage(t, p, http.StatusOK, `<a href="/console/profile">Cancel</a>`)
		noted := key(p)
		// Each display begins a new key, so a key another display showed
		// (one a borrowed session noted) no longer confirms.
		secret := key(b.Get("/console/mfa/setup"))
		if secret == noted {
			t.Fatal("a second display showed the same key")
		}
		pw := apitest.ConsolePassword
		p = b.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, noted)}, "password": {pw}})
		apitest.WantPage(t, p, http.StatusBadRequest, `<span class="field-error" id="code-error">`)

		// Without the form token, without the password or with a wrong
		// one: refused, and nothing confirmed; each refusal shows a new
		// key.
		secret = key(p)
		apitest.WantPage(t, b.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, secret)}, "password": {pw}, "csrf": {""}}), http.StatusForbidden, "")
		p = b.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, secret)}})
		apitest.WantPage(t, p, http.StatusBadRequest, `<span class="field-error" id="password-error">give your current password to change your second factor</span>`)
		p = b.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, key(p))}, "password": {pw + "x"}})
		apitest.WantPage(t, p, http.StatusForbidden, `<span class="field-error" id="password-error">is not your password</span>`)
		shown := key(p)
		p = b.Post("/console/mfa/setup", url.Values{"code": {"000000"}, "password": {pw}})
		apitest.WantPage(t, p, http.StatusBadRequest, `<span class="field-error" id="code-error">`)
		if secret = key(p); secret == shown {
			t.Fatal("a mistyped code showed the same key again")
		}
		st, err := e.DB.Services().MFA.MFAStatus(system, org, uma.ID)
		if err != nil || st.Enrolled {
			t.Fatalf("after refused confirmations: %+v, %v", st, err)
		}
		if sessions := e.SessionsOf(t, uma); len(sessions) != 1 {
			t.Fatalf("the mistyped code ended the session: %d sessions", len(sessions))
		}

		p = b.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, secret)}, "password": {pw}})
		apitest.WantPage(t, p, http.StatusOK, `<a href="/console/profile?mfa=1">Continue</a>`)
		apitest.WantPage(t, b.Get("/console/profile?mfa=1"), http.StatusOK, "Your second factor is set up")
		apitest.WantPage(t, b.Get("/console/profile"), http.StatusOK, "Move it to another authenticator app")

		// The next sign-in asks for the code.
		e.Clock.Advance(30 * time.Second)
		b2 := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b2.SignIn("Acme", "uma", apitest.ConsolePassword), "/console/mfa")
		b2.Get("/console/mfa")
		apitest.WantRedirect(t, b2.Post("/console/mfa", url.Values{"code": {e.totpNow(t, secret)}}), "/console")

		// Moving to a new key: the old one works until the new one is
		// confirmed, then no more.
		p = b2.Get("/console/mfa/setup")
		next := secretField.FindStringSubmatch(p.Body)[1]
		if next == secret {
			t.Fatal("the replacement shows the current key")
		}
		e.Clock.Advance(30 * time.Second)
		apitest.WantPage(t, b2.Post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, next)}, "password": {pw}}), http.StatusOK, "shown only now")
		e.Clock.Advance(30 * time.Second)
		b3 := apitest.NewBrowser(t, e.srv)
		apitest.WantRedirect(t, b3.SignIn("Acme", "uma", apitest.ConsolePassword), "/console/mfa")
		b3.Get("/console/mfa")
		apitest.WantPage(t, b3.Post("/console/mfa", url.Values{"code": {e.totpNow(t, secret)}}), http.StatusUnauthorized, "not valid")
		apitest.WantRedirect(t, b3.Post("/console/mfa", url.Values{"code": {e.totpNow(t, next)}}), "/console")
	})
}

// TestConsoleOwnMFAPasswordLockout: wrong passwords given to confirm a
// new second factor count towards the lockout like a sign-in's. Sent 25
// at once from 25 sessions of the user, as many are checked as the
// policy allows and the rest are refused as locked; nothing is enrolled;
// the failure that locked the account ended the session that gave it, and
// the right password then signs in no more.
func TestConsoleOwnMFAPasswordLockout(t *testing.T) {
	policy := castellan.DefaultSignInPolicy
	forEachBackend(t, func(t *testing.T, e *env) {
		vic := e.ConsoleUser(t, e.Acme.OrganizationID, "vic", nil)
		sessions := make([]*apitest.Browser, parallelAttempts)
		for i := range sessions {
			sessions[i] = e.signedIn(t, vic)
			sessions[i].Get("/console/mfa/setup")
		}
		e.Clock.Advance(time.Second) // failures count after the last sign-in
		pages := make([]*apitest.Page, parallelAttempts)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, b := range sessions {
			wg.Go(func() {
				<-start
				pages[i] = b.Post("/console/mfa/setup", url.Values{"code": {"000000"}, "password": {fmt.Sprintf("Guess-Horse-%d-battery", i)}})
			})
		}
		close(start)
		wg.Wait()
		ended := 0
		for i, p := range pages {
			switch {
			case p.Status == http.StatusUnauthorized && strings.Contains(p.Body, signInFailedAlert):
				ended++
			case p.Status != http.StatusForbidden || !strings.Contains(p.Body, "is not your password"):
				t.Errorf("guess %d: got %d:\n%s", i, p.Status, p.Body)
			}
		}
		reasons := e.signInFailures(t, vic)
		if n := count(reasons, "wrong_current_password"); n != policy.MaxFailures || count(reasons, "locked") != parallelAttempts-n || ended != 1 {
			t.Fatalf("got audited failures %v and %d sessions ended, want %d wrong_current_password, the rest refused as locked, and one session ended",
				reasons, ended, policy.MaxFailures)
		}
		if sessions := e.SessionsOf(t, vic); len(sessions) != parallelAttempts-1 {
			t.Fatalf("got %d sessions, want all but the one that locked the account", len(sessions))
		}
		if st, err := e.DB.Services().MFA.MFAStatus(system, e.Acme.OrganizationID, vic.ID); err != nil || st.Enrolled {
			t.Fatalf("after the guesses: %+v, %v", st, err)
		}
		apitest.WantPage(t, apitest.NewBrowser(t, e.srv).SignIn("Acme", "vic", apitest.ConsolePassword), http.StatusUnauthorized, signInFailedAlert)
	})
}
